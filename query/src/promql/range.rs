//! Range functions (`rate`, `irate`, `…_over_time`, `predict_linear`, …): each series'
//! windows are walked with moving cursors; matrix-selector arguments are read and
//! evaluated on several threads.

use tsdb::Labels;

use super::aggregate::{average, quantile, variance, Kahan};
use super::ast::Expr;
use super::call::absent_labels;
use super::eval::{merge_same_labels, Ctx, QueryError, Steps, Val, VS};
use super::fused::Regroup;
use super::names::unnamed;
use super::sorted_window::SortedWindow;
use super::value::is_stale_nan;

/// Extrapolated `rate`/`increase`/`delta` over one window (Prometheus 3 semantics); `per`
/// is the window's length in seconds for a rate (`(hi - lo) as f64 / 1000.0`, which the
/// caller computes once for windows of one length).
#[inline]
fn extrapolated(
    s: &[(i64, f64)],
    lo: i64,
    hi: i64,
    counter: bool,
    per: Option<f64>,
    v2: bool,
    resets: Option<u32>,
) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (first, last) = (s[0], s[s.len() - 1]);
    let mut result = last.1 - first.1;
    if counter && resets != Some(0) {
        let mut prev = first.1;
        for &(_, v) in &s[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut to_start = (first.0 - lo) as f64 / 1000.0;
    let mut to_end = (hi - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let avg = sampled / (s.len() - 1) as f64;
    let threshold = avg * 1.1;
    if v2 {
        // Prometheus 2.x: zero cut-off before the threshold test.
        if counter && result > 0.0 && first.1 >= 0.0 {
            to_start = to_start.min(sampled * (first.1 / result));
        }
        let ext = |d: f64| if d < threshold { d } else { avg / 2.0 };
        let mut r = result * ((sampled + ext(to_start) + ext(to_end)) / sampled);
        if let Some(secs) = per {
            r /= secs;
        }
        return Some(r);
    }
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if counter {
        let mut to_zero = to_start;
        if result > 0.0 && first.1 >= 0.0 {
            to_zero = sampled * (first.1 / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if let Some(secs) = per {
        factor /= secs;
    }
    Some(result * factor)
}

/// How one series' windows are evaluated.
enum Kernel {
    /// `quantile_over_time`: the window's values kept sorted.
    Quantile(SortedWindow),
    /// `rate`, `increase`, `delta`, without dispatch by name.
    Extrapolated { counter: bool, rate: bool },
    /// `sum_over_time`/`avg_over_time` of integers: window sums from exact prefix sums.
    ExactSums { sums: Vec<f64>, avg: bool },
    /// [`range_fn`].
    General,
}

/// Prefix sums of `s`' values when they are integers whose absolute sum is below 2^53: then
/// every partial sum is exact, so is the difference of two prefix sums, and a compensated sum
/// of a window (its compensation stays 0) is that same exact value, bit for bit.
fn exact_prefix_sums(s: &[(i64, f64)]) -> Option<Vec<f64>> {
    let mut abs = 0.0;
    for x in s {
        if x.1.fract() != 0.0 {
            return None;
        }
        abs += x.1.abs();
    }
    if abs >= 9_007_199_254_740_992.0 {
        return None;
    }
    let mut sums = Vec::with_capacity(s.len() + 1);
    let mut sum = 0.0;
    sums.push(sum);
    for x in s {
        sum += x.1;
        sums.push(sum);
    }
    Some(sums)
}

/// Least-squares slope and intercept at `t0` (ms).
fn linear_regression(s: &[(i64, f64)], t0: i64) -> (f64, f64) {
    let (mut n, mut sx, mut sy, mut sxy, mut sx2) = (
        0.0,
        Kahan::default(),
        Kahan::default(),
        Kahan::default(),
        Kahan::default(),
    );
    let const_y = s.windows(2).all(|w| w[0].1 == w[1].1);
    for &(t, v) in s {
        let x = (t - t0) as f64 / 1000.0;
        n += 1.0;
        sx.add(x);
        sy.add(v);
        sxy.add(x * v);
        sx2.add(x * x);
    }
    if const_y {
        if s[0].1.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, s[0].1);
    }
    let (sx, sy, sxy, sx2) = (sx.value(), sy.value(), sxy.value(), sx2.value());
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// `count` counts, in the window's samples, the resets (rate, increase, resets) or changes
/// (changes) when the caller knows them.
#[allow(clippy::too_many_arguments)]
fn range_fn(
    name: &str,
    s: &[(i64, f64)],
    lo: i64,
    hi: i64,
    t: i64,
    p: &[f64],
    v2: bool,
    count: Option<u32>,
) -> Result<Option<f64>, QueryError> {
    if s.is_empty() {
        return Ok(None);
    }
    let vals = || s.iter().map(|x| x.1);
    Ok(match name {
        "rate" => extrapolated(s, lo, hi, true, Some((hi - lo) as f64 / 1000.0), v2, count),
        "increase" => extrapolated(s, lo, hi, true, None, v2, count),
        "delta" => extrapolated(s, lo, hi, false, None, v2, None),
        "changes" | "resets" if count.is_some() => count.map(f64::from),
        "irate" | "idelta" => {
            if s.len() < 2 {
                return Ok(None);
            }
            let (a, b) = (s[s.len() - 2], s[s.len() - 1]);
            let mut r = b.1 - a.1;
            if name == "irate" {
                if b.1 < a.1 {
                    r = b.1;
                }
                r /= (b.0 - a.0) as f64 / 1000.0;
            }
            Some(r)
        }
        "changes" | "resets" => {
            let mut c = 0.0;
            for w in s.windows(2) {
                let (a, b) = (w[0].1, w[1].1);
                let hit = if name == "changes" {
                    a != b && !(a.is_nan() && b.is_nan())
                } else {
                    b < a
                };
                if hit {
                    c += 1.0;
                }
            }
            Some(c)
        }
        "deriv" => {
            if s.len() < 2 {
                return Ok(None);
            }
            Some(linear_regression(s, s[0].0).0)
        }
        "predict_linear" => {
            if s.len() < 2 {
                return Ok(None);
            }
            let (slope, icpt) = linear_regression(s, t);
            Some(slope * p[0] + icpt)
        }
        "avg_over_time" => {
            // The compensated sum without collecting the values; `average` (which falls back
            // to an incremental mean when the sum overflows) only when it is not finite.
            let mut k = Kahan::default();
            vals().for_each(|v| k.add(v));
            let sum = k.value();
            Some(if sum.is_finite() {
                sum / s.len() as f64
            } else {
                average(&vals().collect::<Vec<_>>())
            })
        }
        "sum_over_time" => {
            let mut k = Kahan::default();
            vals().for_each(|v| k.add(v));
            Some(k.value())
        }
        "count_over_time" => Some(s.len() as f64),
        "min_over_time" => {
            Some(vals().fold(f64::NAN, |a, v| if a > v || a.is_nan() { v } else { a }))
        }
        "max_over_time" => {
            Some(vals().fold(f64::NAN, |a, v| if a < v || a.is_nan() { v } else { a }))
        }
        "last_over_time" => Some(s[s.len() - 1].1),
        "first_over_time" => Some(s[0].1),
        "ts_of_last_over_time" => Some(s[s.len() - 1].0 as f64 / 1000.0),
        "ts_of_first_over_time" => Some(s[0].0 as f64 / 1000.0),
        "ts_of_max_over_time" | "ts_of_min_over_time" => {
            let max = name == "ts_of_max_over_time";
            let mut best = s[0];
            for &x in &s[1..] {
                if best.1.is_nan() || (if max { x.1 >= best.1 } else { x.1 <= best.1 }) {
                    best = x;
                }
            }
            Some(best.0 as f64 / 1000.0)
        }
        "present_over_time" => Some(1.0),
        "stdvar_over_time" => Some(variance(&vals().collect::<Vec<_>>())),
        "stddev_over_time" => Some(variance(&vals().collect::<Vec<_>>()).sqrt()),
        "quantile_over_time" => Some(quantile(p[0], &mut vals().collect::<Vec<_>>())),
        "mad_over_time" => {
            let mut v: Vec<f64> = vals().collect();
            if v.iter().any(|x| x.is_nan()) {
                return Ok(Some(f64::NAN));
            }
            let med = quantile(0.5, &mut v);
            let mut d: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
            Some(quantile(0.5, &mut d))
        }
        "double_exponential_smoothing" => {
            let (sf, tf) = (p[0], p[1]);
            if !(sf > 0.0 && sf < 1.0) {
                return Err(QueryError::Execution(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf}"
                )));
            }
            if !(tf > 0.0 && tf < 1.0) {
                return Err(QueryError::Execution(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf}"
                )));
            }
            if s.len() < 2 {
                return Ok(None);
            }
            let (mut s0, mut s1, mut b) = (0.0, s[0].1, s[1].1 - s[0].1);
            for (i, x) in s.iter().enumerate().skip(1) {
                if i > 1 {
                    b = tf * (s1 - s0) + (1.0 - tf) * b;
                }
                let y = (1.0 - sf) * (s1 + b);
                s0 = s1;
                s1 = sf * x.1 + y;
            }
            Some(s1)
        }
        _ => {
            return Err(QueryError::Execution(format!(
                "unknown range function {name}"
            )))
        }
    })
}

impl Ctx<'_> {
    pub(super) fn eval_range_call(
        &mut self,
        func: &str,
        args: &[Expr],
        steps: Steps,
    ) -> Result<Val, QueryError> {
        self.eval_range_call_grouped(func, args, steps, None)
    }

    /// As [`Ctx::eval_range_call`]; with `regroup`, each result series is labelled with its
    /// aggregation group where it is computed (the caller checked that no two series can
    /// collide once the metric name is dropped, see [`Regroup`]).
    pub(super) fn eval_range_call_grouped(
        &mut self,
        func: &str,
        args: &[Expr],
        steps: Steps,
        regroup: Option<&Regroup<'_>>,
    ) -> Result<Val, QueryError> {
        let n = steps.len();
        let (range_idx, params): (usize, Vec<Vec<f64>>) = match func {
            "quantile_over_time" => {
                let q = self.scalar_param(&args[0], steps)?;
                self.check_phi(&q);
                (1, vec![q])
            }
            "predict_linear" => (0, vec![self.scalar_param(&args[1], steps)?]),
            "double_exponential_smoothing" => (
                0,
                vec![
                    self.scalar_param(&args[1], steps)?,
                    self.scalar_param(&args[2], steps)?,
                ],
            ),
            _ => (0, vec![]),
        };
        if func == "absent_over_time" {
            let labels = absent_labels(&args[0]);
            let adj = self.closed_adj();
            let mut present = vec![false; n];
            let windows =
                self.for_each_range_series(&args[0], steps, &mut |_, _, _, samples, windows| {
                    for (i, &(lo, hi)) in windows.iter().enumerate() {
                        let a = samples.partition_point(|x| x.0 <= lo - adj);
                        present[i] |= samples.get(a).is_some_and(|x| x.0 <= hi);
                    }
                    Ok(())
                })?;
            let vals: Vec<Option<f64>> = (0..windows.len())
                .map(|i| (!present[i]).then_some(1.0))
                .collect();
            return Ok(Val::Vector(if vals.iter().any(|v| v.is_some()) {
                vec![VS::new(labels, vals)]
            } else {
                vec![]
            }));
        }
        let keep_name = matches!(func, "last_over_time" | "first_over_time");
        let adj = self.closed_adj();
        // Running counts of resets (or changes) make those O(1) per window.
        let counted = match func {
            "rate" | "increase" | "resets" => Some(true),
            "changes" => Some(false),
            _ => None,
        };
        // rate, increase and delta (counter, rate) skip range_fn's dispatch by name.
        let extrapolating = match func {
            "rate" => Some((true, true)),
            "increase" => Some((true, false)),
            "delta" => Some((false, false)),
            _ => None,
        };
        // One series' value per step; None when it has none at any step.
        let per_series = |samples: &[(i64, f64)],
                          windows: &[(i64, i64)]|
         -> Result<Option<Vec<Option<f64>>>, QueryError> {
            let mut prefix: Vec<u32> = Vec::new();
            if let Some(resets) = counted {
                prefix.resize(samples.len(), 0);
                let mut c = 0u32;
                for (p, w) in prefix.iter_mut().skip(1).zip(samples.windows(2)) {
                    let (a, b) = (w[0].1, w[1].1);
                    c += u32::from(if resets {
                        b < a
                    } else {
                        a != b && !(a.is_nan() && b.is_nan())
                    });
                    *p = c;
                }
            }
            let mut p = vec![0.0; params.len()];
            let mut kernel = match (func, extrapolating) {
                // quantile_over_time keeps each window's values sorted as it moves.
                ("quantile_over_time", _) => Kernel::Quantile(SortedWindow::default()),
                (_, Some((counter, rate))) => Kernel::Extrapolated { counter, rate },
                ("sum_over_time" | "avg_over_time", _) => match exact_prefix_sums(samples) {
                    Some(sums) => Kernel::ExactSums {
                        sums,
                        avg: func == "avg_over_time",
                    },
                    None => Kernel::General,
                },
                _ => Kernel::General,
            };
            let mut vals = vec![None; n];
            let mut any = false;
            let (mut a, mut b) = (0usize, 0usize);
            let len0 = windows.first().map_or(0, |w| w.1 - w.0);
            let secs0 = len0 as f64 / 1000.0;
            for (i, &(lo, hi)) in windows.iter().enumerate() {
                // Windows move forward with the steps unless `@` pins them.
                if a > 0 && samples.get(a - 1).is_some_and(|x| x.0 > lo - adj) {
                    a = 0;
                }
                if b > 0 && samples.get(b - 1).is_some_and(|x| x.0 > hi) {
                    b = 0;
                }
                while a < samples.len() && samples[a].0 <= lo - adj {
                    a += 1;
                }
                b = b.max(a);
                while b < samples.len() && samples[b].0 <= hi {
                    b += 1;
                }
                for (k, pv) in params.iter().enumerate() {
                    p[k] = pv[i];
                }
                // Events between samples a and b-1 of the window.
                let count = (counted.is_some() && b > a).then(|| prefix[b - 1] - prefix[a]);
                let r = match &mut kernel {
                    Kernel::Quantile(w) => (b > a).then(|| {
                        w.move_to(samples, a, b);
                        w.quantile(p[0])
                    }),
                    &mut Kernel::Extrapolated { counter, rate } => {
                        // Windows share one length unless `@` pins them.
                        let per = rate.then(|| {
                            if hi - lo == len0 {
                                secs0
                            } else {
                                (hi - lo) as f64 / 1000.0
                            }
                        });
                        extrapolated(&samples[a..b], lo, hi, counter, per, adj == 1, count)
                    }
                    Kernel::ExactSums { sums, avg } => (b > a).then(|| {
                        let sum = sums[b] - sums[a];
                        if *avg {
                            sum / (b - a) as f64
                        } else {
                            sum
                        }
                    }),
                    Kernel::General => range_fn(
                        func,
                        &samples[a..b],
                        lo,
                        hi,
                        steps.at(i),
                        &p,
                        adj == 1,
                        count,
                    )?,
                };
                any |= r.is_some();
                vals[i] = r;
            }
            Ok(any.then_some(vals))
        };
        // A series' labels and delayed-name-removal flag (`flagged`: a subquery's series was).
        let delayed = self.opts.delayed_name_removal;
        let labels_of = |labels: Labels, flagged: bool| match regroup {
            Some(g) => (g.group_of(&labels, !keep_name), false),
            None if keep_name => (labels, flagged),
            None => unnamed(labels, delayed),
        };
        let out = if let Some(m) = self.matrix_arg(&args[range_idx], steps)? {
            // A matrix selector: series are read and evaluated on several threads.
            self.stream_par(
                m.sel,
                m.lo + 1,
                m.hi,
                false,
                &|_, held, labels, samples| {
                    let filtered: Vec<(i64, f64)>;
                    let s = if samples.iter().any(|x| is_stale_nan(x.1)) {
                        filtered = samples
                            .iter()
                            .filter(|x| !is_stale_nan(x.1))
                            .copied()
                            .collect();
                        &filtered[..]
                    } else {
                        samples
                    };
                    let Some(vals) = per_series(s, &m.windows)? else {
                        return Ok(None);
                    };
                    held.account(n)?;
                    let (labels, drop_name) = labels_of(labels, false);
                    Ok(Some(VS {
                        labels,
                        vals,
                        drop_name,
                    }))
                },
                regroup.and_then(|g| g.sink),
            )?
        } else {
            let mut out = Vec::new();
            self.for_each_range_series(
                &args[range_idx],
                steps,
                &mut |ctx, labels, flagged, samples, windows| {
                    if let Some(vals) = per_series(samples, windows)? {
                        ctx.account(n)?;
                        let (labels, drop_name) = labels_of(labels, flagged);
                        out.push(VS {
                            labels,
                            vals,
                            drop_name,
                        });
                    }
                    Ok(())
                },
            )?;
            out
        };
        Ok(Val::Vector(if keep_name || regroup.is_some() || delayed {
            out
        } else {
            merge_same_labels(out)?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{exact_prefix_sums, range_fn};
    use proptest::prelude::*;

    proptest! {
        /// Window sums and averages of integers from exact prefix sums equal the compensated
        /// sums `range_fn` computes, bit for bit.
        #[test]
        fn exact_prefix_sums_equal_compensated_sums(
            vals in proptest::collection::vec(prop_oneof![
                4 => (-1000i64..1000).prop_map(|v| v as f64),
                2 => (-(1i64 << 45)..(1i64 << 45)).prop_map(|v| v as f64),
                1 => Just(-0.0),
                1 => Just(0.0),
            ], 1..100),
            windows in proptest::collection::vec((0usize..100, 1usize..40), 1..20),
        ) {
            let s: Vec<(i64, f64)> = vals.iter().enumerate().map(|(i, v)| (i as i64, *v)).collect();
            let sums = exact_prefix_sums(&s).expect("integers below 2^53");
            for (a, len) in windows {
                let a = a.min(s.len() - 1);
                let b = (a + len).min(s.len());
                for (func, avg) in [("sum_over_time", false), ("avg_over_time", true)] {
                    let want = range_fn(func, &s[a..b], 0, 0, 0, &[], false, None).unwrap().unwrap();
                    let sum = sums[b] - sums[a];
                    let got = if avg { sum / (b - a) as f64 } else { sum };
                    prop_assert_eq!(want.to_bits(), got.to_bits(), "{} {}..{}", func, a, b);
                }
            }
        }
    }

    #[test]
    fn no_exact_sums_for_fractions_or_huge_values() {
        assert!(exact_prefix_sums(&[(0, 1.0), (1, 0.5)]).is_none());
        assert!(exact_prefix_sums(&[(0, 9e15), (1, -9e15)]).is_none());
        assert!(exact_prefix_sums(&[(0, f64::NAN)]).is_none());
        assert!(exact_prefix_sums(&[(0, f64::INFINITY)]).is_none());
    }
}
