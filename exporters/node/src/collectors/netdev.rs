//! `netdev`: per-interface counters from /proc/net/dev (node_exporter's "legacy" names),
//! plus `receive_nohandler` from /sys/class/net/<dev>/statistics/rx_nohandler.

use expo::{MetricSet, MetricType};
use regex::Regex;

use crate::util::{read_f64, read_into, regex};
use crate::{Collector, Config, Error};

/// Column names of /proc/net/dev: 8 receive, then 8 transmit.
const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// The `netdev` collector.
pub struct Netdev {
    exclude: Option<Regex>,
    buf: String,
    names: Vec<(String, String)>,
}

impl Netdev {
    /// With the device exclude of `cfg` (empty: all devices).
    pub fn new(cfg: &Config) -> Result<Netdev, Error> {
        let exclude = if cfg.netdev_device_exclude.is_empty() {
            None
        } else {
            Some(regex(
                "collector.netdev.device-exclude",
                &cfg.netdev_device_exclude,
            )?)
        };
        let names = COLUMNS
            .iter()
            .chain(["receive_nohandler"].iter())
            .map(|k| {
                (
                    format!("node_network_{k}_total"),
                    format!("Network device statistic {k}."),
                )
            })
            .collect();
        Ok(Netdev {
            exclude,
            buf: String::new(),
            names,
        })
    }
}

impl Collector for Netdev {
    fn name(&self) -> &'static str {
        "netdev"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("net/dev");
        read_into(&path, &mut self.buf)?;
        let class_net = cfg.sys("class/net");
        for line in self.buf.lines().skip(2) {
            let Some((dev, rest)) = line.split_once(':') else {
                continue;
            };
            let dev = dev.trim();
            if self.exclude.as_ref().is_some_and(|r| r.is_match(dev)) {
                continue;
            }
            for (i, t) in rest.split_ascii_whitespace().take(16).enumerate() {
                let v: f64 = t
                    .parse()
                    .map_err(|_| Error::parse(&path, format!("bad value {t:?} for {dev}")))?;
                let (name, help) = &self.names[i];
                out.family(name, help, MetricType::Counter)
                    .add(&[("device", dev)], v);
            }
            if let Some(v) = read_f64(&class_net.join(dev).join("statistics/rx_nohandler")) {
                let (name, help) = &self.names[16];
                out.family(name, help, MetricType::Counter)
                    .add(&[("device", dev)], v);
            }
        }
        Ok(())
    }
}
