//! Differential test of Vitals' PromQL against a real Prometheus 2.x (Debian package): the
//! same seeded data is remote-written to both, then a few hundred queries (instant at several
//! times, range over several start/end/step combinations) and a handful of `promtool query`
//! commands must give the same answers. Skips loudly without `prometheus`/`promtool` on
//! PATH, fails instead when VITALS_REQUIRE_PEERS=1. Queries: the families generated below
//! (function × metric × range, aggregation × grouping, operator × operands) and the
//! hand-written list in `promql_peer.queries`. PROMQL_PEER_DEBUG=1 prints every answer of
//! Prometheus that is an error or empty.
//!
//! Vitals follows Prometheus 3, whose range windows are open on the left where 2.x closes
//! them; sample timestamps are offset by +7 ms and evaluation times by +3 ms from whole
//! seconds, so no sample ever lies on a window edge and the two agree. Counters start at
//! large values so the 2.x/3.x difference in rate extrapolation near zero never shows.
//! Left out on purpose (deliberate 3.x vs 2.x differences, or not in 2.42 without feature
//! flags): holt_winters, atan2 (3.x keeps `__name__`), regexes matching newlines, limitk,
//! limit_ratio, mad_over_time, ts_of_*, first_over_time, sort_by_label,
//! double_exponential_smoothing, info, native histograms, negative offsets, and rate/increase
//! of gauges (whose values near zero hit the changed zero cut-off).

mod common;
#[path = "common/promdiff.rs"]
mod promdiff;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{free_port, peer_binary, write, Server};
use promdiff::{query, same_answer, secs, show, Answer, Prometheus, STEP_MS};

/// Rounds of data: 2 h at 15 s.
const ROUNDS: usize = 480;

/// One query: its text, whether `sort`/`sort_desc` define its order, and whether it is also
/// run as a range query (matrix and string results are instant-only).
struct Q {
    expr: String,
    ordered: bool,
    range: bool,
}

fn q(expr: impl Into<String>) -> Q {
    let expr = expr.into();
    let ordered = expr.starts_with("sort");
    Q {
        expr,
        ordered,
        range: true,
    }
}

fn instant_only(expr: impl Into<String>) -> Q {
    Q {
        range: false,
        ..q(expr)
    }
}

/// The query list; `at` is a fixed evaluation time for the `@` modifier (float seconds).
fn queries(at: &str) -> Vec<Q> {
    let mut v = Vec::new();
    let counters = [
        "http_requests_total",
        "node_cpu_seconds_total{mode=\"idle\"}",
        "batch_processed_total",
    ];
    for f in ["rate", "irate", "increase", "resets", "changes"] {
        for m in counters {
            for r in ["1m", "5m", "17m", "1h"] {
                v.push(q(format!("{f}({m}[{r}])")));
            }
        }
    }
    let gauge_fns = [
        "delta",
        "idelta",
        "deriv",
        "changes",
        "resets",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "last_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "present_over_time",
    ];
    for f in gauge_fns {
        for m in ["node_temp_celsius", "app_queue_depth", "batch_lag_seconds"] {
            for r in ["90s", "10m", "1h"] {
                v.push(q(format!("{f}({m}[{r}])")));
            }
        }
    }
    for p in ["0", "0.25", "0.9", "1"] {
        v.push(q(format!(
            "quantile_over_time({p}, node_temp_celsius[10m])"
        )));
        v.push(q(format!(
            "quantile_over_time({p}, app_queue_depth{{queue=\"q1\"}}[30m])"
        )));
    }
    for (r, s) in [("10m", "600"), ("1h", "3600"), ("5m", "-300")] {
        v.push(q(format!(
            "predict_linear(node_memory_free_bytes[{r}], {s})"
        )));
        v.push(q(format!(
            "predict_linear(node_temp_celsius{{sensor=\"a\"}}[{r}], {s})"
        )));
    }
    aggregations(&mut v);
    operators(&mut v);
    for f in [
        "abs", "ceil", "floor", "round", "sqrt", "exp", "ln", "log2", "log10", "sgn", "sin", "cos",
        "atan", "deg", "rad",
    ] {
        v.push(q(format!("{f}(node_temp_celsius)")));
    }
    let listed = include_str!("promql_peer.queries").lines();
    for l in listed.filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let l = l.replace("@ AT", &format!("@ {at}"));
        v.push(match l.strip_prefix("instant: ") {
            Some(e) => instant_only(e),
            None => q(l),
        });
    }
    v
}

fn aggregations(v: &mut Vec<Q>) {
    let inputs = [
        (
            "rate(node_cpu_seconds_total[5m])",
            ["", " by (instance)", " by (job, mode)", " without (cpu)"],
        ),
        (
            "node_temp_celsius",
            ["", " by (sensor)", " without (instance)", " by (nothing)"],
        ),
        (
            "app_queue_depth",
            ["", " by (queue)", " without (queue)", " by (job)"],
        ),
    ];
    for (e, groupings) in inputs {
        for op in [
            "sum", "avg", "min", "max", "count", "stddev", "stdvar", "group",
        ] {
            for g in groupings {
                v.push(q(format!("{op}{g} ({e})")));
            }
        }
        for p in ["0", "0.5", "0.9", "1"] {
            v.push(q(format!("quantile{} ({p}, {e})", groupings[1])));
        }
    }
}

fn operators(v: &mut Vec<Q>) {
    for op in ["+", "-", "*", "/", "%", "^"] {
        v.push(q(format!("node_temp_celsius {op} 3")));
        v.push(q(format!("2 {op} node_load1")));
        v.push(q(format!(
            "node_memory_free_bytes {op} node_memory_total_bytes"
        )));
        v.push(q(format!("7 {op} 2")));
        v.push(q(format!("-7.5 {op} 2")));
    }
    for op in ["==", "!=", ">", "<", ">=", "<="] {
        v.push(q(format!("node_temp_celsius {op} 10")));
        v.push(q(format!("node_temp_celsius {op} bool 10")));
        v.push(q(format!("5 {op} app_queue_depth")));
        v.push(q(format!("5 {op} bool app_queue_depth")));
        v.push(q(format!(
            "node_temp_celsius{{sensor=\"a\"}} {op} ignoring (sensor) node_temp_celsius{{sensor=\"b\"}}"
        )));
        v.push(q(format!(
            "node_memory_free_bytes {op} bool on (instance) (node_memory_total_bytes / 2)"
        )));
        v.push(q(format!("1 {op} bool 2")));
    }
}

/// Runs `promtool query ARGS` and returns its stdout (stderr on failure).
fn promtool(bin: &std::path::Path, args: &[String]) -> String {
    let out = Command::new(bin).arg("query").args(args).output().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        s.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    s
}

/// promtool output with numbers rounded to 12 significant digits (sums and rate
/// extrapolation round differently in the last bits: Kahan summation and 3.x's operation
/// order in Vitals, naive summation in 2.42) and, with `sort`, lines sorted (the order of an
/// instant vector's series is undefined: Go map order in Prometheus). Nothing else differs.
fn normalise(s: &str, sort: bool) -> String {
    let mut lines: Vec<String> = s
        .lines()
        .map(|l| {
            let words = l.split(' ').map(|w| match w.parse::<f64>() {
                Ok(v) if v.is_finite() => format!("{v:.11e}"),
                _ => w.to_string(),
            });
            words.collect::<Vec<_>>().join(" ")
        })
        .collect();
    if sort {
        lines.sort_unstable();
    }
    lines.join("\n")
}

/// Remote-writes the data set, round 0 at `t0`, to every URL in time order, and waits until
/// each answers a count query with the full number of series.
fn load(agent: &ureq::Agent, urls: &[String], t0: i64, at: i64) {
    let data = promdiff::generate(ROUNDS, 42);
    for req in promdiff::write_requests(&data, t0, 20) {
        for url in urls {
            assert_eq!(write(url, &req), Ok(204), "remote-write to {url}");
        }
    }
    let count = "count(last_over_time({__name__=~\".+\"}[3h]))";
    let params = [("query", count), ("time", &secs(at))];
    let deadline = Instant::now() + Duration::from_secs(30);
    for url in urls {
        loop {
            let a = query(agent, url, "/api/v1/query", &params);
            if matches!(&a, Answer::Series(_, s) if s.first().is_some_and(|x| x.1[0].1 == data.len() as f64))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{url} never had all {} series: {a:?}",
                data.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Counts of the query comparison.
#[derive(Default)]
struct Tally {
    instant: usize,
    range: usize,
    /// Answers that were errors (on Prometheus; equal ones on Vitals).
    errors: usize,
    /// Answers with no series.
    empty: usize,
    mismatches: Vec<String>,
}

/// Runs one query (`params`) on Vitals (`urls[0]`) and Prometheus (`urls[1]`) and records
/// the outcome; `when` describes the evaluation time(s) for the report.
fn compare(
    agent: &ureq::Agent,
    urls: &[String],
    q: &Q,
    path: &str,
    params: &[(&str, String)],
    when: String,
    tally: &mut Tally,
) {
    let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ours = query(agent, &urls[0], path, &p);
    let theirs = query(agent, &urls[1], path, &p);
    match &theirs {
        Answer::Error(..) => tally.errors += 1,
        Answer::Series(_, s) if s.is_empty() => tally.empty += 1,
        _ => {}
    }
    if std::env::var_os("PROMQL_PEER_DEBUG").is_some()
        && !matches!(&theirs, Answer::Series(_, s) if !s.is_empty())
    {
        eprintln!("DEBUG {} @ {when}: {}", q.expr, show(&theirs, &theirs, 200));
    }
    if !same_answer(&ours, &theirs, q.ordered) {
        tally.mismatches.push(format!(
            "{} @ {when}\n    vitals:     {}\n    prometheus: {}",
            q.expr,
            show(&ours, &theirs, 600),
            show(&theirs, &ours, 600)
        ));
    }
}

/// The promtool commands (`URL` stands for the server), instant at `t`, range over [s, e].
fn promtool_commands(t: &str, s: &str, e: &str) -> Vec<Vec<String>> {
    let mut cmds: Vec<Vec<String>> = Vec::new();
    let mut add = |args: &[&str]| cmds.push(args.iter().map(|a| a.to_string()).collect());
    for expr in [
        "sort_desc(node_load1)",
        "http_requests_total{code=\"500\"}",
        "sum by (job) (rate(http_requests_total[5m]))",
        "scalar(sum(node_load1))",
        "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    ] {
        add(&["instant", &format!("--time={t}"), "URL", expr]);
    }
    for expr in [
        "node_load1",
        "sum by (instance) (rate(node_cpu_seconds_total[1m]))",
        "batch_lag_seconds",
    ] {
        add(&[
            "range",
            &format!("--start={s}"),
            &format!("--end={e}"),
            "--step=1m",
            "URL",
            expr,
        ]);
    }
    for m in [
        "node_load1",
        "{job=\"batch\"}",
        "http_requests_total{code=\"500\",instance=~\"api-[12].*\"}",
    ] {
        add(&["series", &format!("--match={m}"), "URL"]);
    }
    for name in ["job", "instance", "le", "__name__"] {
        add(&["labels", "URL", name]);
    }
    cmds
}

#[test]
fn promql_matches_prometheus() {
    let (Some(prom_bin), Some(promtool_bin)) = (peer_binary("prometheus"), peer_binary("promtool"))
    else {
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (vitals, _) = Server::start(&dir.path().join("vitals"), free_port(), &[]);
    std::fs::create_dir(dir.path().join("prom")).unwrap();
    let prom = Prometheus::start(&prom_bin, &dir.path().join("prom"), free_port());
    let urls = [vitals.url.clone(), prom.url.clone()];
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();

    // r: the last whole hour, so that subquery steps (epoch-aligned) fall at the same places
    // relative to the data on every run; the data spans the 2 h before r. Samples at +7 ms,
    // evaluation times `at(s)` (s seconds before r) at +3 ms.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let r = now - now % 3_600_000;
    let at = |s: i64| r - s * 1000 + 3;
    load(&agent, &urls, r - ROUNDS as i64 * STEP_MS + 7, at(1));

    let instants = [at(7150), at(5700), at(3421), at(4)];
    let ranges = [
        (at(7000), at(10), 60),
        (at(3900), at(3300), 7),
        (at(7300), at(200), 301),
        (at(900), at(-600), 45),
    ];
    let list = queries(&secs(at(4000)));
    let mut tally = Tally::default();
    for q in &list {
        for t in instants {
            let params = [("query", q.expr.clone()), ("time", secs(t))];
            compare(
                &agent,
                &urls,
                q,
                "/api/v1/query",
                &params,
                secs(t),
                &mut tally,
            );
            tally.instant += 1;
        }
        for (start, end, step) in ranges.iter().filter(|_| q.range) {
            let (start, end) = (secs(*start), secs(*end));
            let when = format!("{start}..{end} step {step}s");
            let params = [
                ("query", q.expr.clone()),
                ("start", start),
                ("end", end),
                ("step", step.to_string()),
            ];
            compare(
                &agent,
                &urls,
                q,
                "/api/v1/query_range",
                &params,
                when,
                &mut tally,
            );
            tally.range += 1;
        }
    }

    // promtool renders both servers' answers as text.
    let cmds = promtool_commands(&secs(at(4)), &secs(at(3700)), &secs(at(3400)));
    let mut tool_mismatches = 0;
    for args in &cmds {
        let unordered = args[0] == "instant" && !args[3].starts_with("sort");
        let run = |url: &str| {
            let a: Vec<String> = args.iter().map(|x| x.replace("URL", url)).collect();
            normalise(&promtool(&promtool_bin, &a), unordered)
        };
        let (ours, theirs) = (run(&urls[0]), run(&urls[1]));
        if ours != theirs || theirs.trim().is_empty() {
            tool_mismatches += 1;
            let cmd = args.join(" ");
            tally.mismatches.push(format!(
                "promtool query {cmd}\n    vitals:\n{ours}\n    prometheus:\n{theirs}"
            ));
        }
    }
    let Tally {
        instant,
        range,
        errors,
        empty,
        mismatches,
    } = tally;
    println!(
        "promql differential: {} queries ({instant} instant, {range} range) equal; promtool: {} commands equal \
         ({} expressions; Prometheus answered {errors} with errors, {empty} empty; {:.1} s)",
        instant + range + tool_mismatches - mismatches.len(),
        cmds.len() - tool_mismatches,
        list.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
