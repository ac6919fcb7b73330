//! `conntrack`: netfilter connection tracking table size and statistics.

use expo::{MetricSet, MetricType};

use crate::util::read_trimmed;
use crate::{Collector, Config, Error};

/// The `conntrack` collector.
pub struct Conntrack;

/// (column in /proc/net/stat/nf_conntrack, metric suffix, help).
const STATS: [(&str, &str, &str); 8] = [
    ("found", "found", "Number of searched entries which were successful."),
    ("invalid", "invalid", "Number of packets seen which can not be tracked."),
    (
        "ignore",
        "ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
    ),
    ("insert", "insert", "Number of entries inserted into the list."),
    (
        "insert_failed",
        "insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
    ),
    ("drop", "drop", "Number of packets dropped due to conntrack failure."),
    (
        "early_drop",
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    (
        "search_restart",
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
];

impl Collector for Conntrack {
    fn name(&self) -> &'static str {
        "conntrack"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let num = |rel: &str| read_trimmed(&cfg.proc(rel)).and_then(|s| s.parse::<f64>().ok());
        let (Some(count), Some(max)) = (
            num("sys/net/netfilter/nf_conntrack_count"),
            num("sys/net/netfilter/nf_conntrack_max"),
        ) else {
            return Err(Error::NoData("conntrack is not loaded".into()));
        };
        out.family(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            MetricType::Gauge,
        )
        .add(&[], count);
        out.family(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            MetricType::Gauge,
        )
        .add(&[], max);
        let path = cfg.proc("net/stat/nf_conntrack");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or("")
            .split_ascii_whitespace()
            .collect();
        let mut sums = [0f64; 8];
        for line in lines {
            for (col, v) in header.iter().zip(line.split_ascii_whitespace()) {
                if let Some(i) = STATS.iter().position(|(c, _, _)| c == col) {
                    let n = u64::from_str_radix(v, 16)
                        .map_err(|_| Error::parse(&path, format!("bad hex value {v:?}")))?;
                    sums[i] += n as f64;
                }
            }
        }
        for ((_, suffix, help), v) in STATS.iter().zip(sums) {
            out.family(
                &format!("node_nf_conntrack_stat_{suffix}"),
                help,
                MetricType::Gauge,
            )
            .add(&[], v);
        }
        Ok(())
    }
}
