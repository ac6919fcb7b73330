//! `udp_queues`: bytes queued in UDP sockets (sums of tx_queue/rx_queue of /proc/net/udp{,6}).

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// The `udp_queues` collector.
#[derive(Default)]
pub struct UdpQueues {
    buf: String,
}

impl Collector for UdpQueues {
    fn name(&self) -> &'static str {
        "udp_queues"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        for (file, ip) in [("net/udp", "v4"), ("net/udp6", "v6")] {
            let path = cfg.proc(file);
            match read_into(&path, &mut self.buf) {
                Ok(()) => {}
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            }
            let (mut tx, mut rx) = (0u64, 0u64);
            for line in self.buf.lines().skip(1) {
                let Some(q) = line.split_ascii_whitespace().nth(4) else {
                    continue;
                };
                let Some((t, r)) = q.split_once(':') else {
                    return Err(Error::parse(&path, format!("bad queue column {q:?}")));
                };
                let hex = |s: &str| {
                    u64::from_str_radix(s, 16)
                        .map_err(|_| Error::parse(&path, format!("bad hex value {s:?}")))
                };
                tx += hex(t)?;
                rx += hex(r)?;
            }
            let fam = out.family(
                "node_udp_queues",
                "Number of allocated memory in the kernel for UDP datagrams in bytes.",
                MetricType::Gauge,
            );
            fam.add(&[("ip", ip), ("queue", "tx")], tx as f64);
            fam.add(&[("ip", ip), ("queue", "rx")], rx as f64);
        }
        Ok(())
    }
}
