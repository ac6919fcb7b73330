//! `softnet`: per-CPU packet processing statistics from /proc/net/softnet_stat.

use expo::{MetricSet, MetricType};

use crate::util::{read_into, NumBuf};
use crate::{Collector, Config, Error};

/// (column, metric, help, type); columns as the kernel prints them.
const COLUMNS: [(usize, &str, &str, MetricType); 7] = [
    (
        0,
        "node_softnet_processed_total",
        "Number of processed packets",
        MetricType::Counter,
    ),
    (
        1,
        "node_softnet_dropped_total",
        "Number of dropped packets",
        MetricType::Counter,
    ),
    (
        2,
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
        MetricType::Counter,
    ),
    (
        8,
        "node_softnet_cpu_collision_total",
        "Number of collision occur while obtaining device lock while transmitting",
        MetricType::Counter,
    ),
    (
        9,
        "node_softnet_received_rps_total",
        "Number of times cpu woken up received_rps",
        MetricType::Counter,
    ),
    (
        10,
        "node_softnet_flow_limit_count_total",
        "Number of times flow limit has been reached",
        MetricType::Counter,
    ),
    (
        11,
        "node_softnet_backlog_len",
        "Softnet backlog status",
        MetricType::Gauge,
    ),
];

/// The `softnet` collector.
#[derive(Default)]
pub struct Softnet {
    buf: String,
    num: NumBuf,
}

impl Collector for Softnet {
    fn name(&self) -> &'static str {
        "softnet"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("net/softnet_stat");
        read_into(&path, &mut self.buf)?;
        for (i, line) in self.buf.lines().enumerate() {
            let mut cols = [0u64; 13];
            let mut n = 0;
            for t in line.split_ascii_whitespace().take(13) {
                cols[n] = u64::from_str_radix(t, 16)
                    .map_err(|_| Error::parse(&path, format!("bad hex value {t:?}")))?;
                n += 1;
            }
            // Since Linux 5.10 column 12 is the CPU index; before, the line number.
            let cpu = self.num.fmt(if n > 12 { cols[12] as usize } else { i });
            for (col, name, help, kind) in COLUMNS {
                if col < n {
                    out.family(name, help, kind)
                        .add(&[("cpu", cpu)], cols[col] as f64);
                }
            }
        }
        Ok(())
    }
}
