//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, `count_values`, …).

use std::collections::HashMap;

use tsdb::Labels;

use super::ast::{AggOp, Expr};
use super::eval::{Ctx, QueryError, Steps, Val, VS};
use super::fused::group_labels;
use super::stream_agg::Acc;

/// Kahan-compensated running sum.
#[derive(Default, Clone, Copy)]
pub(crate) struct Kahan {
    sum: f64,
    c: f64,
}

impl Kahan {
    pub fn add(&mut self, v: f64) {
        let t = self.sum + v;
        if t.is_infinite() {
            self.c = 0.0;
        } else if self.sum.abs() >= v.abs() {
            self.c += (self.sum - t) + v;
        } else {
            self.c += (v - t) + self.sum;
        }
        self.sum = t;
    }
    pub fn value(&self) -> f64 {
        if self.sum.is_infinite() {
            self.sum
        } else {
            self.sum + self.c
        }
    }
}

/// Average as Prometheus computes it: a compensated sum, or an incremental mean on overflow.
pub(crate) fn average(vals: &[f64]) -> f64 {
    let mut k = Kahan::default();
    for v in vals {
        k.add(*v);
    }
    let s = k.value();
    if s.is_finite() || vals.iter().any(|v| v.is_infinite() || v.is_nan()) {
        return s / vals.len() as f64;
    }
    let mut mean = 0.0;
    for (i, v) in vals.iter().enumerate() {
        mean += v / (i + 1) as f64 - mean / (i + 1) as f64;
    }
    mean
}

/// Population variance (Welford).
pub(crate) fn variance(vals: &[f64]) -> f64 {
    let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for v in vals {
        n += 1.0;
        let d = v - mean;
        mean += d / n;
        m2 += d * (v - mean);
    }
    m2 / n
}

/// Go's `sort.Float64s` order: NaNs first, then by value.
pub(crate) fn go_float_cmp(a: &f64, b: &f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// The φ-quantile of `n` values whose value at rank `k` (in [`go_float_cmp`] order)
/// `ranked(lo, up)` returns for the two ranks `lo ≤ up` interpolated between.
pub(crate) fn quantile_by_ranks(
    q: f64,
    n: usize,
    ranked: impl FnOnce(usize, usize) -> (f64, f64),
) -> f64 {
    if n == 0 || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let n = n as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let w = rank - lower;
    let (lv, uv) = ranked(lower as usize, upper as usize);
    lv * (1.0 - w) + uv * w
}

/// The φ-quantile of `vals` (Prometheus' interpolation).
pub(crate) fn quantile(q: f64, vals: &mut [f64]) -> f64 {
    // Only the two ranks interpolated between are needed, so select them instead of sorting.
    quantile_by_ranks(q, vals.len(), |lo, up| {
        let (_, lv, rest) = vals.select_nth_unstable_by(lo, go_float_cmp);
        let lv = *lv;
        let uv = if up == lo {
            lv
        } else {
            // `rest` holds the ranks above `lo`; its least is rank `lo + 1`.
            rest.iter().copied().min_by(go_float_cmp).unwrap_or(lv)
        };
        (lv, uv)
    })
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)` (as the query JSON does).
pub(crate) fn fmt_float(v: f64) -> String {
    let mut s = String::new();
    crate::json_fmt::push_float(&mut s, v);
    s
}

impl Ctx<'_> {
    pub(crate) fn eval_aggregate(
        &mut self,
        op: AggOp,
        expr: &Expr,
        param: Option<&Expr>,
        grouping: &[String],
        without: bool,
        steps: Steps,
    ) -> Result<Val, QueryError> {
        let n = steps.len();
        let param_val = match param {
            Some(p) => Some(self.eval(p, steps)?),
            None => None,
        };
        // Sum-like aggregations of a selector or range function are computed as the series
        // are read, each labelled by its group there (see `fused.rs`, `stream_agg.rs`).
        if let Some(out) = self.streamed_aggregate(op, expr, grouping, without, steps)? {
            return Ok(Val::Vector(out));
        }
        let Val::Vector(input) = self.eval(expr, steps)? else {
            return Err(QueryError::Execution(
                "aggregation over a non-vector".into(),
            ));
        };
        let scalar_param = |i: usize| match &param_val {
            Some(Val::Scalar(s)) => s[i],
            _ => f64::NAN,
        };
        if op == AggOp::CountValues {
            let Some(Val::Str(label)) = &param_val else {
                return Err(QueryError::Execution(
                    "count_values needs a string parameter".into(),
                ));
            };
            if !valid_label_name(label) {
                return Err(QueryError::Execution(format!(
                    "invalid label name {label:?}"
                )));
            }
            let mut out: HashMap<Labels, VS> = HashMap::new();
            for s in &input {
                let base = group_labels(&s.labels, grouping, without);
                for (i, v) in s.vals.iter().enumerate() {
                    let Some(v) = v else { continue };
                    let l = super::eval::with_label(&base, label, &fmt_float(*v));
                    let e = out
                        .entry(l.clone())
                        .or_insert_with(|| VS::new(l, vec![None; n]));
                    e.vals[i] = Some(e.vals[i].unwrap_or(0.0) + 1.0);
                }
            }
            // Delayed name removal: the groups of flagged members that keep the name.
            for s in input.iter().filter(|s| s.drop_name) {
                let base = group_labels(&s.labels, grouping, without);
                for v in s.vals.iter().flatten() {
                    let l = super::eval::with_label(&base, label, &fmt_float(*v));
                    if let Some(e) = out.get_mut(&l) {
                        e.drop_name |= group_flag(&l, true);
                    }
                }
            }
            return Ok(Val::Vector(out.into_values().collect()));
        }
        // Groups in first-seen order.
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut groups: Vec<(Labels, Vec<usize>)> = Vec::new();
        for (i, s) in input.iter().enumerate() {
            let g = group_labels(&s.labels, grouping, without);
            let gi = match index.get(&g) {
                Some(&gi) => gi,
                None => {
                    index.insert(g.clone(), groups.len());
                    groups.push((g, vec![]));
                    groups.len() - 1
                }
            };
            groups[gi].1.push(i);
        }
        if op == AggOp::Quantile {
            if let Some(Val::Scalar(q)) = &param_val {
                let q = q.clone();
                self.check_phi(&q);
            }
        }
        if matches!(
            op,
            AggOp::Topk | AggOp::Bottomk | AggOp::Limitk | AggOp::LimitRatio
        ) {
            return self.select_k(op, input, &groups, n, scalar_param);
        }
        // Delayed name removal: a group keeping `__name__` (`by (__name__)`) is flagged when a
        // member is.
        let flags: Vec<bool> = if self.opts.delayed_name_removal {
            groups
                .iter()
                .map(|(l, ms)| ms.iter().any(|&m| group_flag(l, input[m].drop_name)))
                .collect()
        } else {
            vec![]
        };
        let flag = |mut out: Vec<VS>| {
            for (s, f) in out.iter_mut().zip(&flags) {
                s.drop_name = *f;
            }
            out
        };
        if matches!(
            op,
            AggOp::Sum | AggOp::Avg | AggOp::Count | AggOp::Group | AggOp::Min | AggOp::Max
        ) {
            return Ok(Val::Vector(flag(
                self.running_aggregate(op, &input, groups, n)?,
            )));
        }
        let mut out = Vec::with_capacity(groups.len());
        let mut buf = Vec::new();
        for (labels, members) in groups {
            let mut vals = vec![None; n];
            for (i, slot) in vals.iter_mut().enumerate() {
                buf.clear();
                buf.extend(members.iter().filter_map(|&m| input[m].vals[i]));
                if buf.is_empty() {
                    continue;
                }
                *slot = Some(match op {
                    AggOp::Sum => {
                        let mut k = Kahan::default();
                        buf.iter().for_each(|v| k.add(*v));
                        k.value()
                    }
                    AggOp::Avg => average(&buf),
                    AggOp::Count => buf.len() as f64,
                    AggOp::Group => 1.0,
                    AggOp::Min => {
                        buf.iter()
                            .copied()
                            .fold(f64::NAN, |a, v| if a > v || a.is_nan() { v } else { a })
                    }
                    AggOp::Max => {
                        buf.iter()
                            .copied()
                            .fold(f64::NAN, |a, v| if a < v || a.is_nan() { v } else { a })
                    }
                    AggOp::Stdvar => variance(&buf),
                    AggOp::Stddev => variance(&buf).sqrt(),
                    AggOp::Quantile => quantile(scalar_param(i), &mut buf),
                    _ => unreachable!(),
                });
            }
            out.push(VS::new(labels, vals));
            self.check_deadline()?;
        }
        Ok(Val::Vector(flag(out)))
    }

    /// `sum`, `avg`, `count`, `group`, `min`, `max`: each member series is added into the
    /// group's running values at every step in one pass (members in order, as a per-step
    /// pass would add them), so values are read in memory order.
    fn running_aggregate(
        &mut self,
        op: AggOp,
        input: &[VS],
        groups: Vec<(Labels, Vec<usize>)>,
        n: usize,
    ) -> Result<Vec<VS>, QueryError> {
        let mut out = Vec::with_capacity(groups.len());
        for (labels, members) in groups {
            let mut acc = Acc::new(op, labels, n);
            for &m in &members {
                acc.add(op, &input[m].vals);
            }
            out.push(acc.finish(op));
            self.check_deadline()?;
        }
        Ok(out)
    }

    fn select_k(
        &mut self,
        op: AggOp,
        input: Vec<VS>,
        groups: &[(Labels, Vec<usize>)],
        n: usize,
        param: impl Fn(usize) -> f64,
    ) -> Result<Val, QueryError> {
        let mut keep: Vec<Vec<Option<f64>>> = vec![vec![None; n]; input.len()];
        let mut rank: Vec<(usize, usize)> = Vec::new(); // (step, order) for the instant ordering
        #[allow(clippy::needless_range_loop)] // `i` is the step: it indexes every member's values
        for i in 0..n {
            let p = param(i);
            if p.is_nan() {
                return Err(QueryError::Execution(if op == AggOp::LimitRatio {
                    "Ratio value is NaN".to_string()
                } else {
                    "Parameter value is NaN".to_string()
                }));
            }
            for (_, members) in groups {
                let mut present: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&m| input[m].vals[i].is_some())
                    .collect();
                let chosen: Vec<usize> = match op {
                    AggOp::Topk | AggOp::Bottomk => {
                        let k = if p >= present.len() as f64 {
                            present.len()
                        } else if p < 1.0 {
                            0
                        } else {
                            p as usize
                        };
                        let v = |m: usize| input[m].vals[i].expect("present");
                        present.sort_by(|&a, &b| {
                            let (x, y) = (v(a), v(b));

                            match (x.is_nan(), y.is_nan()) {
                                (true, true) => std::cmp::Ordering::Equal,
                                (true, false) => std::cmp::Ordering::Greater,
                                (false, true) => std::cmp::Ordering::Less,
                                _ => {
                                    if op == AggOp::Topk {
                                        y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal)
                                    } else {
                                        x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
                                    }
                                }
                            }
                        });
                        present.truncate(k);
                        present
                    }
                    AggOp::Limitk => {
                        let k = if p >= present.len() as f64 {
                            present.len()
                        } else if p < 1.0 {
                            0
                        } else {
                            p as usize
                        };
                        present.sort_by_key(|&m| input[m].labels.fingerprint());
                        present.truncate(k);
                        present
                    }
                    _ => {
                        let r = p.clamp(-1.0, 1.0);
                        present
                            .into_iter()
                            .filter(|&m| {
                                let h = (input[m].labels.fingerprint() >> 64) as u64 as f64
                                    / u64::MAX as f64;
                                if r >= 0.0 {
                                    h < r
                                } else {
                                    h >= 1.0 + r
                                }
                            })
                            .collect()
                    }
                };
                for (o, m) in chosen.into_iter().enumerate() {
                    keep[m][i] = input[m].vals[i];
                    if n == 1 {
                        rank.push((m, o));
                    }
                }
            }
        }
        let mut out: Vec<(usize, VS)> = input
            .into_iter()
            .zip(keep)
            .enumerate()
            .filter(|(_, (_, k))| k.iter().any(|v| v.is_some()))
            .map(|(idx, (s, k))| {
                (
                    idx,
                    VS {
                        labels: s.labels,
                        vals: k,
                        drop_name: s.drop_name,
                    },
                )
            })
            .collect();
        if n == 1 {
            // Instant queries list each group's selection in rank order.
            let pos: HashMap<usize, usize> =
                rank.iter().enumerate().map(|(o, (m, _))| (*m, o)).collect();
            out.sort_by_key(|(idx, _)| pos.get(idx).copied().unwrap_or(usize::MAX));
        }
        Ok(Val::Vector(out.into_iter().map(|(_, s)| s).collect()))
    }
}

/// The delayed-name-removal flag a member flagged `member` gives its group labelled `group`:
/// only a group that keeps the metric name has one to remove.
fn group_flag(group: &Labels, member: bool) -> bool {
    member && group.get("__name__").is_some()
}

/// True for a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`, or any UTF-8 in Prometheus 3).
pub(crate) fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::quantile;
    use proptest::prelude::*;

    /// The definition: sort (Go's order, NaNs first) and interpolate between two ranks.
    fn quantile_by_sort(q: f64, vals: &[f64]) -> f64 {
        let mut v = vals.to_vec();
        v.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            _ => a.partial_cmp(b).unwrap(),
        });
        let n = v.len() as f64;
        let rank = q * (n - 1.0);
        let lower = rank.floor().max(0.0);
        let upper = (lower + 1.0).min(n - 1.0);
        let w = rank - lower;
        v[lower as usize] * (1.0 - w) + v[upper as usize] * w
    }

    proptest! {
        #[test]
        fn selection_equals_sorting(
            vals in proptest::collection::vec(prop_oneof![8 => -1e3f64..1e3, 1 => Just(f64::NAN), 1 => Just(7.0)], 1..60),
            q in 0.0f64..=1.0,
        ) {
            let want = quantile_by_sort(q, &vals);
            let got = quantile(q, &mut vals.clone());
            prop_assert!(want.to_bits() == got.to_bits() || (want.is_nan() && got.is_nan()), "{want} != {got}");
        }
    }
}
