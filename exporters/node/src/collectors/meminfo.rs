//! `meminfo`: /proc/meminfo, every key (`Active(anon)` → `Active_anon`; kB → bytes).

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// The `meminfo` collector.
#[derive(Default)]
pub struct Meminfo {
    buf: String,
    name: String,
    help: String,
}

impl Collector for Meminfo {
    fn name(&self) -> &'static str {
        "meminfo"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("meminfo");
        read_into(&path, &mut self.buf)?;
        for line in self.buf.lines() {
            let mut f = line.split_ascii_whitespace();
            let (Some(key), Some(val)) = (f.next(), f.next()) else {
                continue;
            };
            let unit = f.next();
            if f.next().is_some() {
                return Err(Error::parse(&path, format!("invalid line {line:?}")));
            }
            let mut v: f64 = val
                .parse()
                .map_err(|_| Error::parse(&path, format!("invalid value in {line:?}")))?;
            let key = key.strip_suffix(':').unwrap_or(key);
            self.name.clear();
            self.name.push_str("node_memory_");
            // `Active(anon)` → `Active_anon`, as node_exporter's regex does.
            match key.split_once('(') {
                Some((a, b)) => {
                    self.name.push_str(a);
                    self.name.push('_');
                    self.name.push_str(b.trim_end_matches(')'));
                }
                None => self.name.push_str(key),
            }
            if unit.is_some() {
                v *= 1024.0;
                self.name.push_str("_bytes");
            }
            self.help.clear();
            self.help.push_str("Memory information field ");
            self.help.push_str(&self.name["node_memory_".len()..]);
            self.help.push('.');
            let kind = if self.name.ends_with("_total") {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            out.family(&self.name, &self.help, kind).add(&[], v);
        }
        Ok(())
    }
}
