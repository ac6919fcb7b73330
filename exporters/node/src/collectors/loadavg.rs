//! `loadavg`: node_load1/5/15 from /proc/loadavg.

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// The `loadavg` collector.
#[derive(Default)]
pub struct Loadavg {
    buf: String,
}

impl Collector for Loadavg {
    fn name(&self) -> &'static str {
        "loadavg"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("loadavg");
        read_into(&path, &mut self.buf)?;
        let mut f = self.buf.split_ascii_whitespace();
        for (name, help) in [
            ("node_load1", "1m load average."),
            ("node_load5", "5m load average."),
            ("node_load15", "15m load average."),
        ] {
            let v: f64 = f
                .next()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| Error::parse(&path, "expected three load averages"))?;
            out.family(name, help, MetricType::Gauge).add(&[], v);
        }
        Ok(())
    }
}
