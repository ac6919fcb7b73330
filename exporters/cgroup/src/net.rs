//! Network statistics of a network namespace, read from `/proc/<pid>/net/dev` of one task
//! in it, as cAdvisor reads them; one read per namespace per collection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::read::Reader;

/// Interface name prefixes cAdvisor leaves out (case-insensitive): loopback, the host ends
/// of container veth pairs, Docker and nerdctl bridges.
const IGNORED_PREFIXES: [&str; 4] = ["lo", "veth", "docker", "nerdctl"];

/// Counters of one interface.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Iface {
    /// Interface name (`interface` label).
    pub name: String,
    /// Bytes received.
    pub rx_bytes: f64,
    /// Packets received.
    pub rx_packets: f64,
    /// Receive errors.
    pub rx_errors: f64,
    /// Packets dropped on receive.
    pub rx_dropped: f64,
    /// Bytes transmitted.
    pub tx_bytes: f64,
    /// Packets transmitted.
    pub tx_packets: f64,
    /// Transmit errors.
    pub tx_errors: f64,
    /// Packets dropped on transmit.
    pub tx_dropped: f64,
}

/// True for interfaces cAdvisor does not report.
fn ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    IGNORED_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// Parses `/proc/<pid>/net/dev`. Like cAdvisor, one malformed line discards the whole file
/// (`None`): a partial set of interfaces would look like a counter reset.
pub fn parse_net_dev(text: &str) -> Option<Vec<Iface>> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            if line.trim().is_empty() {
                continue;
            }
            return None;
        };
        let name = name.trim();
        let mut v = [0u64; 16];
        let mut n = 0;
        for f in rest.split_ascii_whitespace() {
            if n == v.len() {
                return None;
            }
            v[n] = f.parse().ok()?;
            n += 1;
        }
        if n != v.len() {
            return None;
        }
        if ignored(name) {
            continue;
        }
        out.push(Iface {
            name: name.to_string(),
            rx_bytes: v[0] as f64,
            rx_packets: v[1] as f64,
            rx_errors: v[2] as f64,
            rx_dropped: v[3] as f64,
            tx_bytes: v[8] as f64,
            tx_packets: v[9] as f64,
            tx_errors: v[10] as f64,
            tx_dropped: v[11] as f64,
        });
    }
    Some(out)
}

/// Reads network statistics by process, once per network namespace per collection.
pub struct NetReader {
    procfs: PathBuf,
    reader: Reader,
    by_netns: HashMap<String, Option<Arc<[Iface]>>>,
}

impl NetReader {
    /// A reader under `procfs` (`/proc`, or the host's at `/host/proc`).
    pub fn new(procfs: &Path) -> NetReader {
        NetReader {
            procfs: procfs.to_path_buf(),
            reader: Reader::default(),
            by_netns: HashMap::new(),
        }
    }

    /// Forgets the previous collection's statistics.
    pub fn clear(&mut self) {
        self.by_netns.clear();
    }

    /// The interfaces seen by process `pid` (`None` when its `net/dev` cannot be read). The
    /// namespace is named by the `ns/net` link (`net:[4026531840]`); where that link cannot
    /// be read, by the pid, so nothing is shared by mistake.
    pub fn read(&mut self, pid: u32) -> Option<Arc<[Iface]>> {
        let dir = self.procfs.join(pid.to_string());
        let key = std::fs::read_link(dir.join("ns/net"))
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("pid:{pid}"));
        if let Some(hit) = self.by_netns.get(&key) {
            return hit.clone();
        }
        let stats = self
            .reader
            .read(&dir.join("net/dev"))
            .and_then(parse_net_dev)
            .map(Arc::from);
        if stats.is_none() {
            tracing::debug!(pid, "no network statistics");
        }
        self.by_netns.insert(key, stats.clone());
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  123456     789    0    0    0     0          0         0   123456     789    0    0    0     0       0          0
  eth0: 98765432  65432    1    2    0     0          0         0 12345678   43210    3    4    0     0       0          0
vethab12: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0
";

    #[test]
    fn parses_and_skips_ignored() {
        let v = parse_net_dev(NET_DEV).unwrap();
        assert_eq!(v.len(), 1);
        let e = &v[0];
        assert_eq!(e.name, "eth0");
        assert_eq!(
            (e.rx_bytes, e.rx_packets, e.rx_errors, e.rx_dropped),
            (98765432.0, 65432.0, 1.0, 2.0)
        );
        assert_eq!(
            (e.tx_bytes, e.tx_packets, e.tx_errors, e.tx_dropped),
            (12345678.0, 43210.0, 3.0, 4.0)
        );
    }

    #[test]
    fn malformed_line_discards_the_file() {
        let bad = format!("{NET_DEV}  eth1: 1 2 3\n");
        assert_eq!(parse_net_dev(&bad), None);
        let bad = format!("{NET_DEV}  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n");
        assert_eq!(parse_net_dev(&bad), None);
        assert_eq!(parse_net_dev("h\nh\n"), Some(vec![]));
    }

    #[test]
    fn ignored_prefixes_are_case_insensitive() {
        assert!(ignored("Docker0"));
        assert!(ignored("nerdctl0"));
        assert!(!ignored("eth0"));
        assert!(!ignored("cni0"));
    }
}
