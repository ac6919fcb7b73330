//! Helpers for the PromQL differential test against a real Prometheus: the seeded data set,
//! a Prometheus process fed over remote-write, and query answers normalised for comparison.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use remote::prompb::{Label, Sample, TimeSeries, WriteRequest};

/// Scrape interval of the data set (ms).
pub const STEP_MS: i64 = 15_000;

/// One generated series: its labels (with `__name__`) and a value per round (None: no sample).
pub struct GenSeries {
    /// Label pairs, `__name__` included.
    pub labels: Vec<(String, String)>,
    /// The value at each round.
    pub values: Vec<Option<f64>>,
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (v * p).round() / p
}

/// Builds the series of the data set for `rounds` rounds from `seed`.
pub fn generate(rounds: usize, seed: u64) -> Vec<GenSeries> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let mut push = |name: &str, labels: &[(&str, &str)], values: Vec<Option<f64>>| {
        let mut l = vec![("__name__".to_string(), name.to_string())];
        l.extend(labels.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        out.push(GenSeries { labels: l, values });
    };
    // A counter from a large start (so 2.x and 3.x rate extrapolation agree), reset to a
    // still large value at the rounds in `resets`, present in rounds [from, to).
    let counter = |rng: &mut StdRng, rate: f64, resets: &[usize], from: usize, to: usize| {
        let mut v = round_to(1e6 + rng.gen_range(0.0..1e5), 3);
        (0..rounds)
            .map(|r| {
                v = if resets.contains(&r) {
                    round_to(1e5 + rng.gen_range(0.0..1e3), 3)
                } else {
                    round_to(v + rate * 15.0 * rng.gen_range(0.2..1.8), 3)
                };
                (from..to).contains(&r).then_some(v)
            })
            .collect::<Vec<_>>()
    };
    // A random walk with `decimals` decimals, kept within [lo, hi].
    let walk = |rng: &mut StdRng, lo: f64, hi: f64, step: f64, decimals: i32| {
        let mut v = round_to(rng.gen_range(lo..hi), decimals);
        (0..rounds)
            .map(|_| {
                v = round_to((v + rng.gen_range(-step..step)).clamp(lo, hi), decimals);
                Some(v)
            })
            .collect::<Vec<_>>()
    };
    let nodes: Vec<String> = (0..4).map(|i| format!("node-{i}:9100")).collect();
    let apis: Vec<String> = (0..3).map(|i| format!("api-{i}:8080")).collect();
    for (i, inst) in nodes.iter().enumerate() {
        let base = [("job", "node"), ("instance", inst.as_str())];
        for cpu in ["0", "1"] {
            for (mode, rate) in [("idle", 0.8), ("user", 0.15), ("system", 0.05)] {
                let resets: &[usize] = if i == 3 { &[200] } else { &[] };
                let v = counter(&mut rng, rate, resets, 0, rounds);
                push(
                    "node_cpu_seconds_total",
                    &[base[0], base[1], ("cpu", cpu), ("mode", mode)],
                    v,
                );
            }
        }
        for device in ["eth0", "lo"] {
            let rate = rng.gen_range(1e3..1e5);
            let v = counter(&mut rng, rate, &[], 0, rounds);
            let v = v.into_iter().map(|x| x.map(f64::round)).collect();
            push(
                "node_network_receive_bytes_total",
                &[base[0], base[1], ("device", device)],
                v,
            );
        }
        let total = 8.0 * 1024.0 * 1024.0 * 1024.0 * (i + 1) as f64;
        push("node_memory_total_bytes", &base, vec![Some(total); rounds]);
        let free = walk(&mut rng, 0.1 * total, 0.9 * total, 5e7, 0);
        push("node_memory_free_bytes", &base, free);
        for sensor in ["a", "b"] {
            let v = walk(&mut rng, -20.0, 45.0, 1.5, 2);
            push(
                "node_temp_celsius",
                &[base[0], base[1], ("sensor", sensor)],
                v,
            );
        }
        let load = walk(&mut rng, 0.0, 8.0, 0.4, 3);
        push("node_load1", &base, load);
        let version = format!("1.{}", i % 2);
        let team = ["infra", "storage"][i % 2];
        push(
            "target_info",
            &[base[0], base[1], ("version", &version), ("team", team)],
            vec![Some(1.0); rounds],
        );
    }
    for (i, inst) in apis.iter().enumerate() {
        let base = [("job", "api"), ("instance", inst.as_str())];
        for method in ["GET", "POST"] {
            for (code, rate) in [("200", 20.0), ("500", 0.5)] {
                let resets: &[usize] = if i == 1 { &[150, 390] } else { &[] };
                let v = counter(&mut rng, rate, resets, 0, rounds);
                let v = v.into_iter().map(|x| x.map(f64::round)).collect();
                push(
                    "http_requests_total",
                    &[base[0], base[1], ("method", method), ("code", code)],
                    v,
                );
            }
        }
        for queue in ["q1", "q2"] {
            let v = walk(&mut rng, 0.0, 12.0, 2.0, 0);
            push("app_queue_depth", &[base[0], base[1], ("queue", queue)], v);
        }
        push(
            "target_info",
            &[base[0], base[1], ("version", "2.0"), ("team", "web")],
            vec![Some(1.0); rounds],
        );
        histogram(&mut rng, rounds, &base, &mut push);
    }
    // Batch jobs: one stops midway, one starts midway.
    for (inst, from, to) in [("b-0", 0, rounds / 2), ("b-1", rounds / 4, rounds)] {
        let base = [("job", "batch"), ("instance", inst)];
        let v = counter(&mut rng, 3.0, &[], from, to);
        push("batch_processed_total", &base, v);
        let v = walk(&mut rng, -5.0, 5.0, 1.0, 1);
        let v = (0..rounds)
            .map(|r| v[r].filter(|_| (from..to).contains(&r)))
            .collect();
        push("batch_lag_seconds", &base, v);
    }
    out
}

/// Upper bounds of the classic histogram's buckets.
pub const LE: [&str; 7] = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];

/// A classic histogram `http_request_duration_seconds` (exponential durations, ~0.3 s mean)
/// that already holds many observations when the data starts.
fn histogram(
    rng: &mut StdRng,
    rounds: usize,
    base: &[(&str, &str)],
    push: &mut impl FnMut(&str, &[(&str, &str)], Vec<Option<f64>>),
) {
    let bounds: Vec<f64> = LE
        .iter()
        .map(|s| s.parse().unwrap_or(f64::INFINITY))
        .collect();
    let mut counts = vec![0.0; LE.len()];
    let mut sum = 0.0;
    let mut series = vec![Vec::with_capacity(rounds); LE.len() + 2];
    for r in 0..=rounds {
        let n = if r == 0 { 20_000 } else { rng.gen_range(0..30) };
        for _ in 0..n {
            let d = -0.3 * (1.0 - rng.gen::<f64>()).ln();
            sum += d;
            for (c, b) in counts.iter_mut().zip(&bounds) {
                if d <= *b {
                    *c += 1.0;
                }
            }
        }
        if r > 0 {
            for (s, c) in series.iter_mut().zip(&counts) {
                s.push(Some(*c));
            }
            series[LE.len()].push(Some(counts[LE.len() - 1]));
            series[LE.len() + 1].push(Some(round_to(sum, 4)));
        }
    }
    let mut it = series.into_iter();
    for le in LE {
        let mut l = base.to_vec();
        l.push(("le", le));
        push(
            "http_request_duration_seconds_bucket",
            &l,
            it.next().unwrap(),
        );
    }
    push(
        "http_request_duration_seconds_count",
        base,
        it.next().unwrap(),
    );
    push(
        "http_request_duration_seconds_sum",
        base,
        it.next().unwrap(),
    );
}

/// Remote-write requests in time order, `per` rounds each; round `r` is at `t0 + r·STEP_MS`.
pub fn write_requests(series: &[GenSeries], t0: i64, per: usize) -> Vec<WriteRequest> {
    let rounds = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    (0..rounds)
        .step_by(per)
        .map(|from| WriteRequest {
            timeseries: series
                .iter()
                .filter_map(|s| {
                    let samples: Vec<Sample> = (from..(from + per).min(rounds))
                        .filter_map(|r| {
                            s.values[r].map(|value| Sample {
                                value,
                                timestamp: t0 + r as i64 * STEP_MS,
                            })
                        })
                        .collect();
                    let mut labels: Vec<Label> = s
                        .labels
                        .iter()
                        .map(|(n, v)| Label {
                            name: n.clone(),
                            value: v.clone(),
                        })
                        .collect();
                    labels.sort_by(|a, b| a.name.cmp(&b.name));
                    (!samples.is_empty()).then_some(TimeSeries {
                        labels,
                        samples,
                        ..Default::default()
                    })
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

/// A running Prometheus with the remote-write receiver on and no scrape jobs.
pub struct Prometheus {
    /// The process.
    pub child: Child,
    /// Its base URL.
    pub url: String,
}

impl Prometheus {
    /// Starts `bin` on `dir` and waits until `/-/ready`.
    pub fn start(bin: &Path, dir: &Path, port: u16) -> Prometheus {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, "global:\n  evaluation_interval: 1m\n").unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning prometheus");
        let p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while ureq::get(&format!("{}/-/ready", p.url))
            .timeout(Duration::from_millis(500))
            .call()
            .is_err()
        {
            assert!(Instant::now() < deadline, "prometheus not ready in 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Milliseconds as the API's float seconds with three decimals.
pub fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Labels as a sorted map.
pub type LabelMap = BTreeMap<String, String>;

/// A query answer normalised for comparison.
#[derive(Debug, Clone)]
pub enum Answer {
    /// An error: its `errorType` and message.
    Error(String, String),
    /// A string result.
    Str(String),
    /// A scalar, vector or matrix: its type and series in answer order (ms, value).
    Series(String, Vec<(LabelMap, Vec<(i64, f64)>)>),
}

fn num(v: &serde_json::Value) -> f64 {
    match v.as_str() {
        Some("NaN") => f64::NAN,
        Some("+Inf") => f64::INFINITY,
        Some("-Inf") => f64::NEG_INFINITY,
        Some(s) => s.parse().unwrap_or(f64::NAN),
        None => f64::NAN,
    }
}

fn point(p: &serde_json::Value) -> (i64, f64) {
    (
        (p[0].as_f64().unwrap_or(0.0) * 1000.0).round() as i64,
        num(&p[1]),
    )
}

fn labels(m: &serde_json::Value) -> LabelMap {
    m.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// GETs `url/path` with `params` and normalises the Prometheus API answer.
pub fn query(agent: &ureq::Agent, url: &str, path: &str, params: &[(&str, &str)]) -> Answer {
    let mut req = agent.get(&format!("{url}{path}"));
    for (k, v) in params {
        req = req.query(k, v);
    }
    let body: serde_json::Value = match req.call() {
        Ok(r) => r.into_json().unwrap_or_default(),
        Err(ureq::Error::Status(_, r)) => r.into_json().unwrap_or_default(),
        Err(e) => return Answer::Error("transport".into(), e.to_string()),
    };
    if body["status"] != "success" {
        let s = |k: &str| body[k].as_str().unwrap_or("").to_string();
        return Answer::Error(s("errorType"), s("error"));
    }
    let data = &body["data"];
    let kind = data["resultType"].as_str().unwrap_or("").to_string();
    let r = &data["result"];
    let series = match kind.as_str() {
        "string" => return Answer::Str(r[1].as_str().unwrap_or("").to_string()),
        "scalar" => vec![(LabelMap::new(), vec![point(r)])],
        "vector" => r
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| (labels(&s["metric"]), vec![point(&s["value"])]))
            .collect(),
        _ => r
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let pts = s["values"].as_array().into_iter().flatten().map(point);
                (labels(&s["metric"]), pts.collect())
            })
            .collect(),
    };
    Answer::Series(kind, series)
}

/// Equal within 1e-9 relative, NaN equal to NaN; also within 1e-12 absolute, since sums
/// that cancel to 0 leave rounding noise (~1e-17) that differs between summation methods
/// (Kahan in Vitals and 3.x, incremental in 2.42). The data has no smaller real values.
fn same_value(a: f64, b: f64) -> bool {
    let d = (a - b).abs();
    (a.is_nan() && b.is_nan()) || a == b || d <= 1e-9 * a.abs().max(b.abs()) || d < 1e-12
}

/// Whether two answers agree: same type, same series (label sets), same timestamps, values
/// equal (see `same_value`); with `ordered`, also the same sequence of values (the order
/// `sort`/`sort_desc` define; ties may come in any order).
pub fn same_answer(a: &Answer, b: &Answer, ordered: bool) -> bool {
    match (a, b) {
        (Answer::Error(x, _), Answer::Error(y, _)) => x == y,
        (Answer::Str(x), Answer::Str(y)) => x == y,
        (Answer::Series(ka, sa), Answer::Series(kb, sb)) => {
            let pts_eq = |p: &[(i64, f64)], q: &[(i64, f64)]| {
                p.len() == q.len()
                    && p.iter()
                        .zip(q)
                        .all(|(x, y)| x.0 == y.0 && same_value(x.1, y.1))
            };
            let ma: BTreeMap<&LabelMap, &Vec<(i64, f64)>> =
                sa.iter().map(|(l, p)| (l, p)).collect();
            let mb: BTreeMap<&LabelMap, &Vec<(i64, f64)>> =
                sb.iter().map(|(l, p)| (l, p)).collect();
            let values = |s: &[(LabelMap, Vec<(i64, f64)>)]| -> Vec<(i64, f64)> {
                s.iter().flat_map(|x| x.1.clone()).collect()
            };
            ka == kb
                && sa.len() == ma.len()
                && sb.len() == mb.len()
                && ma.len() == mb.len()
                && ma
                    .iter()
                    .all(|(l, p)| mb.get(l).is_some_and(|q| pts_eq(p, q)))
                && (!ordered || pts_eq(&values(sa), &values(sb)))
        }
        _ => false,
    }
}

fn show_series(l: &LabelMap, p: &[(i64, f64)]) -> String {
    let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    let p: Vec<String> = p.iter().map(|(t, v)| format!("{v}@{}", secs(*t))).collect();
    format!("{{{}}} {}", l.join(","), p.join(" "))
}

/// A short rendering of an answer for mismatch reports: for two series answers of one type,
/// only the series that differ, from their first differing point.
pub fn show(a: &Answer, other: &Answer, max: usize) -> String {
    let s = match (a, other) {
        (Answer::Error(t, m), _) => format!("error {t}: {m}"),
        (Answer::Str(s), _) => format!("string {s:?}"),
        (Answer::Series(k, s), Answer::Series(ko, so)) if k == ko => {
            let theirs: BTreeMap<&LabelMap, &Vec<(i64, f64)>> =
                so.iter().map(|(l, p)| (l, p)).collect();
            let mut sorted = s.clone();
            sorted.sort_by(|x, y| x.0.cmp(&y.0));
            let parts: Vec<String> = sorted
                .iter()
                .filter_map(|(l, p)| {
                    let q = theirs.get(l).map(|q| q.as_slice()).unwrap_or(&[]);
                    let same =
                        |(x, y): (&(i64, f64), &(i64, f64))| x.0 == y.0 && same_value(x.1, y.1);
                    let first = p.iter().zip(q).take_while(|&pair| same(pair)).count();
                    (first < p.len().max(q.len())).then(|| show_series(l, &p[first.min(p.len())..]))
                })
                .collect();
            format!("{k}[{}], differing: {}", s.len(), parts.join("; "))
        }
        (Answer::Series(k, s), _) => {
            let parts: Vec<String> = s.iter().map(|(l, p)| show_series(l, p)).collect();
            format!("{k}[{}]: {}", s.len(), parts.join("; "))
        }
    };
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max).collect::<String>())
    } else {
        s
    }
}
