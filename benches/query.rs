//! The standard query benchmark: loads the seeded standard workload into Vitals, Prometheus
//! and VictoriaMetrics (each alone, fresh directory), then times 25 dashboard and alerting
//! queries over HTTP against each, checks that the answers agree, and reports server RSS.
//!
//! `cargo bench --bench query -- [--hosts 100] [--hours 6] [--runs 10] [--targets vitals,prometheus,victoria-metrics] [--only name,name] [--settle-max 300] [--vm-cache] [--dump DIR] [--ago MINUTES] [--keep DIR]`
//! (`--dump DIR` writes each target's first answer to DIR/<target>/<query>.json; `--ago M`
//! ends the data M minutes before now instead of now, which sets how much of it is still in
//! the head rather than in blocks; `--keep DIR` moves each target's loaded data directory to
//! DIR/<target> after its queries, with the data's last timestamp in DIR/<target>/end_ms)

#[path = "common/mod.rs"]
mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{proc_stat, send_workload, Loaded, Target, ALL_TARGETS};

/// Command-line knobs.
struct Args {
    hosts: usize,
    hours: f64,
    targets: Vec<String>,
    runs: usize,
    per_request: usize,
    settle_max: u64,
    only: Option<Vec<String>>,
    vm_cache: bool,
    dump: Option<std::path::PathBuf>,
    ago_min: i64,
    keep: Option<std::path::PathBuf>,
}

/// Parses `--flag value` pairs (and `--vm-cache`); ignores what cargo adds (`--bench`).
fn args() -> Args {
    let mut a = Args {
        hosts: 100,
        hours: 6.0,
        targets: ALL_TARGETS.iter().map(|s| s.to_string()).collect(),
        runs: 10,
        per_request: 5000,
        settle_max: 300,
        only: None,
        vm_cache: false,
        dump: None,
        ago_min: 0,
        keep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--hosts" => a.hosts = value().parse().expect("--hosts N"),
            "--hours" => a.hours = value().parse().expect("--hours H"),
            "--runs" => a.runs = value().parse().expect("--runs N"),
            "--per-request" => a.per_request = value().parse().expect("--per-request N"),
            "--settle-max" => a.settle_max = value().parse().expect("--settle-max SECONDS"),
            "--targets" => a.targets = value().split(',').map(String::from).collect(),
            "--only" => a.only = Some(value().split(',').map(String::from).collect()),
            "--vm-cache" => a.vm_cache = true,
            "--dump" => a.dump = Some(value().into()),
            "--ago" => a.ago_min = value().parse().expect("--ago MINUTES"),
            "--keep" => a.keep = Some(value().into()),
            _ => {}
        }
    }
    assert!(a.runs > 0, "--runs must be at least 1");
    for t in &a.targets {
        assert!(ALL_TARGETS.contains(&t.as_str()), "unknown target {t}");
    }
    a
}

/// How a query is evaluated: a range query over the last `hours` with `step_s`, or instant.
#[derive(Clone, Copy)]
enum Span {
    Range { hours: f64, step_s: i64 },
    Instant,
}

/// One benchmark query.
struct Query {
    name: &'static str,
    expr: &'static str,
    span: Span,
}

/// Range query over the last hour with a Grafana-like step.
const fn h1(step_s: i64) -> Span {
    Span::Range { hours: 1.0, step_s }
}

/// Range query over the last six hours with a Grafana-like step.
const fn h6(step_s: i64) -> Span {
    Span::Range { hours: 6.0, step_s }
}

/// The query set: typical Grafana dashboard panels and alerting rules over the workload.
/// The workload's memory gauges are `node_memory_m{0..39}_bytes`; m0 stands for MemTotal,
/// m1 for MemFree, m2 for Cached.
const QUERIES: [Query; 25] = [
    Query {
        name: "cpu_busy",
        expr: r#"sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#,
        span: h6(60),
    },
    Query {
        name: "cpu_util",
        expr: r#"1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))"#,
        span: h1(15),
    },
    Query {
        name: "cpu_by_mode_re",
        expr: r#"sum by (mode) (irate(node_cpu_seconds_total{instance=~"node-00[0-4].*"}[5m]))"#,
        span: h1(15),
    },
    Query {
        name: "net_rx_irate",
        expr: r#"irate(node_network_receive_bytes_total{device=~"eth.*"}[5m])"#,
        span: h1(15),
    },
    Query {
        name: "net_tx_bits",
        expr: r#"sum by (instance) (rate(node_network_transmit_bytes_total{device!~"lo|cni.*"}[5m])) * 8"#,
        span: h6(120),
    },
    Query {
        name: "disk_read_re",
        expr: r#"sum by (instance, device) (rate(node_disk_read_bytes_total{instance=~"node-0(0|1)[0-9].cluster.local:9100"}[5m]))"#,
        span: h1(15),
    },
    Query {
        name: "disk_io_util",
        expr: r#"rate(node_disk_io_time_seconds_total[5m])"#,
        span: h6(60),
    },
    Query {
        name: "mem_used_ratio",
        expr: r#"(node_memory_m0_bytes - node_memory_m1_bytes - node_memory_m2_bytes) / node_memory_m0_bytes"#,
        span: h6(60),
    },
    Query {
        name: "fs_free_ratio",
        expr: r#"node_filesystem_avail_bytes{mountpoint=~"/|/data|/var/.*",fstype!="tmpfs"} / node_filesystem_size_bytes{mountpoint=~"/|/data|/var/.*",fstype!="tmpfs"}"#,
        span: h1(30),
    },
    Query {
        name: "fs_deriv",
        expr: r#"deriv(node_filesystem_free_bytes{mountpoint="/"}[30m])"#,
        span: h6(120),
    },
    Query {
        name: "temp_max",
        expr: r#"max by (instance) (max_over_time(node_hwmon_temp_celsius[10m]))"#,
        span: h6(120),
    },
    Query {
        name: "http_p99",
        expr: r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"#,
        span: h6(60),
    },
    Query {
        name: "http_p90_handler",
        expr: r#"histogram_quantile(0.9, sum by (handler, le) (rate(http_request_duration_seconds_bucket{instance=~"node-01.*"}[5m])))"#,
        span: h1(15),
    },
    Query {
        name: "http_avg_latency",
        expr: r#"sum by (instance) (rate(http_request_duration_seconds_sum[5m])) / sum by (instance) (rate(http_request_duration_seconds_count[5m]))"#,
        span: h1(30),
    },
    Query {
        name: "top_pods_cpu",
        expr: r#"topk(5, sum by (pod) (rate(container_cpu_usage_seconds_total[5m])))"#,
        span: h1(30),
    },
    Query {
        name: "pod_cpu_share",
        expr: r#"sum by (instance, pod) (rate(container_cpu_usage_seconds_total[5m])) / on (instance) group_left sum by (instance) (rate(container_cpu_usage_seconds_total[5m]))"#,
        span: h1(30),
    },
    Query {
        name: "cpu_throttling",
        expr: r#"sum by (pod) (increase(container_cpu_cfs_throttled_periods_total[5m])) / sum by (pod) (increase(container_cpu_cfs_periods_total[5m]))"#,
        span: h1(30),
    },
    Query {
        name: "threads_avg",
        expr: r#"avg_over_time(container_threads[10m])"#,
        span: h1(30),
    },
    Query {
        name: "ns_mem",
        expr: r#"sum by (namespace) (container_memory_working_set_bytes)"#,
        span: h6(60),
    },
    Query {
        name: "pod_mem_limit",
        expr: r#"sum by (namespace, pod) (container_memory_working_set_bytes) / sum by (namespace, pod) (container_spec_memory_limit_bytes)"#,
        span: h6(120),
    },
    Query {
        name: "mem_p95_apps",
        expr: r#"quantile_over_time(0.95, container_memory_working_set_bytes{namespace="apps"}[1h])"#,
        span: h6(120),
    },
    Query {
        name: "alert_fs_fill",
        expr: r#"predict_linear(node_filesystem_free_bytes{fstype!~"tmpfs|vfat"}[1h], 4*3600) < 5e10"#,
        span: Span::Instant,
    },
    Query {
        name: "alert_high_cpu",
        expr: r#"100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))) > 30"#,
        span: Span::Instant,
    },
    Query {
        name: "net_increase_1h",
        expr: r#"sum by (instance) (increase(node_network_receive_bytes_total[1h]))"#,
        span: Span::Instant,
    },
    Query {
        name: "count_by_job",
        expr: r#"count by (job) ({__name__=~"node_.*"})"#,
        span: Span::Instant,
    },
];

/// Short label of a span for the tables.
fn span_label(s: Span) -> String {
    match s {
        Span::Range { hours, step_s } => format!("{hours}h/{step_s}s"),
        Span::Instant => "instant".into(),
    }
}

/// The API path and parameters of `q` against data from `data_start` to `data_end` (ms):
/// range ends aligned down to the step (as Grafana does), starts clamped to the data.
fn request(
    q: &Query,
    data_start: i64,
    data_end: i64,
) -> (&'static str, Vec<(&'static str, String)>) {
    let secs = |ms: i64| format!("{}.{:03}", ms / 1000, ms % 1000);
    match q.span {
        Span::Instant => (
            "/api/v1/query",
            vec![("query", q.expr.into()), ("time", secs(data_end))],
        ),
        Span::Range { hours, step_s } => {
            let step = step_s * 1000;
            let end = data_end / step * step;
            let start =
                (end - (hours * 3_600_000.0) as i64).max((data_start + step - 1) / step * step);
            let params = vec![
                ("query", q.expr.into()),
                ("start", secs(start)),
                ("end", secs(end)),
                ("step", step_s.to_string()),
            ];
            ("/api/v1/query_range", params)
        }
    }
}

/// What an answer contained: series, points and the sum of its finite values.
#[derive(Clone, Copy, Default)]
struct Answer {
    series: usize,
    points: usize,
    sum: f64,
}

/// Counts the series and points of a query response and sums its finite values.
fn summarize(body: &str) -> Result<Answer, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("bad JSON: {e}"))?;
    if v["status"] != "success" {
        return Err(format!("status {}", v["status"]));
    }
    let result = v["data"]["result"]
        .as_array()
        .ok_or("no data.result array")?;
    let mut a = Answer {
        series: result.len(),
        ..Answer::default()
    };
    let mut add = |p: &serde_json::Value| {
        a.points += 1;
        let x: f64 = p[1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN);
        if x.is_finite() {
            a.sum += x;
        }
    };
    for s in result {
        if let Some(vals) = s["values"].as_array() {
            vals.iter().for_each(&mut add);
        } else {
            add(&s["value"]);
        }
    }
    Ok(a)
}

/// Sends one query; returns the wall time until the whole body was read, and the body.
fn call(
    agent: &ureq::Agent,
    url: &str,
    params: &[(&str, String)],
) -> Result<(f64, String), String> {
    let mut req = agent.get(url);
    for (k, v) in params {
        req = req.query(k, v);
    }
    let t0 = Instant::now();
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            let body = r.into_string().unwrap_or_default();
            return Err(format!(
                "HTTP {code}: {}",
                body.chars().take(300).collect::<String>()
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let mut body = String::new();
    resp.into_reader()
        .read_to_string(&mut body)
        .map_err(|e| e.to_string())?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    if !body.contains(r#""status":"success""#) {
        summarize(&body)?;
    }
    Ok((ms, body))
}

/// The timings and answer of one query on one target.
#[derive(Default)]
struct Measured {
    times_ms: Vec<f64>,
    answer: Answer,
    error: Option<String>,
}

impl Measured {
    /// The median of the runs.
    fn median(&self) -> f64 {
        let mut t = self.times_ms.clone();
        t.sort_by(f64::total_cmp);
        let n = t.len();
        if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            t[n / 2]
        } else {
            (t[n / 2 - 1] + t[n / 2]) / 2.0
        }
    }

    /// The nearest-rank 95th percentile of the runs.
    fn p95(&self) -> f64 {
        let mut t = self.times_ms.clone();
        t.sort_by(f64::total_cmp);
        let i = ((t.len() as f64 * 0.95).ceil() as usize).clamp(1, t.len().max(1)) - 1;
        t.get(i).copied().unwrap_or(f64::NAN)
    }
}

/// Everything measured on one target.
struct TargetResult {
    name: String,
    loaded: Loaded,
    settle: Duration,
    hwm_before: u64,
    rss_before: u64,
    hwm_after: u64,
    rss_after: u64,
    query_peak: Option<u64>,
    query_cpu: f64,
    other_cpu: f64,
    wall: Duration,
    /// Bytes of the data directory, and blocks (count, samples in them) when the queries began.
    disk: u64,
    blocks: (usize, u64),
    queries: Vec<Measured>,
}

/// Number of series `t` sees at `time_ms` (`count({__name__=~".+"})`).
fn count_series(agent: &ureq::Agent, t: &Target, time_ms: i64) -> Option<u64> {
    let params = [
        ("query", r#"count({__name__=~".+"})"#.to_string()),
        ("time", format!("{}", time_ms as f64 / 1000.0)),
    ];
    let (_, body) = call(agent, &format!("{}/api/v1/query", t.url()), &params).ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1]
        .as_str()?
        .parse::<f64>()
        .ok()
        .map(|x| x as u64)
}

/// CPU seconds the whole machine has spent busy since boot (`/proc/stat`, all but idle and iowait).
fn busy_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f.iter().take(8).sum::<f64>() - f.get(3).unwrap_or(&0.0) - f.get(4).unwrap_or(&0.0)) / ticks
}

/// Waits until the server's CPU use stays under 5 % for five 2 s intervals (background
/// compaction, merges, head cuts done), at most `max_s` seconds; returns the time waited.
fn wait_idle(pid: u32, max_s: u64) -> Duration {
    let began = Instant::now();
    let mut quiet = 0;
    let mut cpu = proc_stat(pid).0;
    while quiet < 5 && began.elapsed() < Duration::from_secs(max_s) {
        std::thread::sleep(Duration::from_secs(2));
        let now = proc_stat(pid).0;
        quiet = if now - cpu < 0.1 { quiet + 1 } else { 0 };
        cpu = now;
    }
    began.elapsed()
}

/// Loads the workload into a fresh `t`, waits until it is queryable and idle, runs the set.
fn run_target(t: &Target, a: &Args, start: i64, queries: &[&Query]) -> TargetResult {
    let _ = std::fs::remove_dir_all(&t.dir);
    std::fs::create_dir_all(&t.dir).unwrap();
    let mut child = t.spawn();
    t.wait_ready();
    let pid = child.id();
    let loaded = send_workload(t, a.hosts, common::rounds(a.hours), start, a.per_request);
    eprintln!(
        "   loaded {:.1} M samples in {:.1} s",
        loaded.samples() as f64 / 1e6,
        loaded.wall.as_secs_f64()
    );
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(600))
        .build();
    let began = Instant::now();
    loop {
        if t.name == "victoria-metrics" {
            let _ = agent
                .get(&format!("{}/internal/force_flush", t.url()))
                .call();
        }
        let seen = count_series(&agent, t, loaded.end_ms());
        if seen == Some(loaded.series) {
            break;
        }
        if began.elapsed() > Duration::from_secs(300) {
            eprintln!(
                "!!! WARNING: {} sees {seen:?} series of {} after 300 s; querying anyway",
                t.name, loaded.series
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let settle = wait_idle(pid, a.settle_max);
    eprintln!("   queryable; idle after {:.1} s", settle.as_secs_f64());
    let (cpu0, hwm_before, rss_before, _) = proc_stat(pid);
    let disk = common::dir_size(&t.dir.join("data"));
    let (_, block_samples, block_count) = common::blocks(&t.dir.join("data"));
    let (busy0, own0, phase) = (busy_cpu(), proc_stat(std::process::id()).0, Instant::now());
    // Writing 5 to clear_refs resets VmHWM to the current RSS: the later VmHWM is the query phase's peak.
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let mut results = Vec::new();
    for q in queries {
        let (path, params) = request(q, loaded.start_ms, loaded.end_ms());
        let url = format!("{}{path}", t.url());
        let mut m = Measured::default();
        for i in 0..=a.runs {
            match call(&agent, &url, &params) {
                Ok((ms, body)) => {
                    if i == 0 {
                        m.answer = summarize(&body).unwrap_or_default();
                        if let Some(d) = &a.dump {
                            let d = d.join(&t.name);
                            std::fs::create_dir_all(&d).unwrap();
                            std::fs::write(d.join(format!("{}.json", q.name)), &body).unwrap();
                        }
                    } else {
                        m.times_ms.push(ms);
                    }
                }
                Err(e) => {
                    eprintln!("!!! {} {}: {e}", t.name, q.name);
                    m.error = Some(e);
                    break;
                }
            }
        }
        eprintln!(
            "   {:<18} median {:>9.2} ms  series {}",
            q.name,
            m.median(),
            m.answer.series
        );
        results.push(m);
    }
    let (cpu1, hwm_after, rss_after, _) = proc_stat(pid);
    let own = proc_stat(std::process::id()).0 - own0;
    let other_cpu = (busy_cpu() - busy0 - (cpu1 - cpu0) - own).max(0.0);
    let _ = child.kill();
    let _ = child.wait();
    TargetResult {
        name: t.name.clone(),
        loaded,
        settle,
        hwm_before,
        rss_before,
        hwm_after,
        rss_after,
        query_peak: reset.then_some(hwm_after),
        query_cpu: cpu1 - cpu0,
        other_cpu,
        wall: phase.elapsed(),
        disk,
        blocks: (block_count, block_samples),
        queries: results,
    }
}

/// `a / b` formatted as a ratio, or `-`.
fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "-".into()
    }
}

/// Mebibytes.
fn mib(b: u64) -> f64 {
    b as f64 / 1048576.0
}

/// Prints the timing table, the answer comparison and the memory table.
fn report(queries: &[&Query], rows: &[TargetResult], runs: usize) {
    let find = |n: &str| rows.iter().find(|r| r.name == n);
    let v = find("vitals");
    // Peers that Vitals' medians are divided by, with their short column names.
    let peers: Vec<(&TargetResult, &str)> = [("victoria-metrics", "VM"), ("prometheus", "Prom")]
        .into_iter()
        .filter_map(|(n, s)| find(n).filter(|_| v.is_some()).map(|r| (r, s)))
        .collect();
    let med = |r: &TargetResult, i: usize| match r.queries[i].error {
        Some(_) => f64::NAN,
        None => r.queries[i].median(),
    };
    let vmed = |i: usize| v.map_or(f64::NAN, |v| med(v, i));
    print!("\n| query | span |");
    for r in rows {
        print!(" {} median ms | {} p95 ms |", r.name, r.name);
    }
    for (_, s) in &peers {
        print!(" Vitals/{s} |");
    }
    println!(" series | check |");
    println!(
        "|---|---|{}---|---|",
        "---|".repeat(2 * rows.len() + peers.len())
    );
    let mut sums = vec![0.0; rows.len()];
    let mut disagree = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let ok_all = rows.iter().all(|r| r.queries[i].error.is_none());
        print!("| {} | {} |", q.name, span_label(q.span));
        for (j, r) in rows.iter().enumerate() {
            let m = &r.queries[i];
            if m.error.is_some() {
                print!(" ERR | ERR |");
            } else {
                print!(" {:.2} | {:.2} |", m.median(), m.p95());
                if ok_all {
                    sums[j] += m.median();
                }
            }
        }
        for (r, _) in &peers {
            print!(" {} |", ratio(vmed(i), med(r, i)));
        }
        let counts: Vec<usize> = rows.iter().map(|r| r.queries[i].answer.series).collect();
        let agree = ok_all && counts.windows(2).all(|w| w[0] == w[1]);
        if agree {
            println!(" {} | ok |", counts.first().copied().unwrap_or(0));
        } else {
            disagree.push(q.name);
            let each: Vec<String> = rows
                .iter()
                .map(|r| format!("{}={}", short(&r.name), r.queries[i].answer.series))
                .collect();
            println!(" {} | WARNING: series differ |", each.join(" "));
        }
    }
    print!("| **sum of medians** | |");
    for s in &sums {
        print!(" **{s:.1}** | |");
    }
    let sum_of = |r: &TargetResult| {
        rows.iter()
            .position(|x| x.name == r.name)
            .map_or(f64::NAN, |j| sums[j])
    };
    for (r, _) in &peers {
        print!(" **{}** |", ratio(v.map_or(f64::NAN, sum_of), sum_of(r)));
    }
    println!(" | |");
    println!("\n{runs} timed runs per query after one warm-up; p95 is nearest-rank; sums over queries that succeeded on every target.");
    for (r, s) in &peers {
        let logs: Vec<f64> = (0..queries.len())
            .map(|i| (vmed(i) / med(r, i)).ln())
            .filter(|x| x.is_finite())
            .collect();
        if !logs.is_empty() {
            let g = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
            println!("geometric mean of per-query median ratios, Vitals/{s}: {g:.2}");
        }
    }
    if !disagree.is_empty() {
        println!(
            "!!! WARNING: series counts differ across targets for: {}",
            disagree.join(", ")
        );
    }
    // Values are compared with Prometheus where it ran, else with the first target.
    let reference = find("prometheus").or(rows.first());
    let ref_name = reference.map_or("-", |r| r.name.as_str());
    println!("\nAnswers (series / points, and Σ of finite values relative to {ref_name}):\n");
    print!("| query |");
    for r in rows {
        print!(" {} series/points | {} Σ/{ref_name} |", r.name, r.name);
    }
    println!("\n|---|{}", "---|---|".repeat(rows.len()));
    for (i, q) in queries.iter().enumerate() {
        print!("| {} |", q.name);
        for r in rows {
            let a = r.queries[i].answer;
            let b = reference.map_or(f64::NAN, |p| p.queries[i].answer.sum);
            let rel = if a.sum == b {
                "1".into()
            } else {
                format!("{:.6}", a.sum / b)
            };
            print!(" {}/{} | {rel} |", a.series, a.points);
        }
        println!();
    }
    println!("\n| target | samples loaded | load s | settle s | VmHWM before MiB | VmRSS before MiB | query-phase peak MiB | VmHWM after MiB | VmRSS after MiB | query phase s | server CPU s | other CPU s | data MiB | blocks (% of samples) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.0} | {:.0} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {} ({:.0} %) |",
            r.name,
            r.loaded.samples(),
            r.loaded.wall.as_secs_f64(),
            r.settle.as_secs_f64(),
            mib(r.hwm_before),
            mib(r.rss_before),
            r.query_peak
                .map_or("-".into(), |b| format!("{:.0}", mib(b))),
            mib(r.hwm_after),
            mib(r.rss_after),
            r.wall.as_secs_f64(),
            r.query_cpu,
            r.other_cpu,
            mib(r.disk),
            r.blocks.0,
            100.0 * r.blocks.1 as f64 / r.loaded.samples().max(1) as f64
        );
    }
    println!("(query-phase peak: VmHWM after the queries, having reset it through /proc/PID/clear_refs once the load was done;\n other CPU s: what the rest of the machine used during the query phase, a noise gauge on a shared host)");
}

/// A short name of a target for narrow columns.
fn short(name: &str) -> &'static str {
    match name {
        "vitals" => "v",
        "prometheus" => "p",
        _ => "vm",
    }
}

fn main() {
    let a = args();
    common::print_workload(a.hosts, a.hours);
    let queries: Vec<&Query> = QUERIES
        .iter()
        .filter(|q| match &a.only {
            Some(only) => only.iter().any(|n| n == q.name),
            None => true,
        })
        .collect();
    // One data window for every target, so that their answers can be compared point by point.
    let start = common::start_ending_now(common::rounds(a.hours)) - a.ago_min * 60_000;
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let prefix = format!("vitals-qbench-{}", std::process::id());
    for name in &a.targets {
        let Some(mut t) = common::target(name, &prefix) else {
            eprintln!("!!! WARNING: {name} is not on PATH: SKIPPED, its columns are missing");
            skipped.push(name.clone());
            continue;
        };
        if name == "victoria-metrics" {
            t.extra.push("-search.latencyOffset=0s".into());
            if !a.vm_cache {
                t.extra.push("-search.disableCache".into());
            }
        }
        eprintln!("== {name}");
        let row = run_target(&t, &a, start, &queries);
        if let Some(keep) = &a.keep {
            let to = keep.join(name);
            let _ = std::fs::remove_dir_all(&to);
            std::fs::create_dir_all(keep).unwrap();
            std::fs::rename(t.dir.join("data"), &to).expect("--keep DIR on the same file system");
            std::fs::write(to.join("end_ms"), row.loaded.end_ms().to_string()).unwrap();
        }
        rows.push(row);
        let _ = std::fs::remove_dir_all(&t.dir);
    }
    report(&queries, &rows, a.runs);
    if !skipped.is_empty() {
        println!("\n!!! SKIPPED (not on PATH): {}", skipped.join(", "));
    }
}
