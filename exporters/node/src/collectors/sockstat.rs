//! `sockstat`: /proc/net/sockstat and /proc/net/sockstat6.

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// The `sockstat` collector.
#[derive(Default)]
pub struct Sockstat {
    buf: String,
    name: String,
    help: String,
}

fn page_size() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as f64
    } else {
        4096.0
    }
}

impl Sockstat {
    fn emit(&mut self, out: &mut MetricSet, proto: &str, state: &str, v: f64) {
        self.name.clear();
        self.name.push_str("node_sockstat_");
        self.name.push_str(proto);
        self.name.push('_');
        self.name.push_str(state);
        self.help.clear();
        self.help.push_str("Number of ");
        self.help.push_str(proto);
        self.help.push_str(" sockets in state ");
        self.help.push_str(state);
        self.help.push('.');
        out.family(&self.name, &self.help, MetricType::Gauge)
            .add(&[], v);
    }
}

impl Collector for Sockstat {
    fn name(&self) -> &'static str {
        "sockstat"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        for (file, v6) in [("net/sockstat", false), ("net/sockstat6", true)] {
            let path = cfg.proc(file);
            let mut buf = std::mem::take(&mut self.buf);
            match read_into(&path, &mut buf) {
                Ok(()) => {}
                Err(e) if v6 && e.is_not_found() => {
                    self.buf = buf;
                    continue;
                }
                Err(e) => return Err(e),
            }
            for line in buf.lines() {
                let Some((proto, rest)) = line.split_once(':') else {
                    continue;
                };
                let mut f = rest.split_ascii_whitespace();
                while let (Some(k), Some(v)) = (f.next(), f.next()) {
                    let v: f64 = v
                        .parse()
                        .map_err(|_| Error::parse(&path, format!("bad value in {line:?}")))?;
                    if proto == "sockets" {
                        if k == "used" && !v6 {
                            out.family(
                                "node_sockstat_sockets_used",
                                "Number of IPv4 sockets in use.",
                                MetricType::Gauge,
                            )
                            .add(&[], v);
                        }
                        continue;
                    }
                    self.emit(out, proto, k, v);
                    if k == "mem" {
                        self.emit(out, proto, "mem_bytes", v * page_size());
                    }
                }
            }
            self.buf = buf;
        }
        Ok(())
    }
}
