//! `vmstat`: /proc/vmstat fields matching `--collector.vmstat.fields`, untyped.

use expo::{MetricSet, MetricType};
use regex::Regex;

use crate::util::{read_into, regex};
use crate::{Collector, Config, Error};

/// node_exporter's default `--collector.vmstat.fields`.
pub const DEFAULT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

/// The `vmstat` collector.
pub struct Vmstat {
    fields: Regex,
    buf: String,
    name: String,
    help: String,
}

impl Vmstat {
    /// With the field filter of `cfg`.
    pub fn new(cfg: &Config) -> Result<Vmstat, Error> {
        Ok(Vmstat {
            fields: regex("collector.vmstat.fields", &cfg.vmstat_fields)?,
            buf: String::new(),
            name: String::new(),
            help: String::new(),
        })
    }
}

impl Collector for Vmstat {
    fn name(&self) -> &'static str {
        "vmstat"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("vmstat");
        read_into(&path, &mut self.buf)?;
        for line in self.buf.lines() {
            let mut f = line.split_ascii_whitespace();
            let (Some(key), Some(val)) = (f.next(), f.next()) else {
                continue;
            };
            if !self.fields.is_match(key) {
                continue;
            }
            let v: f64 = val
                .parse()
                .map_err(|_| Error::parse(&path, format!("bad value for {key}")))?;
            self.name.clear();
            self.name.push_str("node_vmstat_");
            self.name.push_str(key);
            self.help.clear();
            self.help.push_str("/proc/vmstat information field ");
            self.help.push_str(key);
            self.help.push('.');
            out.family(&self.name, &self.help, MetricType::Untyped)
                .add(&[], v);
        }
        Ok(())
    }
}
