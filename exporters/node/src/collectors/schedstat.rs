//! `schedstat`: per-CPU scheduler statistics from /proc/schedstat.

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// The `schedstat` collector.
#[derive(Default)]
pub struct Schedstat {
    buf: String,
}

impl Collector for Schedstat {
    fn name(&self) -> &'static str {
        "schedstat"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("schedstat");
        match read_into(&path, &mut self.buf) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {
                return Err(Error::NoData("schedstat file does not exist".into()))
            }
            Err(e) => return Err(e),
        }
        for line in self.buf.lines() {
            let mut f = line.split_ascii_whitespace();
            let Some(cpu) = f.next().and_then(|h| h.strip_prefix("cpu")) else {
                continue;
            };
            // Fields 7, 8, 9: ns running, ns waiting, timeslices run on this CPU.
            let mut v = f.skip(6).take(3).map(|t| t.parse::<f64>());
            let (Some(Ok(run)), Some(Ok(wait)), Some(Ok(slices))) = (v.next(), v.next(), v.next())
            else {
                return Err(Error::parse(&path, format!("bad line {line:?}")));
            };
            let labels = [("cpu", cpu)];
            out.family(
                "node_schedstat_running_seconds_total",
                "Number of seconds CPU spent running a process.",
                MetricType::Counter,
            )
            .add(&labels, run / 1e9);
            out.family(
                "node_schedstat_waiting_seconds_total",
                "Number of seconds spent by processing waiting for this CPU.",
                MetricType::Counter,
            )
            .add(&labels, wait / 1e9);
            out.family(
                "node_schedstat_timeslices_total",
                "Number of timeslices executed by CPU.",
                MetricType::Counter,
            )
            .add(&labels, slices);
        }
        Ok(())
    }
}
