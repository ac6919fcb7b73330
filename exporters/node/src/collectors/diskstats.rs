//! `diskstats`: /proc/diskstats per block device, plus `node_disk_info` (and filesystem /
//! device-mapper info) from udev's database.

use std::path::Path;

use expo::{MetricSet, MetricType};
use regex::Regex;

use crate::util::{read_into, regex};
use crate::{Collector, Config, Error};

/// node_exporter 1.5's default `--collector.diskstats.device-exclude`.
pub const DEFAULT_DEVICE_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

const SECONDS_PER_TICK: f64 = 1.0 / 1000.0;
const SECTOR_SIZE: f64 = 512.0;

/// (name, help, type, factor) for the 17 /proc/diskstats fields, in order.
const FIELDS: [(&str, &str, MetricType, f64); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        MetricType::Counter,
        SECTOR_SIZE,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        MetricType::Counter,
        SECTOR_SIZE,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
];

/// The `diskstats` collector.
pub struct Diskstats {
    exclude: Regex,
    buf: String,
    udev: String,
    path: String,
}

impl Diskstats {
    /// With the device filter of `cfg`.
    pub fn new(cfg: &Config) -> Result<Diskstats, Error> {
        Ok(Diskstats {
            exclude: regex(
                "collector.diskstats.device-exclude",
                &cfg.diskstats_device_exclude,
            )?,
            buf: String::new(),
            udev: String::new(),
            path: String::new(),
        })
    }
}

/// The value of `E:key=` in a udev database file.
fn udev_prop<'a>(db: &'a str, key: &str) -> &'a str {
    db.lines()
        .filter_map(|l| l.strip_prefix("E:"))
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or("")
}

impl Collector for Diskstats {
    fn name(&self) -> &'static str {
        "diskstats"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("diskstats");
        read_into(&path, &mut self.buf)?;
        let mut vals = [0f64; 17];
        for line in self.buf.lines() {
            let mut f = line.split_ascii_whitespace();
            let (Some(major), Some(minor), Some(dev)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if self.exclude.is_match(dev) {
                continue;
            }
            let mut n = 0;
            for t in f.take(17) {
                vals[n] = t
                    .parse()
                    .map_err(|_| Error::parse(&path, format!("bad value {t:?} for {dev}")))?;
                n += 1;
            }
            self.path.clear();
            self.path.push('b');
            self.path.push_str(major);
            self.path.push(':');
            self.path.push_str(minor);
            let db = Path::new(&cfg.udev_data).join(&self.path);
            if read_into(&db, &mut self.udev).is_err() {
                self.udev.clear();
            }
            let u = self.udev.as_str();
            out.family(
                "node_disk_info",
                "Info of /sys/block/<block_device>.",
                MetricType::Gauge,
            )
            .add(
                &[
                    ("device", dev),
                    ("major", major),
                    ("minor", minor),
                    ("path", udev_prop(u, "ID_PATH")),
                    ("wwn", udev_prop(u, "ID_WWN")),
                    ("model", udev_prop(u, "ID_MODEL")),
                    ("serial", udev_prop(u, "ID_SERIAL_SHORT")),
                    ("revision", udev_prop(u, "ID_REVISION")),
                ],
                1.0,
            );
            for ((name, help, kind, factor), v) in FIELDS.iter().zip(&vals).take(n) {
                out.family(name, help, *kind)
                    .add(&[("device", dev)], v * factor);
            }
            let fs_type = udev_prop(u, "ID_FS_TYPE");
            if !fs_type.is_empty() {
                out.family(
                    "node_disk_filesystem_info",
                    "Info about disk filesystem.",
                    MetricType::Gauge,
                )
                .add(
                    &[
                        ("device", dev),
                        ("type", fs_type),
                        ("usage", udev_prop(u, "ID_FS_USAGE")),
                        ("uuid", udev_prop(u, "ID_FS_UUID")),
                        ("version", udev_prop(u, "ID_FS_VERSION")),
                    ],
                    1.0,
                );
            }
            let dm = udev_prop(u, "DM_NAME");
            if !dm.is_empty() {
                out.family(
                    "node_disk_device_mapper_info",
                    "Info about disk device mapper.",
                    MetricType::Gauge,
                )
                .add(
                    &[
                        ("device", dev),
                        ("name", dm),
                        ("uuid", udev_prop(u, "DM_UUID")),
                        ("vg_name", udev_prop(u, "DM_VG_NAME")),
                        ("lv_name", udev_prop(u, "DM_LV_NAME")),
                        ("lv_layer", udev_prop(u, "DM_LV_LAYER")),
                    ],
                    1.0,
                );
            }
        }
        Ok(())
    }
}
