//! `processes` (off by default, as in node_exporter): process and thread counts by state
//! from /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use expo::{MetricSet, MetricType};

use crate::{Collector, Config, Error};

/// The `processes` collector.
pub struct Processes;

/// State letter and thread count of a `stat` file (fields after the `(comm)`).
fn stat(path: &Path) -> Option<(String, u64)> {
    let s = fs::read_to_string(path).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?.to_string();
    // num_threads is field 20 of stat; `state` was field 3.
    let threads = f.nth(16)?.parse().ok()?;
    Some((state, threads))
}

/// Numeric entries of `dir` (pids or tids).
fn numeric_entries(dir: &Path) -> Vec<u64> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

fn read_limit(cfg: &Config, rel: &str) -> Result<f64, Error> {
    let path = cfg.proc(rel);
    let s = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    s.trim()
        .parse()
        .map_err(|_| Error::parse(&path, "expected a number"))
}

impl Collector for Processes {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let (mut pids, mut threads) = (0u64, 0u64);
        let mut states: BTreeMap<String, u64> = BTreeMap::new();
        let mut thread_states: BTreeMap<String, u64> = BTreeMap::new();
        for pid in numeric_entries(&cfg.procfs) {
            let dir = cfg.procfs.join(pid.to_string());
            // A process that exits while we look is skipped, as node_exporter does.
            let Some((state, n)) = stat(&dir.join("stat")) else {
                continue;
            };
            pids += 1;
            threads += n;
            *states.entry(state.clone()).or_default() += 1;
            for tid in numeric_entries(&dir.join("task")) {
                let st = if tid == pid {
                    Some(state.clone())
                } else {
                    stat(&dir.join(format!("task/{tid}/stat"))).map(|s| s.0)
                };
                if let Some(st) = st {
                    *thread_states.entry(st).or_default() += 1;
                }
            }
        }
        let g = MetricType::Gauge;
        out.family("node_processes_threads", "Allocated threads in system", g)
            .add(&[], threads as f64);
        let max_threads = read_limit(cfg, "sys/kernel/threads-max")?;
        out.family(
            "node_processes_max_threads",
            "Limit of threads in the system",
            g,
        )
        .add(&[], max_threads);
        for (s, n) in &states {
            out.family(
                "node_processes_state",
                "Number of processes in each state.",
                g,
            )
            .add(&[("state", s)], *n as f64);
        }
        for (s, n) in &thread_states {
            out.family(
                "node_processes_threads_state",
                "Number of threads in each state.",
                g,
            )
            .add(&[("thread_state", s)], *n as f64);
        }
        let pid_max = read_limit(cfg, "sys/kernel/pid_max")?;
        out.family("node_processes_pids", "Number of PIDs", g)
            .add(&[], pids as f64);
        out.family(
            "node_processes_max_processes",
            "Number of max PIDs limit",
            g,
        )
        .add(&[], pid_max);
        Ok(())
    }
}
