//! The standard ingest benchmark: the seeded node_exporter/cAdvisor-like workload sent by
//! remote-write in time-ordered rounds to Vitals and, when on PATH, Prometheus and
//! VictoriaMetrics, in the same run. Measures only the server process.
//!
//! `cargo bench --bench ingest -- [--hosts 100] [--hours 6] [--targets vitals,prometheus,victoria-metrics] [--settle 30]`

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{blocks, dir_size, proc_stat, send_workload, Target};

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
    let rounds = common::rounds(a.hours);
    let start = common::start_ending_now(rounds);
    let loaded = send_workload(t, a.hosts, rounds, start, a.per_request);
    let ingest_wall = loaded.wall;
    let samples = loaded.samples();
    let (cpu1, _, _, _) = proc_stat(pid);
    if t.name == "victoria-metrics" {
        let _ = ureq::get(&format!("{}/internal/force_flush", t.url())).call();
        let _ = ureq::get(&format!("{}/internal/force_merge", t.url())).call();
    }
    std::thread::sleep(Duration::from_secs(a.settle));
    let (_, peak, settled, wb1) = proc_stat(pid);
    let data = t.dir.join("data");
    let disk = dir_size(&data);
    let (bb, bs, _) = blocks(&data);
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
    common::print_workload(a.hosts, a.hours);
    let mut rows = Vec::new();
    for name in &a.targets {
        let Some(t) = common::target(name, "vitals-bench") else {
            continue;
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
