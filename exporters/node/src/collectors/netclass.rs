//! `netclass`: /sys/class/net/<iface> properties (`node_network_*`).

use std::fs;

use expo::{MetricSet, MetricType};
use regex::Regex;

use crate::util::{parse_int_auto, read_trimmed, regex};
use crate::{Collector, Config, Error};

/// (metric suffix, sysfs file, type) of the numeric properties node_exporter exports.
const PROPS: [(&str, &str, MetricType); 17] = [
    ("address_assign_type", "addr_assign_type", MetricType::Gauge),
    ("carrier", "carrier", MetricType::Gauge),
    (
        "carrier_changes_total",
        "carrier_changes",
        MetricType::Counter,
    ),
    (
        "carrier_up_changes_total",
        "carrier_up_count",
        MetricType::Counter,
    ),
    (
        "carrier_down_changes_total",
        "carrier_down_count",
        MetricType::Counter,
    ),
    ("device_id", "dev_id", MetricType::Gauge),
    ("dormant", "dormant", MetricType::Gauge),
    ("flags", "flags", MetricType::Gauge),
    ("iface_id", "ifindex", MetricType::Gauge),
    ("iface_link", "iflink", MetricType::Gauge),
    ("iface_link_mode", "link_mode", MetricType::Gauge),
    ("mtu_bytes", "mtu", MetricType::Gauge),
    ("name_assign_type", "name_assign_type", MetricType::Gauge),
    ("net_dev_group", "netdev_group", MetricType::Gauge),
    ("speed_bytes", "speed", MetricType::Gauge),
    ("transmit_queue_length", "tx_queue_len", MetricType::Gauge),
    ("protocol_type", "type", MetricType::Gauge),
];

/// The `netclass` collector.
pub struct Netclass {
    ignored: Regex,
    names: Vec<(String, String)>,
}

impl Netclass {
    /// With the device filter of `cfg`.
    pub fn new(cfg: &Config) -> Result<Netclass, Error> {
        Ok(Netclass {
            ignored: regex(
                "collector.netclass.ignored-devices",
                &cfg.netclass_ignored_devices,
            )?,
            names: PROPS
                .iter()
                .map(|(k, _, _)| {
                    (
                        format!("node_network_{k}"),
                        format!("Network device property: {k}"),
                    )
                })
                .collect(),
        })
    }
}

impl Collector for Netclass {
    fn name(&self) -> &'static str {
        "netclass"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let dir = cfg.sys("class/net");
        let rd = fs::read_dir(&dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                Error::NoData(format!("{}: {e}", dir.display()))
            }
            _ => Error::io(&dir, e),
        })?;
        let mut devices: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|d| !self.ignored.is_match(d))
            .collect();
        devices.sort();
        for dev in &devices {
            let d = dir.join(dev);
            let text = |f: &str| read_trimmed(&d.join(f)).unwrap_or_default();
            let operstate = text("operstate");
            out.family(
                "node_network_up",
                "Value is 1 if operstate is 'up', 0 otherwise.",
                MetricType::Gauge,
            )
            .add(
                &[("device", dev)],
                if operstate == "up" { 1.0 } else { 0.0 },
            );
            out.family(
                "node_network_info",
                "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
                MetricType::Gauge,
            )
            .add(
                &[
                    ("device", dev),
                    ("address", &text("address")),
                    ("broadcast", &text("broadcast")),
                    ("duplex", &text("duplex")),
                    ("operstate", &operstate),
                    ("ifalias", &text("ifalias")),
                ],
                1.0,
            );
            for ((_, file, kind), (name, help)) in PROPS.iter().zip(&self.names) {
                let Some(v) = read_trimmed(&d.join(file)).and_then(|s| parse_int_auto(&s)) else {
                    continue;
                };
                let v = if *file == "speed" {
                    // Mbit/s → bytes/s, truncated as node_exporter's int64 conversion.
                    (v * 1000 * 1000 / 8) as f64
                } else {
                    v as f64
                };
                out.family(name, help, *kind).add(&[("device", dev)], v);
            }
        }
        Ok(())
    }
}
