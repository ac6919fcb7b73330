//! Pieces shared by the benches: starting a target (Vitals, Prometheus, VictoriaMetrics) in
//! its own directory, sending it the standard workload by remote-write, reading `/proc`.
#![allow(dead_code)]

#[path = "../../tests/common/workload.rs"]
pub mod workload;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use workload::{Workload, STEP_MS};

/// The target names the benches know, in their default order.
pub const ALL_TARGETS: [&str; 3] = ["vitals", "prometheus", "victoria-metrics"];

/// The first `bin` found on PATH.
pub fn on_path(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|c| c.is_file())
    })
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One server under test: its kind, binary, data directory and port.
pub struct Target {
    /// "vitals", "prometheus" or "victoria-metrics".
    pub name: String,
    /// The binary.
    pub bin: PathBuf,
    /// Its own directory (data and config below it).
    pub dir: PathBuf,
    /// The HTTP port on 127.0.0.1.
    pub port: u16,
    /// Flags added after the standard ones.
    pub extra: Vec<String>,
}

/// The target called `name` with its directory `<tmp>/<dir_prefix>-<name>`, or `None` (after a
/// `SKIPPED` line) when its binary is not on PATH; panics on an unknown name.
pub fn target(name: &str, dir_prefix: &str) -> Option<Target> {
    let bin = match name {
        // `VITALS_BENCH_BIN` runs another build (e.g. a baseline) under the same name.
        "vitals" => Some(std::env::var_os("VITALS_BENCH_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_vitals")),
            PathBuf::from,
        )),
        "prometheus" => on_path("prometheus"),
        "victoria-metrics" => on_path("victoria-metrics"),
        other => panic!("unknown target {other}"),
    };
    let Some(bin) = bin else {
        println!("SKIPPED: {name} not on PATH");
        return None;
    };
    Some(Target {
        name: name.to_string(),
        bin,
        dir: std::env::temp_dir().join(format!("{dir_prefix}-{name}")),
        port: free_port(),
        extra: Vec::new(),
    })
}

impl Target {
    /// Starts the server on `dir/data` with output discarded.
    pub fn spawn(&self) -> Child {
        let addr = format!("127.0.0.1:{}", self.port);
        let mut c = Command::new(&self.bin);
        match self.name.as_str() {
            "vitals" => {
                c.args(["store", "--storage.tsdb.path"])
                    .arg(self.dir.join("data"))
                    .args([
                        "--web.listen-address",
                        &addr,
                        "--storage.tsdb.retention.time",
                        "0",
                        "--storage.tsdb.maintenance-interval",
                        "5s",
                    ]);
            }
            "prometheus" => {
                let cfg = self.dir.join("prometheus.yml");
                std::fs::write(&cfg, "global:\n  scrape_interval: 15s\n").unwrap();
                c.arg(format!("--config.file={}", cfg.display()))
                    .arg(format!(
                        "--storage.tsdb.path={}",
                        self.dir.join("data").display()
                    ))
                    .arg(format!("--web.listen-address={addr}"))
                    .args([
                        "--web.enable-remote-write-receiver",
                        "--storage.tsdb.retention.time=100y",
                    ]);
            }
            _ => {
                c.arg(format!(
                    "-storageDataPath={}",
                    self.dir.join("data").display()
                ))
                .arg(format!("-httpListenAddr={addr}"))
                .args(["-retentionPeriod=100y", "-loggerLevel=ERROR"]);
            }
        }
        c.args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.name))
    }

    /// Base URL of the server.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits (up to 10 min) until the ready endpoint answers 200; returns how long it took.
    pub fn wait_ready(&self) -> Duration {
        let started = Instant::now();
        let path = if self.name == "victoria-metrics" {
            "/health"
        } else {
            "/-/ready"
        };
        loop {
            if let Ok(r) = ureq::get(&format!("{}{path}", self.url()))
                .timeout(Duration::from_millis(500))
                .call()
            {
                if r.status() == 200 {
                    return started.elapsed();
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "{} not ready",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// CPU seconds (utime+stime), VmHWM bytes, VmRSS bytes and write_bytes of process `pid`.
pub fn proc_stat(pid: u32) -> (f64, u64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu = if f.len() > 12 {
        (f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0)) / ticks
    } else {
        0.0
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    let wb = io
        .lines()
        .find(|l| l.starts_with("write_bytes:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (cpu, kb("VmHWM:"), kb("VmRSS:"), wb)
}

/// Bytes of all files below `p`.
pub fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    _ => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Bytes, samples and number of the immutable blocks (dirs with meta.json) under `data`.
pub fn blocks(data: &Path) -> (u64, u64, usize) {
    let (mut bytes, mut samples, mut count) = (0, 0, 0);
    for e in std::fs::read_dir(data).into_iter().flatten().flatten() {
        let meta = e.path().join("meta.json");
        if let Ok(m) = std::fs::read(&meta) {
            let v: serde_json::Value = serde_json::from_slice(&m).unwrap_or_default();
            samples += v["stats"]["numSamples"].as_u64().unwrap_or(0);
            bytes += dir_size(&e.path());
            count += 1;
        }
    }
    (bytes, samples, count)
}

/// What `send_workload` sent.
pub struct Loaded {
    /// Number of series.
    pub series: u64,
    /// Number of rounds (one sample per series each).
    pub rounds: i64,
    /// Timestamp of the first round (ms); round `r` is at `start_ms + r * STEP_MS`.
    pub start_ms: i64,
    /// Wall time of the sending.
    pub wall: Duration,
}

impl Loaded {
    /// Timestamp of the last round (ms).
    pub fn end_ms(&self) -> i64 {
        self.start_ms + (self.rounds - 1).max(0) * STEP_MS
    }

    /// Samples sent.
    pub fn samples(&self) -> u64 {
        self.series * self.rounds as u64
    }
}

/// Number of 15 s rounds in `hours`.
pub fn rounds(hours: f64) -> i64 {
    (hours * 3600.0 * 1000.0 / STEP_MS as f64) as i64
}

/// The first round's timestamp (ms, on a 15 s tick) for `rounds` rounds ending now.
pub fn start_ending_now(rounds: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (now - rounds * STEP_MS) / STEP_MS * STEP_MS
}

/// Prints the size of the workload for `hosts` hosts over `hours` (the first line of a bench).
pub fn print_workload(hosts: usize, hours: f64) {
    let w = Workload::new(hosts, 42);
    let rounds = (hours * 3600.0 * 1000.0 / STEP_MS as f64) as u64;
    println!(
        "workload: {} hosts × {} series = {} series, {} h at 15 s = {} rounds, {:.1} M samples",
        hosts,
        w.per_host,
        w.len(),
        hours,
        rounds,
        (w.len() as u64 * rounds) as f64 / 1e6
    );
}

/// Sends `rounds` rounds of the seeded workload for `hosts` hosts from `start` (ms) to `t` in
/// time order (requests of `per_request` series, two concurrent senders per round).
pub fn send_workload(
    t: &Target,
    hosts: usize,
    rounds: i64,
    start: i64,
    per_request: usize,
) -> Loaded {
    let (tx, rx) = mpsc::sync_channel::<Vec<Vec<u8>>>(2);
    let producer = std::thread::spawn(move || {
        let mut w = Workload::new(hosts, 42);
        let n = w.len() as u64;
        for r in 0..rounds {
            let bodies: Vec<Vec<u8>> = w
                .round(start + r * STEP_MS, per_request)
                .iter()
                .map(remote::encode_write_request)
                .collect();
            if tx.send(bodies).is_err() {
                break;
            }
        }
        n
    });
    let url = format!("{}/api/v1/write", t.url());
    // One kept-alive connection per sender, as Prometheus' remote-write shards keep theirs
    // (`ureq::post` alone would open a new connection per request).
    let senders = [ureq::Agent::new(), ureq::Agent::new()];
    let began = Instant::now();
    for bodies in rx {
        // Two senders per round; the next round starts when this one is stored (time order).
        let (a1, b1) = bodies.split_at(bodies.len() / 2);
        std::thread::scope(|s| {
            for (part, agent) in [a1, b1].into_iter().zip(&senders) {
                let url = &url;
                s.spawn(move || {
                    for body in part {
                        let r = agent
                            .post(url)
                            .set("Content-Encoding", "snappy")
                            .set("Content-Type", "application/x-protobuf")
                            .set("X-Prometheus-Remote-Write-Version", "0.1.0")
                            .timeout(Duration::from_secs(120))
                            .send_bytes(body);
                        if let Err(e) = r {
                            panic!("write failed: {e}");
                        }
                    }
                });
            }
        });
    }
    let wall = began.elapsed();
    let series = producer.join().unwrap();
    Loaded {
        series,
        rounds,
        start_ms: start,
        wall,
    }
}
