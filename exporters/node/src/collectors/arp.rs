//! `arp`: ARP table entries per device from /proc/net/arp.

use std::collections::BTreeMap;

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// The `arp` collector.
#[derive(Default)]
pub struct Arp {
    buf: String,
}

impl Collector for Arp {
    fn name(&self) -> &'static str {
        "arp"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("net/arp");
        read_into(&path, &mut self.buf)?;
        let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
        for line in self.buf.lines() {
            let cols: Vec<&str> = line.split_ascii_whitespace().collect();
            if cols.len() < 6 || cols[0] == "IP" {
                continue;
            }
            *counts.entry(cols[5]).or_default() += 1;
        }
        for (dev, n) in counts {
            out.family(
                "node_arp_entries",
                "ARP entries by device",
                MetricType::Gauge,
            )
            .add(&[("device", dev)], f64::from(n));
        }
        Ok(())
    }
}
