//! Checking one query result against the expectations of an `eval` (FORMAT.md §5).

use std::collections::HashMap;

use query::promql::{is_stale_nan, QueryError, QueryOutput, Value};
use tsdb::Labels;

use super::script::{Eval, EvalKind, TextMatch};
use super::series::SeqValue;

/// The verdict on one case.
#[derive(Debug)]
pub enum Verdict {
    /// All hard checks passed; `soft` lists error-text/annotation-text mismatches.
    Pass { soft: Vec<String> },
    /// A hard check failed; the lines describe what differs.
    Fail { diff: Vec<String> },
}

/// Prometheus's `almost.Equal` with epsilon 1e-6.
pub fn almost_equal(a: f64, b: f64) -> bool {
    const EPS: f64 = 1e-6;
    const MIN_NORMAL: f64 = 2.2250738585072014e-308;
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPS * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPS
}

/// A float as the scripts write it.
pub fn fmt_f64(v: f64) -> String {
    if is_stale_nan(v) {
        "stale".into()
    } else if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn fmt_points(points: &[(i64, f64)]) -> String {
    const MAX: usize = 8;
    let mut s: Vec<String> = points
        .iter()
        .take(MAX)
        .map(|(t, v)| format!("{}@{}", fmt_f64(*v), fmt_ms(*t)))
        .collect();
    if points.len() > MAX {
        s.push(format!("… ({} points)", points.len()));
    }
    s.join(" ")
}

/// A timestamp (ms) in seconds, e.g. `60s` or `0.5s`.
fn fmt_ms(t: i64) -> String {
    if t % 1000 == 0 {
        format!("{}s", t / 1000)
    } else {
        format!("{}s", t as f64 / 1000.0)
    }
}

fn fmt_seq(vals: &[SeqValue]) -> String {
    vals.iter()
        .map(|v| match v {
            SeqValue::Omitted => "_".to_string(),
            SeqValue::Float(f) => fmt_f64(*f),
            SeqValue::Histogram(h) => h.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A short description of a result value (for "expected an error but got …").
pub fn summarize(v: &Value) -> String {
    match v {
        Value::Scalar { v, .. } => format!("scalar {}", fmt_f64(*v)),
        Value::String { s, .. } => format!("string {s:?}"),
        Value::Vector(vs) => {
            let mut parts: Vec<String> = vs
                .iter()
                .take(3)
                .map(|s| format!("{} {}", s.labels, fmt_f64(s.v)))
                .collect();
            if vs.len() > 3 {
                parts.push(format!("… ({} samples)", vs.len()));
            }
            format!("vector [{}]", parts.join(", "))
        }
        Value::Matrix(ms) => {
            let mut parts: Vec<String> = ms
                .iter()
                .take(2)
                .map(|s| format!("{} {}", s.labels, fmt_points(&s.points)))
                .collect();
            if ms.len() > 2 {
                parts.push(format!("… ({} series)", ms.len()));
            }
            format!("matrix [{}]", parts.join(", "))
        }
    }
}

/// Checks the outcome of running `ev` (already known not to have panicked).
pub fn check(ev: &Eval, res: &Result<QueryOutput, QueryError>) -> Verdict {
    let mut soft = Vec::new();
    match res {
        Err(e) => {
            if !ev.fail {
                return Verdict::Fail {
                    diff: vec![format!("unexpected error: {e}")],
                };
            }
            let text = e.to_string();
            for m in &ev.fail_matches {
                if !m.matches(&text) {
                    soft.push(format!(
                        "error text: expected {}, got {text:?}",
                        m.describe()
                    ));
                }
            }
            Verdict::Pass { soft }
        }
        Ok(out) => {
            if ev.fail {
                return Verdict::Fail {
                    diff: vec![format!("expected an error, got {}", summarize(&out.value))],
                };
            }
            let mut diff = Vec::new();
            check_annotations(
                "warn",
                ev.warn,
                &ev.warn_matches,
                ev.no_warn,
                &out.warnings,
                &mut diff,
                &mut soft,
            );
            check_annotations(
                "info",
                ev.info,
                &ev.info_matches,
                ev.no_info,
                &out.infos,
                &mut diff,
                &mut soft,
            );
            compare_value(ev, &out.value, &mut diff);
            if diff.is_empty() {
                Verdict::Pass { soft }
            } else {
                Verdict::Fail { diff }
            }
        }
    }
}

/// Annotation checks: presence/absence are hard checks, texts are soft.
fn check_annotations(
    kind: &str,
    required: bool,
    matches: &[TextMatch],
    forbidden: bool,
    got: &[String],
    diff: &mut Vec<String>,
    soft: &mut Vec<String>,
) {
    if required && got.is_empty() {
        diff.push(format!("expected {kind} annotations, got none"));
        return;
    }
    if forbidden && !got.is_empty() {
        diff.push(format!("expected no {kind} annotations, got {got:?}"));
        return;
    }
    if matches.iter().all(|m| matches!(m, TextMatch::Any)) {
        return;
    }
    for m in matches {
        if !got.iter().any(|g| m.matches(g)) {
            soft.push(format!(
                "{kind} annotation: expected {}, got {got:?}",
                m.describe()
            ));
        }
    }
    for g in got {
        if !matches.iter().any(|m| m.matches(g)) {
            soft.push(format!("{kind} annotation: unexpected {g:?}"));
        }
    }
}

/// The expected points of a series in a range vector (`_` positions left out).
pub fn expected_points(
    vals: &[SeqValue],
    start: i64,
    step: i64,
    end: Option<i64>,
) -> Result<Vec<(i64, f64)>, String> {
    let mut out = Vec::new();
    for (i, v) in vals.iter().enumerate() {
        let t = start + i as i64 * step;
        if end.is_none_or(|e| t > e) {
            return Err(format!(
                "{} expected values do not fit the query's time range",
                vals.len()
            ));
        }
        match v {
            SeqValue::Omitted => {}
            SeqValue::Float(f) => out.push((t, *f)),
            SeqValue::Histogram(h) => return Err(format!("histogram expectation {h}")),
        }
    }
    Ok(out)
}

fn compare_value(ev: &Eval, value: &Value, diff: &mut Vec<String>) {
    let expected: HashMap<&Labels, (usize, &[SeqValue])> = ev
        .series
        .iter()
        .enumerate()
        .map(|(i, (l, v))| (l, (i, v.as_slice())))
        .collect();
    if matches!(ev.kind, EvalKind::Range { .. }) && !matches!(value, Value::Matrix(_)) {
        diff.push(format!(
            "a range query must return a matrix, got {}",
            summarize(value)
        ));
        return;
    }
    match value {
        Value::Matrix(ms) => {
            if ev.ordered {
                diff.push("expected an ordered result, but the query returned a matrix".into());
            }
            if let Some(s) = ev.scalar {
                diff.push(format!(
                    "expected scalar {}, got {}",
                    fmt_f64(s),
                    summarize(value)
                ));
                return;
            }
            let (start, step, end) = match (ev.kind, ev.range_vector) {
                (EvalKind::Range { start, end, step }, _) => (start, step, Some(end)),
                (EvalKind::Instant { .. }, Some((from, to, step))) => (from, step, Some(to)),
                (EvalKind::Instant { t }, None) => (t, 0, None),
            };
            if let Some(w) = ms.windows(2).find(|w| w[0].labels > w[1].labels) {
                diff.push(format!(
                    "matrix not sorted by labels: {} before {}",
                    w[0].labels, w[1].labels
                ));
            }
            let mut seen: HashMap<&Labels, usize> = HashMap::new();
            for s in ms {
                *seen.entry(&s.labels).or_default() += 1;
                if seen[&s.labels] == 2 {
                    diff.push(format!("duplicate series {} in result", s.labels));
                }
                let Some((_, vals)) = expected.get(&s.labels) else {
                    diff.push(format!(
                        "+ unexpected {} {}",
                        s.labels,
                        fmt_points(&s.points)
                    ));
                    continue;
                };
                let exp = match expected_points(vals, start, step, end) {
                    Ok(p) => p,
                    Err(e) => {
                        diff.push(format!("{}: {e}", s.labels));
                        continue;
                    }
                };
                let same = exp.len() == s.points.len()
                    && exp
                        .iter()
                        .zip(&s.points)
                        .all(|(a, b)| a.0 == b.0 && almost_equal(a.1, b.1));
                if !same {
                    diff.push(format!("~ {}", s.labels));
                    diff.push(format!("    expected {}", fmt_points(&exp)));
                    diff.push(format!("    got      {}", fmt_points(&s.points)));
                }
            }
            for (l, vals) in &ev.series {
                if !seen.contains_key(l) {
                    diff.push(format!("- missing {l} {}", fmt_seq(vals)));
                }
            }
        }
        Value::Vector(vs) => {
            if let Some(s) = ev.scalar {
                diff.push(format!(
                    "expected scalar {}, got {}",
                    fmt_f64(s),
                    summarize(value)
                ));
                return;
            }
            let mut seen: HashMap<&Labels, usize> = HashMap::new();
            for (pos, s) in vs.iter().enumerate() {
                *seen.entry(&s.labels).or_default() += 1;
                if seen[&s.labels] == 2 {
                    diff.push(format!("duplicate series {} in result", s.labels));
                }
                let Some((exp_pos, vals)) = expected.get(&s.labels) else {
                    diff.push(format!("+ unexpected {} {}", s.labels, fmt_f64(s.v)));
                    continue;
                };
                if ev.ordered && *exp_pos != pos {
                    diff.push(format!(
                        "order: {} at position {}, expected at {}",
                        s.labels,
                        pos + 1,
                        exp_pos + 1
                    ));
                }
                match vals.first() {
                    Some(SeqValue::Float(f)) if almost_equal(*f, s.v) => {}
                    Some(SeqValue::Float(f)) => diff.push(format!(
                        "~ {} expected {} got {}",
                        s.labels,
                        fmt_f64(*f),
                        fmt_f64(s.v)
                    )),
                    other => diff.push(format!(
                        "~ {} expected {} got {}",
                        s.labels,
                        fmt_seq(other.map(std::slice::from_ref).unwrap_or(&[])),
                        fmt_f64(s.v)
                    )),
                }
            }
            for (l, vals) in &ev.series {
                if !seen.contains_key(l) {
                    diff.push(format!("- missing {l} {}", fmt_seq(vals)));
                }
            }
        }
        Value::Scalar { v, .. } => match ev.scalar {
            None => diff.push(format!(
                "expected {}, got scalar {}",
                if ev.series.is_empty() {
                    "an empty vector/matrix".to_string()
                } else {
                    format!("{} series", ev.series.len())
                },
                fmt_f64(*v)
            )),
            Some(e) if !almost_equal(e, *v) => diff.push(format!(
                "expected scalar {} got {}",
                fmt_f64(e),
                fmt_f64(*v)
            )),
            Some(_) => {}
        },
        Value::String { s, .. } => {
            let e = ev.string.as_deref().unwrap_or("");
            if e != s {
                diff.push(format!("expected string {e:?} got {s:?}"));
            }
        }
    }
}

/// The result a perfect engine would return for `ev` (self-check of [`check`]): `None` when
/// the expectations cannot be turned into a result (histograms).
pub fn synthesize(ev: &Eval) -> Option<Result<QueryOutput, QueryError>> {
    use query::promql::{Sample, Series};
    if ev.fail {
        let msg = ev
            .fail_matches
            .iter()
            .find_map(|m| match m {
                TextMatch::Msg(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "synthetic error".into());
        return Some(Err(QueryError::Execution(msg)));
    }
    let annos = |required: bool, ms: &[TextMatch]| -> Vec<String> {
        let mut v: Vec<String> = ms
            .iter()
            .filter_map(|m| match m {
                TextMatch::Msg(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        if required && v.is_empty() {
            v.push("synthetic annotation".into());
        }
        v
    };
    let value = if let Some(s) = &ev.string {
        Value::String { t: 0, s: s.clone() }
    } else if let Some(v) = ev.scalar {
        Value::Scalar { t: 0, v }
    } else {
        let range = match (ev.kind, ev.range_vector) {
            (EvalKind::Range { start, end, step }, _) => Some((start, end, step)),
            (EvalKind::Instant { .. }, r) => r,
        };
        match range {
            Some((start, end, step)) => {
                let mut ms = Vec::new();
                for (labels, vals) in &ev.series {
                    let points = expected_points(vals, start, step, Some(end)).ok()?;
                    ms.push(Series {
                        labels: labels.clone(),
                        points,
                    });
                }
                ms.sort_by(|a, b| a.labels.cmp(&b.labels));
                Value::Matrix(ms)
            }
            None => {
                let mut vs = Vec::new();
                for (labels, vals) in &ev.series {
                    let SeqValue::Float(v) = vals.first()? else {
                        return None;
                    };
                    vs.push(Sample {
                        labels: labels.clone(),
                        t: 0,
                        v: *v,
                    });
                }
                Value::Vector(vs)
            }
        }
    };
    Some(Ok(QueryOutput {
        value,
        warnings: annos(ev.warn, &ev.warn_matches),
        infos: annos(ev.info, &ev.info_matches),
    }))
}

/// `out` with its first value changed (or a sample added), so that [`check`] must fail.
pub fn perturb(out: &mut QueryOutput) {
    use query::promql::Sample;
    let bump = |v: &mut f64| {
        *v = if v.is_finite() && *v != 0.0 {
            *v * 1.01
        } else {
            42.0
        }
    };
    match &mut out.value {
        Value::Scalar { v, .. } => bump(v),
        Value::String { s, .. } => s.push('!'),
        Value::Vector(vs) => match vs.first_mut() {
            Some(s) => bump(&mut s.v),
            None => vs.push(Sample {
                labels: Labels::from_pairs(&[("__name__", "extra")]),
                t: 0,
                v: 1.0,
            }),
        },
        Value::Matrix(ms) => match ms.iter_mut().find(|s| !s.points.is_empty()) {
            Some(s) => bump(&mut s.points[0].1),
            None => out.value = Value::Scalar { t: 0, v: 1.0 },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_equality() {
        let stale = f64::from_bits(query::promql::STALE_NAN_BITS);
        assert!(almost_equal(f64::NAN, f64::NAN));
        assert!(almost_equal(stale, stale));
        assert!(!almost_equal(stale, f64::NAN));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY));
        assert!(almost_equal(1.0, 1.0 + 1e-9));
        assert!(!almost_equal(1.0, 1.0001));
        assert!(!almost_equal(0.0, 1e-300));
    }
}
