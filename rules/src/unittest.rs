//! Rule unit tests in promtool's format (`promtool test rules`): input series in the
//! expanding notation, alert and PromQL expectations, promtool's messages and exit codes.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use query::promql::ast::fmt_duration;
use query::promql::{parse, Engine, EngineOptions, Expr, MemStorage, STALE_NAN_BITS};
use serde::Deserialize;
use tsdb::{Labels, MatchOp};

use crate::alerting::AlertState;
use crate::eval::{EvalCtx, Group, GroupOptions};
use crate::Error;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<String>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    tests: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    eval_time: String,
    #[serde(default)]
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    eval_time: String,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    value: f64,
}

/// Runs each unit-test file as `promtool test rules` does, printing its report; returns
/// the exit code (0 all passed, 1 a failure).
pub fn run_files(files: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut failed = false;
    for f in files {
        let _ = writeln!(out, "Unit Testing:  {}", f.display());
        let errs = test_file(f);
        if errs.is_empty() {
            let _ = writeln!(out, "  SUCCESS");
        } else {
            let _ = writeln!(err, "  FAILED:");
            for e in errs {
                let _ = writeln!(err, "{e}");
                let _ = writeln!(out);
            }
            failed = true;
        }
        let _ = writeln!(out);
    }
    i32::from(failed)
}

fn dur(s: &str) -> Result<i64, String> {
    query::promql::lexer::parse_duration(s.trim())
        .ok_or_else(|| format!("not a valid duration string: {s:?}"))
}

/// Go's `time.Duration.String()` for whole milliseconds (`10m0s`, `1h0m0s`, `0s`).
fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let (h, m, s, frac) = (
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000,
    );
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

/// Runs one unit-test file; returns promtool's error lines (empty when all passed).
pub fn test_file(path: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![format!("open {}: {e}", path.display())],
    };
    let tf: TestFile = match serde_yaml::from_str(&text) {
        Ok(t) => t,
        Err(e) => return vec![e.to_string()],
    };
    let eval_ms = match tf.evaluation_interval.as_deref().map(dur).transpose() {
        Ok(v) => v.filter(|&v| v > 0).unwrap_or(60_000),
        Err(e) => return vec![e],
    };
    let mut order = HashMap::new();
    for (i, g) in tf.group_eval_order.iter().enumerate() {
        if order.insert(g.clone(), i).is_some() {
            return vec![format!("group name repeated in evaluation order: {g}")];
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let files = match crate::manager::expand_rule_files(dir, &tf.rule_files) {
        Ok(f) => f,
        Err(e) => return vec![e.to_string()],
    };
    let mut errs = Vec::new();
    for tg in &tf.tests {
        errs.extend(run_group(tg, eval_ms, &order, &files));
    }
    errs
}

/// Parses `name{a="b", …}` (promtool's series notation) with the PromQL parser.
pub fn parse_series(s: &str) -> Result<Labels, String> {
    let t = s.trim();
    if t.is_empty() || t.replace(' ', "") == "{}" {
        return Ok(Labels::default());
    }
    match parse(t).map_err(|e| e.to_string())? {
        Expr::Selector(v) if v.offset == 0 && v.at.is_none() => {
            let mut pairs = Vec::with_capacity(v.matchers.len());
            for m in &v.matchers {
                if m.op != MatchOp::Equal {
                    return Err(format!("series {t:?} may only use '=' matchers"));
                }
                pairs.push((m.name.clone(), m.value.clone()));
            }
            Ok(Labels::from_pairs(&pairs))
        }
        _ => Err(format!("{t:?} is not a series")),
    }
}

/// Expands promtool's value notation (`1+2x3 _ stale 5x2 _x3`): `None` = no sample.
pub fn expand_values(s: &str) -> Result<Vec<Option<f64>>, String> {
    let num = |t: &str| -> Result<f64, String> {
        match t {
            "Inf" | "+Inf" | "inf" => Ok(f64::INFINITY),
            "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            _ => t.parse().map_err(|_| format!("invalid value {t:?}")),
        }
    };
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        match tok {
            "_" => out.push(None),
            "stale" => out.push(Some(f64::from_bits(STALE_NAN_BITS))),
            _ => {
                let Some((base, n)) = tok
                    .rsplit_once('x')
                    .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                else {
                    out.push(Some(num(tok)?));
                    continue;
                };
                let n: usize = n.parse().map_err(|_| format!("bad repeat in {tok:?}"))?;
                if base == "_" {
                    out.extend(std::iter::repeat_n(None, n));
                    continue;
                }
                let bb = base.as_bytes();
                let op = (1..bb.len()).find(|&i| {
                    (bb[i] == b'+' || bb[i] == b'-') && !matches!(bb[i - 1], b'e' | b'E')
                });
                let (start, step) = match op {
                    Some(i) => {
                        let d = num(&base[i + 1..])?;
                        (num(&base[..i])?, if bb[i] == b'-' { -d } else { d })
                    }
                    None => (num(base)?, 0.0),
                };
                for k in 0..=n {
                    out.push(Some(start + step * k as f64));
                }
            }
        }
    }
    Ok(out)
}

fn la_string(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|x| {
            format!(
                "{}={}",
                x.name,
                serde_json::to_string(&*x.value).unwrap_or_default()
            )
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn indent(s: &str, ind: &str) -> String {
    s.split('\n').collect::<Vec<_>>().join(&format!("\n{ind}"))
}

fn alerts_string(v: &[(Labels, Labels)]) -> String {
    if v.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[");
    for (i, (l, a)) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let one = format!("\nLabels:{}\nAnnotations:{}", la_string(l), la_string(a));
        s.push_str(&format!("\n{i}:{}", indent(&one, "  ")));
    }
    s.push_str("\n]");
    s
}

fn samples_string(v: &[(Labels, f64)]) -> String {
    if v.is_empty() {
        return "nil".into();
    }
    v.iter()
        .map(|(l, x)| format!("{} {}", la_string(l), crate::gofmt::format_e(*x, true)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn run_group(
    tg: &TestGroup,
    eval_ms: i64,
    order: &HashMap<String, usize>,
    files: &[PathBuf],
) -> Vec<String> {
    let interval = match tg.interval.as_deref().map(dur).transpose() {
        Ok(v) => v.filter(|&v| v > 0).unwrap_or(eval_ms),
        Err(e) => return vec![e],
    };
    let st = MemStorage::new();
    for s in &tg.input_series {
        let labels = match parse_series(&s.series) {
            Ok(l) => l,
            Err(e) => return vec![format!("error parsing series {:?}: {e}", s.series)],
        };
        let vals = match expand_values(&s.values) {
            Ok(v) => v,
            Err(e) => return vec![format!("error parsing values of {:?}: {e}", s.series)],
        };
        for (i, v) in vals.into_iter().enumerate() {
            if let Some(v) = v {
                st.add(labels.clone(), i as i64 * interval, v);
            }
        }
    }
    let opts = GroupOptions {
        default_interval_ms: interval,
        ..GroupOptions::default()
    };
    let mut groups = Vec::new();
    let mut errs = Vec::new();
    for f in files {
        match crate::load_file(f) {
            Ok(rf) => groups.extend(rf.groups.into_iter().map(|g| Group::new(g, &opts))),
            Err(Error::Invalid { errors, .. }) => errs.extend(errors),
            Err(e) => errs.push(e.to_string()),
        }
    }
    if !errs.is_empty() {
        return errs;
    }
    groups.sort_by_key(|g| order.get(&g.def.name).copied().unwrap_or(0));
    for g in &mut groups {
        g.set_restored();
    }
    let engine = Engine::new(EngineOptions::default());
    let ctx = EvalCtx {
        storage: &st,
        engine: &engine,
        external_labels: tg.external_labels.clone(),
        external_url: tg.external_url.clone(),
    };
    let mut alert_tests: BTreeMap<i64, Vec<&AlertTest>> = BTreeMap::new();
    for a in &tg.alert_rule_test {
        if a.alertname.is_empty() {
            return vec!["alertname can't be empty".into()];
        }
        match dur(&a.eval_time) {
            Ok(t) => alert_tests.entry(t).or_default().push(a),
            Err(e) => return vec![e],
        }
    }
    let mut expr_times = Vec::new();
    for e in &tg.promql_expr_test {
        match dur(&e.eval_time) {
            Ok(t) => expr_times.push(t),
            Err(e) => return vec![e],
        }
    }
    let maxt = alert_tests
        .keys()
        .copied()
        .chain(expr_times.iter().copied())
        .max()
        .unwrap_or(0);
    let name = if tg.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", tg.name)
    };
    let mut pending_times: Vec<i64> = alert_tests.keys().copied().collect();
    pending_times.reverse();
    let mut ts = 0;
    while ts <= maxt {
        let mut eval_errs = Vec::new();
        for g in &mut groups {
            g.eval(&ctx, &st, ts, &opts);
            for r in &g.rules {
                if let Some(e) = &r.health.last_error {
                    eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        r.rule.name(),
                        go_duration(ts)
                    ));
                }
            }
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return errs;
        }
        while let Some(&t) = pending_times.last() {
            if !(ts <= t && t < ts + eval_ms) {
                break;
            }
            pending_times.pop();
            for at in &alert_tests[&t] {
                let mut got: Vec<(Labels, Labels)> = groups
                    .iter()
                    .flat_map(|g| g.rules.iter())
                    .filter(|r| r.rule.name() == at.alertname)
                    .flat_map(|r| r.alerts.active.values())
                    .filter(|a| a.state == AlertState::Firing)
                    .map(|a| (a.labels.clone(), a.annotations.clone()))
                    .collect();
                let mut exp: Vec<(Labels, Labels)> = at
                    .exp_alerts
                    .iter()
                    .map(|e| {
                        let mut l = e.exp_labels.clone();
                        l.insert("alertname".into(), at.alertname.clone());
                        let l: Vec<(String, String)> = l.into_iter().collect();
                        let a: Vec<(&String, &String)> = e.exp_annotations.iter().collect();
                        (Labels::from_pairs(&l), Labels::from_pairs(&a))
                    })
                    .collect();
                got.sort();
                exp.sort();
                if got != exp {
                    errs.push(format!(
                        "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        at.alertname,
                        fmt_duration(t),
                        indent(&alerts_string(&exp), "            "),
                        indent(&alerts_string(&got), "            ")
                    ));
                }
            }
        }
        ts += eval_ms;
    }
    for (e, t) in tg.promql_expr_test.iter().zip(expr_times) {
        let got = parse(&e.expr)
            .map_err(|x| x.to_string())
            .and_then(|x| ctx.query(&x, t));
        let mut got = match got {
            Ok(g) => g,
            Err(x) => {
                errs.push(format!(
                    "    expr: {:?}, time: {}, err: {x}",
                    e.expr,
                    fmt_duration(t)
                ));
                continue;
            }
        };
        let mut exp = Vec::new();
        let mut bad = None;
        for s in &e.exp_samples {
            match parse_series(&s.labels) {
                Ok(l) => exp.push((l, s.value)),
                Err(x) => {
                    bad = Some(format!("labels {:?}: {x}", s.labels));
                    break;
                }
            }
        }
        if let Some(b) = bad {
            errs.push(format!(
                "    expr: {:?}, time: {}, err: {b}",
                e.expr,
                fmt_duration(t)
            ));
            continue;
        }
        let key = |a: &(Labels, f64), b: &(Labels, f64)| a.0.cmp(&b.0);
        exp.sort_by(key);
        got.sort_by(key);
        // Plain float equality, as promtool's reflect.DeepEqual (a NaN never matches).
        let same =
            exp.len() == got.len() && exp.iter().zip(&got).all(|(a, b)| a.0 == b.0 && a.1 == b.1);
        if !same {
            errs.push(format!(
                "    expr: {:?}, time: {},\n        exp: {}\n        got: {}",
                e.expr,
                fmt_duration(t),
                samples_string(&exp),
                samples_string(&got)
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expanding_notation() {
        let v = expand_values("1+2x3 _ stale 5x1 _x2 -1-1x1 1e-3 Inf").unwrap();
        let f: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
        assert_eq!(
            &f[..5],
            ["Some(1.0)", "Some(3.0)", "Some(5.0)", "Some(7.0)", "None"]
        );
        assert!(query::promql::is_stale_nan(v[5].unwrap()));
        assert_eq!(
            &v[6..],
            [
                Some(5.0),
                Some(5.0),
                None,
                None,
                Some(-1.0),
                Some(-2.0),
                Some(0.001),
                Some(f64::INFINITY)
            ]
        );
        assert!(expand_values("abc").is_err());
    }

    #[test]
    fn series_and_formats() {
        let l = parse_series(r#"up{job="a\"b", instance='x'}"#).unwrap();
        assert_eq!(l.get("job"), Some("a\"b"));
        assert_eq!(l.get("__name__"), Some("up"));
        assert!(parse_series("up{job=a}").is_err());
        assert_eq!(go_duration(600_000), "10m0s");
        assert_eq!(go_duration(3_690_000), "1h1m30s");
        assert_eq!(crate::gofmt::format_e(1.0, true), "1E+00");
        assert_eq!(crate::gofmt::format_e(0.25, true), "2.5E-01");
        use crate::manager::glob_match;
        assert!(glob_match(b"*.yml", b"a.yml") && !glob_match(b"*.yml", b"a.yaml"));
    }
}
