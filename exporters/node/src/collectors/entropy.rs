//! `entropy`: /proc/sys/kernel/random/{entropy_avail,poolsize}.

use expo::{MetricSet, MetricType};

use crate::{Collector, Config, Error};

/// The `entropy` collector.
pub struct Entropy;

fn read_num(cfg: &Config, rel: &str) -> Result<f64, Error> {
    let path = cfg.proc(rel);
    let s = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    s.trim()
        .parse()
        .map_err(|_| Error::parse(&path, "expected a number"))
}

impl Collector for Entropy {
    fn name(&self) -> &'static str {
        "entropy"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let avail = read_num(cfg, "sys/kernel/random/entropy_avail")?;
        out.family(
            "node_entropy_available_bits",
            "Bits of available entropy.",
            MetricType::Gauge,
        )
        .add(&[], avail);
        let pool = read_num(cfg, "sys/kernel/random/poolsize")?;
        out.family(
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
            MetricType::Gauge,
        )
        .add(&[], pool);
        Ok(())
    }
}
