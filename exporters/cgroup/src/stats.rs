//! One cgroup's statistics, read from cgroup v2 or v1 files the way cAdvisor reads them.

use std::path::Path;

use crate::layout::Layout;
use crate::read::Reader;

/// cgroup v1 reports user/system CPU in USER_HZ ticks, fixed at 100 for user space.
const USER_HZ: f64 = 100.0;

/// Limits above this are "no limit" (cAdvisor reports them as 0).
const NO_LIMIT: f64 = (1u64 << 62) as f64;

/// Block I/O of one device.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceIo {
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// Bytes read.
    pub read_bytes: f64,
    /// Bytes written.
    pub write_bytes: f64,
    /// Read operations.
    pub reads: f64,
    /// Write operations.
    pub writes: f64,
}

/// What one cgroup reports; `None` where the kernel does not provide it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// CPU time, seconds.
    pub cpu_usage: Option<f64>,
    /// User CPU time, seconds.
    pub cpu_user: Option<f64>,
    /// System CPU time, seconds.
    pub cpu_system: Option<f64>,
    /// CFS enforcement periods elapsed.
    pub cfs_periods: Option<f64>,
    /// CFS periods throttled.
    pub cfs_throttled_periods: Option<f64>,
    /// Time throttled, seconds.
    pub cfs_throttled_seconds: Option<f64>,
    /// Memory usage (page cache included), bytes.
    pub mem_usage: Option<f64>,
    /// Peak memory usage, bytes.
    pub mem_max_usage: Option<f64>,
    /// Usage minus inactive file pages, bytes.
    pub mem_working_set: Option<f64>,
    /// Anonymous memory, bytes.
    pub mem_rss: Option<f64>,
    /// Page cache, bytes.
    pub mem_cache: Option<f64>,
    /// Swap in use, bytes.
    pub mem_swap: Option<f64>,
    /// Memory-mapped files, bytes.
    pub mem_mapped_file: Option<f64>,
    /// Dirty file pages, bytes.
    pub mem_dirty: Option<f64>,
    /// File pages under writeback, bytes.
    pub mem_writeback: Option<f64>,
    /// Kernel memory, bytes.
    pub mem_kernel: Option<f64>,
    /// Times usage hit the limit.
    pub mem_failcnt: Option<f64>,
    /// Page faults: (this cgroup, hierarchy).
    pub pgfault: Option<(f64, f64)>,
    /// Major page faults: (this cgroup, hierarchy).
    pub pgmajfault: Option<(f64, f64)>,
    /// OOM kills inside the cgroup.
    pub oom_kills: Option<f64>,
    /// Block I/O per device.
    pub io: Vec<DeviceIo>,
    /// Processes (`cgroup.procs`).
    pub processes: Option<f64>,
    /// Tasks (`pids.current`).
    pub threads: Option<f64>,
    /// Task limit (`pids.max`), when set.
    pub threads_max: Option<f64>,
    /// CFS period, microseconds.
    pub spec_cpu_period: Option<f64>,
    /// CFS quota, microseconds, when set.
    pub spec_cpu_quota: Option<f64>,
    /// CPU shares (v2 weights converted).
    pub spec_cpu_shares: Option<f64>,
    /// Memory limit, bytes (0: none).
    pub spec_mem_limit: Option<f64>,
    /// Memory reservation (soft limit / `memory.low`), bytes (0: none).
    pub spec_mem_reservation: Option<f64>,
    /// Swap limit, bytes (0: none).
    pub spec_swap_limit: Option<f64>,
    /// The cgroup directory's modification time, seconds since the epoch.
    pub start_time: Option<f64>,
    /// The first process of `cgroup.procs` (whose network namespace is the cgroup's).
    pub first_pid: Option<u32>,
    /// CPU pressure (v2 `cpu.pressure`).
    pub psi_cpu: Option<Psi>,
    /// Memory pressure (v2 `memory.pressure`).
    pub psi_memory: Option<Psi>,
    /// I/O pressure (v2 `io.pressure`).
    pub psi_io: Option<Psi>,
    /// Tasks by state (filled by the collector from procfs).
    pub tasks: Option<crate::tasks::TaskStates>,
}

/// Pressure stall totals of one resource, seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Psi {
    /// Time some tasks were stalled (`some total=`): cAdvisor's `waiting`.
    pub some: f64,
    /// Time all tasks were stalled (`full total=`): cAdvisor's `stalled`.
    pub full: f64,
}

/// Parses a `*.pressure` file (`some avg10=0.00 avg60=0.00 avg300=0.00 total=123` and a
/// `full` line; totals in microseconds). A missing `full` line (the CPU file of old kernels)
/// reads as 0, as cAdvisor reports it.
pub fn parse_psi(text: &str) -> Option<Psi> {
    let mut out = Psi::default();
    let mut some = false;
    for line in text.lines() {
        let mut it = line.split_ascii_whitespace();
        let kind = it.next();
        let total = it
            .find_map(|kv| kv.strip_prefix("total="))
            .and_then(|v| v.parse::<u64>().ok());
        match (kind, total) {
            (Some("some"), Some(t)) => {
                out.some = t as f64 / 1e6;
                some = true;
            }
            (Some("full"), Some(t)) => out.full = t as f64 / 1e6,
            _ => {}
        }
    }
    some.then_some(out)
}

/// A limit as cAdvisor reports it: "no limit" (`max`, or huge) is 0.
fn limit(v: Option<f64>, raw_max: bool) -> Option<f64> {
    match v {
        Some(v) if v < NO_LIMIT => Some(v),
        Some(_) => Some(0.0),
        None if raw_max => Some(0.0),
        None => None,
    }
}

/// True when `path` holds the word `max`.
fn is_max(r: &mut Reader, path: &Path) -> bool {
    r.read(path).map(|s| s.trim() == "max").unwrap_or(false)
}

/// Reads the stats of cgroup `rel` (`/`, `/kubepods/…`).
pub fn read(layout: &Layout, rel: &str, r: &mut Reader) -> Stats {
    let rel = rel.trim_start_matches('/');
    match layout {
        Layout::V2 { root } => read_v2(&root.join(rel), r),
        Layout::V1 {
            cpu,
            cpuacct,
            memory,
            blkio,
            pids,
        } => {
            let at = |c: &Option<std::path::PathBuf>| c.as_ref().map(|c| c.join(rel));
            let mut s = Stats::default();
            if let Some(d) = at(cpuacct) {
                read_v1_cpuacct(&d, r, &mut s);
            }
            if let Some(d) = at(cpu) {
                read_v1_cpu(&d, r, &mut s);
            }
            if let Some(d) = at(memory) {
                read_v1_memory(&d, r, &mut s);
            }
            if let Some(d) = at(blkio) {
                read_v1_blkio(&d, r, &mut s);
            }
            if let Some(d) = at(pids) {
                read_pids(&d, r, &mut s);
            }
            let tree = at(memory).or(at(cpu)).or(at(cpuacct));
            if let Some(d) = tree {
                read_procs(&d, r, &mut s);
                s.start_time = mtime(&d);
            }
            s
        }
    }
}

fn mtime(dir: &Path) -> Option<f64> {
    let m = std::fs::metadata(dir).ok()?.modified().ok()?;
    Some(m.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
}

fn read_pids(d: &Path, r: &mut Reader, s: &mut Stats) {
    s.threads = r.number(&d.join("pids.current"));
    s.threads_max = r.number(&d.join("pids.max"));
}

fn read_v2(d: &Path, r: &mut Reader) -> Stats {
    let mut s = Stats::default();
    r.keyed(&d.join("cpu.stat"), |k, v| match k {
        "usage_usec" => s.cpu_usage = Some(v / 1e6),
        "user_usec" => s.cpu_user = Some(v / 1e6),
        "system_usec" => s.cpu_system = Some(v / 1e6),
        "nr_periods" => s.cfs_periods = Some(v),
        "nr_throttled" => s.cfs_throttled_periods = Some(v),
        "throttled_usec" => s.cfs_throttled_seconds = Some(v / 1e6),
        _ => {}
    });
    if let Some(cpu_max) = r.read(&d.join("cpu.max")) {
        let mut it = cpu_max.split_ascii_whitespace();
        let quota = it.next().and_then(|q| q.parse::<f64>().ok());
        let period = it.next().and_then(|p| p.parse::<f64>().ok());
        s.spec_cpu_period = period;
        s.spec_cpu_quota = quota.filter(|&q| q > 0.0);
    }
    if let Some(w) = r.number(&d.join("cpu.weight")) {
        // The inverse of runc's shares → weight mapping.
        s.spec_cpu_shares = Some((2 + ((w as u64).saturating_sub(1) * 262_142) / 9_999) as f64);
    }
    s.mem_usage = r.number(&d.join("memory.current"));
    s.mem_max_usage = r.number(&d.join("memory.peak"));
    let mut inactive_file = None;
    let (mut pgfault, mut pgmajfault) = (None, None);
    r.keyed(&d.join("memory.stat"), |k, v| match k {
        "anon" => s.mem_rss = Some(v),
        "file" => s.mem_cache = Some(v),
        "file_mapped" => s.mem_mapped_file = Some(v),
        "file_dirty" => s.mem_dirty = Some(v),
        "file_writeback" => s.mem_writeback = Some(v),
        "kernel" => s.mem_kernel = Some(v),
        "inactive_file" => inactive_file = Some(v),
        "pgfault" => pgfault = Some(v),
        "pgmajfault" => pgmajfault = Some(v),
        _ => {}
    });
    s.pgfault = pgfault.map(|v| (v, v));
    s.pgmajfault = pgmajfault.map(|v| (v, v));
    s.mem_working_set = s
        .mem_usage
        .map(|u| (u - inactive_file.unwrap_or(0.0)).max(0.0));
    r.keyed(&d.join("memory.events"), |k, v| match k {
        "max" => s.mem_failcnt = Some(v),
        "oom_kill" => s.oom_kills = Some(v),
        _ => {}
    });
    s.mem_swap = r.number(&d.join("memory.swap.current"));
    let max = d.join("memory.max");
    s.spec_mem_limit = limit(r.number(&max), is_max(r, &max));
    let low = d.join("memory.low");
    s.spec_mem_reservation = limit(r.number(&low), is_max(r, &low));
    let swap = d.join("memory.swap.max");
    s.spec_swap_limit = limit(r.number(&swap), is_max(r, &swap));
    if let Some(text) = r.read(&d.join("io.stat")) {
        for line in text.lines() {
            let mut it = line.split_ascii_whitespace();
            let Some((major, minor)) = it.next().and_then(parse_dev) else {
                continue;
            };
            let mut io = DeviceIo {
                major,
                minor,
                ..Default::default()
            };
            for kv in it {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let v = v.parse::<u64>().unwrap_or(0) as f64;
                match k {
                    "rbytes" => io.read_bytes = v,
                    "wbytes" => io.write_bytes = v,
                    "rios" => io.reads = v,
                    "wios" => io.writes = v,
                    _ => {}
                }
            }
            s.io.push(io);
        }
    }
    s.psi_cpu = r.read(&d.join("cpu.pressure")).and_then(parse_psi);
    s.psi_memory = r.read(&d.join("memory.pressure")).and_then(parse_psi);
    s.psi_io = r.read(&d.join("io.pressure")).and_then(parse_psi);
    read_pids(d, r, &mut s);
    read_procs(d, r, &mut s);
    s.start_time = mtime(d);
    s
}

/// Process count and first process of `cgroup.procs`.
fn read_procs(d: &Path, r: &mut Reader, s: &mut Stats) {
    if let Some(text) = r.read(&d.join("cgroup.procs")) {
        let pids = text.lines().filter(|l| !l.is_empty());
        s.first_pid = pids.clone().find_map(|l| l.trim().parse().ok());
        s.processes = Some(pids.count() as f64);
    }
}

/// `8:0` → (8, 0).
fn parse_dev(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn read_v1_cpuacct(d: &Path, r: &mut Reader, s: &mut Stats) {
    s.cpu_usage = r.number(&d.join("cpuacct.usage")).map(|ns| ns / 1e9);
    r.keyed(&d.join("cpuacct.stat"), |k, v| match k {
        "user" => s.cpu_user = Some(v / USER_HZ),
        "system" => s.cpu_system = Some(v / USER_HZ),
        _ => {}
    });
}

fn read_v1_cpu(d: &Path, r: &mut Reader, s: &mut Stats) {
    r.keyed(&d.join("cpu.stat"), |k, v| match k {
        "nr_periods" => s.cfs_periods = Some(v),
        "nr_throttled" => s.cfs_throttled_periods = Some(v),
        "throttled_time" => s.cfs_throttled_seconds = Some(v / 1e9),
        _ => {}
    });
    s.spec_cpu_period = r.number(&d.join("cpu.cfs_period_us"));
    s.spec_cpu_quota = r.number(&d.join("cpu.cfs_quota_us")).filter(|&q| q > 0.0);
    s.spec_cpu_shares = r.number(&d.join("cpu.shares"));
}

fn read_v1_memory(d: &Path, r: &mut Reader, s: &mut Stats) {
    s.mem_usage = r.number(&d.join("memory.usage_in_bytes"));
    s.mem_max_usage = r.number(&d.join("memory.max_usage_in_bytes"));
    s.mem_failcnt = r.number(&d.join("memory.failcnt"));
    s.mem_kernel = r.number(&d.join("memory.kmem.usage_in_bytes"));
    let mut inactive_file = None;
    let (mut pf, mut tpf, mut mpf, mut tmpf) = (None, None, None, None);
    r.keyed(&d.join("memory.stat"), |k, v| match k {
        "total_rss" => s.mem_rss = Some(v),
        "total_cache" => s.mem_cache = Some(v),
        "total_swap" => s.mem_swap = Some(v),
        "total_mapped_file" => s.mem_mapped_file = Some(v),
        "total_dirty" => s.mem_dirty = Some(v),
        "total_writeback" => s.mem_writeback = Some(v),
        "total_inactive_file" => inactive_file = Some(v),
        "pgfault" => pf = Some(v),
        "total_pgfault" => tpf = Some(v),
        "pgmajfault" => mpf = Some(v),
        "total_pgmajfault" => tmpf = Some(v),
        _ => {}
    });
    s.pgfault = pf.map(|c| (c, tpf.unwrap_or(c)));
    s.pgmajfault = mpf.map(|c| (c, tmpf.unwrap_or(c)));
    s.mem_working_set = s
        .mem_usage
        .map(|u| (u - inactive_file.unwrap_or(0.0)).max(0.0));
    r.keyed(&d.join("memory.oom_control"), |k, v| {
        if k == "oom_kill" {
            s.oom_kills = Some(v);
        }
    });
    s.spec_mem_limit = limit(r.number(&d.join("memory.limit_in_bytes")), false);
    s.spec_mem_reservation = limit(r.number(&d.join("memory.soft_limit_in_bytes")), false);
    s.spec_swap_limit = limit(r.number(&d.join("memory.memsw.limit_in_bytes")), false);
}

fn read_v1_blkio(d: &Path, r: &mut Reader, s: &mut Stats) {
    let mut merge = |file: &str, bytes: bool| {
        let p = d.join(format!("{file}_recursive"));
        let text = match r.read(&p) {
            Some(t) => Some(t.to_string()),
            None => r.read(&d.join(file)).map(str::to_string),
        };
        let Some(text) = text else {
            return;
        };
        for line in text.lines() {
            let mut it = line.split_ascii_whitespace();
            let (Some(dev), Some(op), Some(v)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let (Some((major, minor)), Ok(v)) = (parse_dev(dev), v.parse::<u64>()) else {
                continue;
            };
            let i = match s
                .io
                .iter()
                .position(|x| x.major == major && x.minor == minor)
            {
                Some(i) => i,
                None => {
                    s.io.push(DeviceIo {
                        major,
                        minor,
                        ..Default::default()
                    });
                    s.io.len() - 1
                }
            };
            let io = &mut s.io[i];
            let v = v as f64;
            match (op, bytes) {
                ("Read", true) => io.read_bytes = v,
                ("Write", true) => io.write_bytes = v,
                ("Read", false) => io.reads = v,
                ("Write", false) => io.writes = v,
                _ => {}
            }
        }
    };
    merge("blkio.throttle.io_service_bytes", true);
    merge("blkio.throttle.io_serviced", false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_files() {
        let both = "some avg10=0.00 avg60=0.10 avg300=0.20 total=1500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=250\n";
        assert_eq!(
            parse_psi(both),
            Some(Psi {
                some: 1.5,
                full: 0.00025
            })
        );
        let some_only = "some avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\n";
        assert_eq!(
            parse_psi(some_only),
            Some(Psi {
                some: 2.0,
                full: 0.0
            })
        );
        assert_eq!(parse_psi(""), None);
        assert_eq!(parse_psi("some avg10=x total=y\n"), None);
    }
}
