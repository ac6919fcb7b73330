//! The standard ingest benchmark: the seeded node_exporter/cAdvisor-like workload sent by
//! remote-write in time-ordered rounds to Vitals and, when on PATH, Prometheus and
//! VictoriaMetrics, in the same run. Measures only the server process.
//!
//! `cargo bench --bench ingest -- [--hosts 100] [--hours 6] [--targets vitals,prometheus,victoria-metrics] [--settle 30]`

#[path = "../tests/common/workload.rs"]
mod workload;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use workload::{Workload, STEP_MS};

struct Args {
    hosts: usize,
    hours: f64,
    targets: Vec<String>,
    settle: u64,
    per_request: usize,
}

fn args() -> Args {
    let mut a = Args {
        hosts: 100,
        hours: 6.0,
        targets: vec![
            "vitals".into(),
            "prometheus".into(),
            "victoria-metrics".into(),
        ],
        settle: 30,
        per_request: 5000,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let next = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--hosts" => a.hosts = next.parse().expect("--hosts N"),
            "--hours" => a.hours = next.parse().expect("--hours H"),
            "--targets" => a.targets = next.split(',').map(String::from).collect(),
            "--settle" => a.settle = next.parse().expect("--settle SECONDS"),
            "--per-request" => a.per_request = next.parse().expect("--per-request N"),
            "--bench" => {
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn on_path(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|c| c.is_file())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Target {
    name: String,
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Target {
    fn spawn(&self) -> Child {
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
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.name))
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) -> Duration {
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

fn proc_stat(pid: u32) -> (f64, u64, u64, u64) {
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

fn dir_size(p: &Path) -> u64 {
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

/// Bytes and samples of the immutable blocks (dirs with meta.json) under `data`.
fn blocks(data: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut samples = 0;
    for e in std::fs::read_dir(data).into_iter().flatten().flatten() {
        let meta = e.path().join("meta.json");
        if let Ok(m) = std::fs::read(&meta) {
            let v: serde_json::Value = serde_json::from_slice(&m).unwrap_or_default();
            samples += v["stats"]["numSamples"].as_u64().unwrap_or(0);
            bytes += dir_size(&e.path());
        }
    }
    (bytes, samples)
}

struct Row {
    name: String,
    samples: u64,
    cpu_per_m: f64,
    peak_rss: u64,
    settled_rss: u64,
    disk_per_sample: f64,
    block_per_sample: Option<f64>,
    written_per_sample: f64,
    restart: Duration,
    ingest_wall: Duration,
}

fn run(t: &Target, a: &Args) -> Row {
    let _ = std::fs::remove_dir_all(&t.dir);
    std::fs::create_dir_all(&t.dir).unwrap();
    let mut child = t.spawn();
    t.wait_ready();
    let pid = child.id();
    let (cpu0, _, _, wb0) = proc_stat(pid);
    let rounds = (a.hours * 3600.0 * 1000.0 / STEP_MS as f64) as i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let start = (now - rounds * STEP_MS) / STEP_MS * STEP_MS;
    let (tx, rx) = mpsc::sync_channel::<Vec<Vec<u8>>>(2);
    let (hosts, per_request) = (a.hosts, a.per_request);
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
    let began = Instant::now();
    for bodies in rx {
        // Two senders per round; the next round starts when this one is stored (time order).
        let (a1, b1) = bodies.split_at(bodies.len() / 2);
        std::thread::scope(|s| {
            for part in [a1, b1] {
                let url = &url;
                s.spawn(move || {
                    for body in part {
                        let r = ureq::post(url)
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
    let ingest_wall = began.elapsed();
    let series = producer.join().unwrap();
    let samples = series * rounds as u64;
    let (cpu1, _, _, _) = proc_stat(pid);
    if t.name == "victoria-metrics" {
        let _ = ureq::get(&format!("{}/internal/force_flush", t.url())).call();
        let _ = ureq::get(&format!("{}/internal/force_merge", t.url())).call();
    }
    std::thread::sleep(Duration::from_secs(a.settle));
    let (_, peak, settled, wb1) = proc_stat(pid);
    let data = t.dir.join("data");
    let disk = dir_size(&data);
    let (bb, bs) = blocks(&data);
    // Graceful stop, then restart-to-ready.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    let started = Instant::now();
    let mut child = t.spawn();
    t.wait_ready();
    let restart = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    Row {
        name: t.name.clone(),
        samples,
        cpu_per_m: (cpu1 - cpu0) / (samples as f64 / 1e6),
        peak_rss: peak,
        settled_rss: settled,
        disk_per_sample: disk as f64 / samples as f64,
        block_per_sample: (bs > 0).then(|| bb as f64 / bs as f64),
        written_per_sample: (wb1 - wb0) as f64 / samples as f64,
        restart,
        ingest_wall,
    }
}

fn main() {
    let a = args();
    let w = Workload::new(a.hosts, 42);
    let rounds = (a.hours * 3600.0 * 1000.0 / STEP_MS as f64) as u64;
    println!(
        "workload: {} hosts × {} series = {} series, {} h at 15 s = {} rounds, {:.1} M samples",
        a.hosts,
        w.per_host,
        w.len(),
        a.hours,
        rounds,
        (w.len() as u64 * rounds) as f64 / 1e6
    );
    drop(w);
    let mut rows = Vec::new();
    for name in &a.targets {
        let bin = match name.as_str() {
            "vitals" => Some(PathBuf::from(env!("CARGO_BIN_EXE_vitals"))),
            "prometheus" => on_path("prometheus"),
            "victoria-metrics" => on_path("victoria-metrics"),
            other => panic!("unknown target {other}"),
        };
        let Some(bin) = bin else {
            println!("SKIPPED: {name} not on PATH");
            continue;
        };
        let t = Target {
            name: name.clone(),
            bin,
            dir: std::env::temp_dir().join(format!("vitals-bench-{name}")),
            port: free_port(),
        };
        eprintln!("== {name}");
        let row = run(&t, &a);
        let _ = std::fs::remove_dir_all(&t.dir);
        rows.push(row);
    }
    println!("\n| target | samples | CPU s / M samples | peak RSS MiB | settled RSS MiB | disk B/sample (whole dir) | blocks B/sample | written B/sample | restart s | ingest wall s |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.3} | {:.0} | {:.0} | {:.2} | {} | {:.2} | {:.2} | {:.1} |",
            r.name,
            r.samples,
            r.cpu_per_m,
            r.peak_rss as f64 / 1048576.0,
            r.settled_rss as f64 / 1048576.0,
            r.disk_per_sample,
            r.block_per_sample
                .map_or("-".to_string(), |b| format!("{b:.2}")),
            r.written_per_sample,
            r.restart.as_secs_f64(),
            r.ingest_wall.as_secs_f64()
        );
    }
    if let Some(v) = rows.iter().find(|r| r.name == "vitals") {
        for p in rows.iter().filter(|r| r.name != "vitals") {
            println!(
                "vitals vs {}: CPU {:.2}×, peak RSS {:.2}×, settled RSS {:.2}×, disk {:.2}×, written {:.2}×",
                p.name, v.cpu_per_m / p.cpu_per_m, v.peak_rss as f64 / p.peak_rss as f64, v.settled_rss as f64 / p.settled_rss as f64, v.disk_per_sample / p.disk_per_sample, v.written_per_sample / p.written_per_sample
            );
        }
    }
}
