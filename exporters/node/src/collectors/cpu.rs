//! `cpu`: per-CPU time by mode from /proc/stat.

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// USER_HZ: /proc/stat counts in 1/100 s.
const USER_HZ: f64 = 100.0;
const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// An idle counter falling by this many seconds means a CPU was hot-plugged: start over.
const JUMP_BACK_SECONDS: f64 = 3.0;

/// The `cpu` collector. Like node_exporter, it never lets a per-CPU counter go backwards
/// (the kernel's iowait can): each value is the maximum seen, reset on a hotplug.
#[derive(Default)]
pub struct Cpu {
    buf: String,
    /// Last exported values per CPU (by position in /proc/stat), in /proc/stat field order.
    last: Vec<[f64; 10]>,
}

impl Collector for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("stat");
        read_into(&path, &mut self.buf)?;
        let ncpu = self
            .buf
            .lines()
            .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
            .count();
        if self.last.len() != ncpu {
            self.last = vec![[0.0; 10]; ncpu];
        }
        let mut idx = 0;
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
            let Some(last) = self.last.get_mut(idx) else {
                break;
            };
            idx += 1;
            if last[3] - vals[3] >= JUMP_BACK_SECONDS {
                *last = [0.0; 10];
            }
            for (l, v) in last.iter_mut().zip(vals.iter_mut()) {
                *l = l.max(*v);
                *v = *l;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(c: &mut Cpu, cfg: &Config, stat: &str) -> (f64, f64) {
        std::fs::write(cfg.proc("stat"), stat).unwrap();
        let mut set = MetricSet::new();
        c.update(cfg, &mut set).unwrap();
        let f = set.get("node_cpu_seconds_total").unwrap();
        let get = |mode: &str| {
            f.samples()
                .find(|s| s.label("mode") == Some(mode))
                .unwrap()
                .value()
        };
        (get("idle"), get("iowait"))
    }

    #[test]
    fn counters_never_go_backwards_but_reset_on_hotplug() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            procfs: dir.path().to_path_buf(),
            ..Config::default()
        };
        let mut c = Cpu::default();
        let line = |idle: u64, iowait: u64| {
            format!("cpu  1 0 1 {idle} {iowait} 0 0 0 0 0\ncpu0 1 0 1 {idle} {iowait} 0 0 0 0 0\n")
        };
        assert_eq!(run(&mut c, &cfg, &line(10000, 500)), (100.0, 5.0));
        // iowait dips: the previous value stays.
        assert_eq!(run(&mut c, &cfg, &line(10100, 450)), (101.0, 5.0));
        // idle falls by more than 3 s: a hotplug, start over.
        assert_eq!(run(&mut c, &cfg, &line(50, 10)), (0.5, 0.1));
    }
}
