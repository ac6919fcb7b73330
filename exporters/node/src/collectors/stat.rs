//! `stat`: boot time, context switches, forks, interrupts and process counts from /proc/stat.

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// The `stat` collector.
#[derive(Default)]
pub struct Stat {
    buf: String,
}

impl Collector for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("stat");
        read_into(&path, &mut self.buf)?;
        for line in self.buf.lines() {
            let mut f = line.split_ascii_whitespace();
            let key = f.next().unwrap_or("");
            let (name, help, kind) = match key {
                "intr" => (
                    "node_intr_total",
                    "Total number of interrupts serviced.",
                    MetricType::Counter,
                ),
                "ctxt" => (
                    "node_context_switches_total",
                    "Total number of context switches.",
                    MetricType::Counter,
                ),
                "btime" => (
                    "node_boot_time_seconds",
                    "Node boot time, in unixtime.",
                    MetricType::Gauge,
                ),
                "processes" => (
                    "node_forks_total",
                    "Total number of forks.",
                    MetricType::Counter,
                ),
                "procs_running" => (
                    "node_procs_running",
                    "Number of processes in runnable state.",
                    MetricType::Gauge,
                ),
                "procs_blocked" => (
                    "node_procs_blocked",
                    "Number of processes blocked waiting for I/O to complete.",
                    MetricType::Gauge,
                ),
                _ => continue,
            };
            let v: f64 = f
                .next()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| Error::parse(&path, format!("bad {key} line")))?;
            out.family(name, help, kind).add(&[], v);
        }
        Ok(())
    }
}
