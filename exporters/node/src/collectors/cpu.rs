//! `cpu`: per-CPU time by mode from /proc/stat.

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// USER_HZ: /proc/stat counts in 1/100 s.
const USER_HZ: f64 = 100.0;
const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// The `cpu` collector.
#[derive(Default)]
pub struct Cpu {
    buf: String,
}

impl Collector for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("stat");
        read_into(&path, &mut self.buf)?;
        for line in self.buf.lines() {
            let mut f = line.split_ascii_whitespace();
            let Some(cpu) = f.next().and_then(|h| h.strip_prefix("cpu")) else {
                continue;
            };
            if cpu.is_empty() {
                continue; // the "cpu" total line
            }
            let mut vals = [0f64; 10];
            for v in vals.iter_mut() {
                *v = match f.next() {
                    Some(t) => t
                        .parse::<f64>()
                        .map_err(|_| Error::parse(&path, format!("bad cpu value {t:?}")))?,
                    None => 0.0,
                } / USER_HZ;
            }
            let fam = out.family(
                "node_cpu_seconds_total",
                "Seconds the CPUs spent in each mode.",
                MetricType::Counter,
            );
            for (mode, v) in MODES.iter().zip(vals) {
                fam.add(&[("cpu", cpu), ("mode", mode)], v);
            }
            let guest = out.family(
                "node_cpu_guest_seconds_total",
                "Seconds the CPUs spent in guests (VMs) for each mode.",
                MetricType::Counter,
            );
            guest.add(&[("cpu", cpu), ("mode", "user")], vals[8]);
            guest.add(&[("cpu", cpu), ("mode", "nice")], vals[9]);
        }
        Ok(())
    }
}
