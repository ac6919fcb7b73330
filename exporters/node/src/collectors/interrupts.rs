//! `interrupts` (off by default, as in node_exporter): per-CPU counts from /proc/interrupts.

use expo::{MetricSet, MetricType};

use crate::util::{read_into, NumBuf};
use crate::{Collector, Config, Error};

/// The `interrupts` collector.
#[derive(Default)]
pub struct Interrupts {
    buf: String,
    num: NumBuf,
}

impl Collector for Interrupts {
    fn name(&self) -> &'static str {
        "interrupts"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("interrupts");
        read_into(&path, &mut self.buf)?;
        let mut lines = self.buf.lines();
        let ncpu = lines
            .next()
            .ok_or_else(|| Error::parse(&path, "interrupts empty"))?
            .split_ascii_whitespace()
            .count();
        for line in lines {
            let parts: Vec<&str> = line.split_ascii_whitespace().collect();
            if parts.len() < ncpu + 2 {
                continue; // ERR and MIS have one value only
            }
            let name = parts[0].strip_suffix(':').unwrap_or(parts[0]);
            let (info, devices) = if name.parse::<u64>().is_ok() {
                (parts[ncpu + 1].to_string(), parts[ncpu + 2..].join(" "))
            } else {
                (parts[ncpu + 1..].join(" "), String::new())
            };
            for (cpu, v) in parts[1..=ncpu].iter().enumerate() {
                let v: f64 = v
                    .parse()
                    .map_err(|_| Error::parse(&path, format!("invalid value {v:?}")))?;
                out.family(
                    "node_interrupts_total",
                    "Interrupt details.",
                    MetricType::Counter,
                )
                .add(
                    &[
                        ("cpu", self.num.fmt(cpu)),
                        ("type", name),
                        ("info", &info),
                        ("devices", &devices),
                    ],
                    v,
                );
            }
        }
        Ok(())
    }
}
