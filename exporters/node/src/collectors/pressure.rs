//! `pressure`: PSI totals from /proc/pressure/{cpu,io,memory,irq} (µs → s).

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// (resource, line kind, metric, help).
const METRICS: [(&str, &str, &str, &str); 6] = [
    (
        "cpu",
        "some",
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time",
    ),
    (
        "io",
        "some",
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    (
        "io",
        "full",
        "node_pressure_io_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    (
        "memory",
        "some",
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory",
    ),
    (
        "memory",
        "full",
        "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
    (
        "irq",
        "full",
        "node_pressure_irq_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IRQ congestion",
    ),
];

/// The `pressure` collector.
#[derive(Default)]
pub struct Pressure {
    buf: String,
}

/// `total=` of the `kind` line ("some"/"full") of a PSI file.
fn total(text: &str, kind: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(kind))?
        .split_ascii_whitespace()
        .find_map(|kv| kv.strip_prefix("total="))?
        .parse()
        .ok()
}

impl Collector for Pressure {
    fn name(&self) -> &'static str {
        "pressure"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let mut loaded = "";
        for (res, kind, name, help) in METRICS {
            if loaded != res {
                let path = cfg.proc("pressure").join(res);
                match read_into(&path, &mut self.buf) {
                    Ok(()) => loaded = res,
                    // irq pressure exists only on kernels >= 6.1 with CONFIG_IRQ_TIME_ACCOUNTING.
                    Err(e) if e.is_not_found() && res == "irq" => return Ok(()),
                    Err(e) if e.is_not_found() => {
                        return Err(Error::NoData(format!(
                            "pressure information unavailable: {e}"
                        )))
                    }
                    Err(e) => return Err(e),
                }
            }
            if let Some(us) = total(&self.buf, kind) {
                out.family(name, help, MetricType::Counter)
                    .add(&[], us / 1000.0 / 1000.0);
            }
        }
        Ok(())
    }
}
