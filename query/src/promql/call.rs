//! Function calls: range functions over windows and instant functions over vectors.

use tsdb::{Label, Labels, MatchOp};

use super::ast::Expr;
use super::buckets;
use super::eval::{merge_same_labels, with_label, Ctx, QueryError, Steps, Val, VS};

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(i) => unparen(i),
        e => e,
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
pub(crate) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn date_fn(name: &str, secs: f64) -> f64 {
    if !secs.is_finite() {
        return secs;
    }
    // Go's int64(): truncation toward zero (-0.5 s is 1970-01-01 00:00:00, not 23:59:59).
    let s = secs.trunc() as i64;
    let days = s.div_euclid(86_400);
    let sod = s.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let month_days = [
        31,
        if is_leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    match name {
        "minute" => ((sod / 60) % 60) as f64,
        "hour" => (sod / 3600) as f64,
        "day_of_week" => ((days + 4).rem_euclid(7)) as f64,
        "day_of_month" => d as f64,
        "day_of_year" => (month_days[..(m - 1) as usize].iter().sum::<i64>() + d as i64) as f64,
        "days_in_month" => month_days[(m - 1) as usize] as f64,
        "month" => m as f64,
        "year" => y as f64,
        _ => f64::NAN,
    }
}

fn simple_fn(name: &str, v: f64) -> Option<f64> {
    Some(match name {
        "abs" => v.abs(),
        "ceil" => v.ceil(),
        "floor" => v.floor(),
        "exp" => v.exp(),
        "sqrt" => v.sqrt(),
        "ln" => v.ln(),
        "log2" => v.log2(),
        "log10" => v.log10(),
        "sin" => v.sin(),
        "cos" => v.cos(),
        "tan" => v.tan(),
        "asin" => v.asin(),
        "acos" => v.acos(),
        "atan" => v.atan(),
        "sinh" => v.sinh(),
        "cosh" => v.cosh(),
        "tanh" => v.tanh(),
        "asinh" => v.asinh(),
        "acosh" => v.acosh(),
        "atanh" => v.atanh(),
        "deg" => v * 180.0 / std::f64::consts::PI,
        "rad" => v * std::f64::consts::PI / 180.0,
        "sgn" => {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        }
        _ => return None,
    })
}

/// Labels `absent()` gives: the selector's equality matchers that occur once.
pub(super) fn absent_labels(e: &Expr) -> Labels {
    let sel = match unparen(e) {
        Expr::Selector(s) => s,
        Expr::Matrix { sel, .. } => sel,
        _ => return Labels::default(),
    };
    let mut v: Vec<Label> = Vec::new();
    let mut drop: Vec<&str> = Vec::new();
    for m in &sel.matchers {
        if m.name == "__name__" {
            continue;
        }
        if m.op == MatchOp::Equal && !v.iter().any(|l| *l.name == *m.name) {
            v.push(Label::new(m.name.as_str(), m.value.as_str()));
        } else {
            drop.push(&m.name);
        }
    }
    v.retain(|l| !drop.contains(&l.name.as_ref()));
    v.sort();
    Labels::from_sorted(v)
}

fn scalar_arg(v: &Val) -> &[f64] {
    match v {
        Val::Scalar(s) => s,
        _ => &[],
    }
}

fn string_arg(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        _ => String::new(),
    }
}

/// Natural ordering ("a2" < "a10") as `sort_by_label` uses.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let (x, y) = (
                a[si..i].trim_start_matches('0'),
                b[sj..j].trim_start_matches('0'),
            );
            let o = x.len().cmp(&y.len()).then(x.cmp(y));
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

impl Ctx<'_> {
    pub(crate) fn eval_call(
        &mut self,
        func: &str,
        args: &[Expr],
        steps: Steps,
    ) -> Result<Val, QueryError> {
        let n = steps.len();
        match func {
            "time" => {
                return Ok(Val::Scalar(
                    (0..n).map(|i| steps.at(i) as f64 / 1000.0).collect(),
                ))
            }
            "start" => return Ok(Val::Scalar(vec![self.query_start as f64 / 1000.0; n])),
            "end" => return Ok(Val::Scalar(vec![self.query_end as f64 / 1000.0; n])),
            "pi" => return Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
            "timestamp" => {
                if let Expr::Selector(sel) = unparen(&args[0]) {
                    let vs = self.eval_selector(sel, steps, true)?;
                    return Ok(Val::Vector(merge_same_labels(
                        vs.into_iter().map(|s| self.name_dropped(s)).collect(),
                    )?));
                }
                let Val::Vector(vs) = self.eval(&args[0], steps)? else {
                    unreachable!()
                };
                return Ok(Val::Vector(merge_same_labels(
                    vs.into_iter()
                        .map(|s| {
                            let mut s = self.name_dropped(s);
                            for (i, v) in s.vals.iter_mut().enumerate() {
                                *v = v.map(|_| steps.at(i) as f64 / 1000.0);
                            }
                            s
                        })
                        .collect(),
                )?));
            }
            _ => {}
        }
        if func == "info" {
            return self.eval_info(args, steps);
        }
        let def = super::functions::lookup(func).expect("parser checked the function");
        if def.args.first() == Some(&super::ast::ValueType::Matrix) || func == "quantile_over_time"
        {
            return self.eval_range_call(func, args, steps);
        }
        let vals: Vec<Val> = args
            .iter()
            .map(|a| self.eval(a, steps))
            .collect::<Result<_, _>>()?;
        let vector = |v: &Val| -> Vec<VS> {
            match v {
                Val::Vector(vs) => vs.clone(),
                _ => vec![],
            }
        };
        let map_vals = |vs: Vec<VS>,
                        keep_name: bool,
                        f: &dyn Fn(usize, f64) -> Option<f64>|
         -> Result<Val, QueryError> {
            let out: Vec<VS> = vs
                .into_iter()
                .map(|s| {
                    let mut s = if keep_name { s } else { self.name_dropped(s) };
                    for (i, v) in s.vals.iter_mut().enumerate() {
                        *v = v.and_then(|v| f(i, v));
                    }
                    s
                })
                .filter(|s| s.vals.iter().any(|v| v.is_some()))
                .collect();
            // With delayed name removal no labels changed, so none can collide.
            Ok(Val::Vector(
                if keep_name || self.opts.delayed_name_removal {
                    out
                } else {
                    merge_same_labels(out)?
                },
            ))
        };
        match func {
            "vector" => Ok(Val::Vector(vec![VS::new(
                Labels::default(),
                scalar_arg(&vals[0]).iter().map(|v| Some(*v)).collect(),
            )])),
            "scalar" => {
                let vs = vector(&vals[0]);
                Ok(Val::Scalar(
                    (0..n)
                        .map(|i| {
                            let mut it = vs.iter().filter_map(|s| s.vals[i]);
                            match (it.next(), it.next()) {
                                (Some(v), None) => v,
                                _ => f64::NAN,
                            }
                        })
                        .collect(),
                ))
            }
            "absent" => {
                let vs = vector(&vals[0]);
                let labels = absent_labels(&args[0]);
                let v: Vec<Option<f64>> = (0..n)
                    .map(|i| (!vs.iter().any(|s| s.vals[i].is_some())).then_some(1.0))
                    .collect();
                Ok(Val::Vector(if v.iter().any(|x| x.is_some()) {
                    vec![VS::new(labels, v)]
                } else {
                    vec![]
                }))
            }
            "clamp" | "clamp_min" | "clamp_max" => {
                let a = scalar_arg(&vals[1]).to_vec();
                let b = vals
                    .get(2)
                    .map(|v| scalar_arg(v).to_vec())
                    .unwrap_or_default();
                map_vals(vector(&vals[0]), false, &|i, v| match func {
                    "clamp" => {
                        let (lo, hi) = (a[i], b[i]);
                        if hi < lo {
                            None
                        } else {
                            Some(v.max(lo).min(hi)).map(|x| {
                                if lo.is_nan() || hi.is_nan() {
                                    f64::NAN
                                } else {
                                    x
                                }
                            })
                        }
                    }
                    "clamp_min" => Some(if a[i].is_nan() { f64::NAN } else { v.max(a[i]) }),
                    _ => Some(if a[i].is_nan() { f64::NAN } else { v.min(a[i]) }),
                })
            }
            "round" => {
                let to = vals.get(1).map(|v| scalar_arg(v).to_vec());
                map_vals(vector(&vals[0]), false, &|i, v| {
                    let to = to.as_ref().map(|t| t[i]).unwrap_or(1.0);
                    let inv = 1.0 / to;
                    Some((v * inv + 0.5).floor() / inv)
                })
            }
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" if self.is_range => {
                self.warn("PromQL warning: sort is ineffective for range queries since results are always ordered by labels".to_string());
                Ok(Val::Vector(vector(&vals[0])))
            }
            "sort" | "sort_desc" => {
                let mut vs = vector(&vals[0]);
                if n == 1 {
                    let desc = func == "sort_desc";
                    vs.sort_by(|a, b| {
                        let (x, y) = (a.vals[0].unwrap_or(f64::NAN), b.vals[0].unwrap_or(f64::NAN));
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                            _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                        }
                    });
                }
                Ok(Val::Vector(vs))
            }
            "sort_by_label" | "sort_by_label_desc" => {
                let mut vs = vector(&vals[0]);
                let names: Vec<String> = vals[1..].iter().map(string_arg).collect();
                vs.sort_by(|a, b| {
                    for nm in &names {
                        let o = natural_cmp(
                            a.labels.get(nm).unwrap_or(""),
                            b.labels.get(nm).unwrap_or(""),
                        );
                        if o != std::cmp::Ordering::Equal {
                            return if func == "sort_by_label_desc" {
                                o.reverse()
                            } else {
                                o
                            };
                        }
                    }
                    let o = a.labels.cmp(&b.labels);
                    if func == "sort_by_label_desc" {
                        o.reverse()
                    } else {
                        o
                    }
                });
                Ok(Val::Vector(vs))
            }
            "label_replace" => {
                let (dst, repl, src, re) = (
                    string_arg(&vals[1]),
                    string_arg(&vals[2]),
                    string_arg(&vals[3]),
                    string_arg(&vals[4]),
                );
                let regex = regex::Regex::new(&format!("^(?s:{re})$")).map_err(|e| {
                    QueryError::Execution(format!(
                        "invalid regular expression in label_replace(): {re}: {e}"
                    ))
                })?;
                if !valid_label(&dst) {
                    return Err(QueryError::Execution(format!(
                        "invalid destination label name in label_replace(): {dst}"
                    )));
                }
                let out: Vec<VS> = vector(&vals[0])
                    .into_iter()
                    .map(|s| {
                        let v = s.labels.get(&src).unwrap_or("");
                        match regex.captures(v) {
                            Some(c) => {
                                let mut res = String::new();
                                c.expand(&repl, &mut res);
                                VS {
                                    labels: with_label(&s.labels, &dst, &res),
                                    vals: s.vals,
                                    // Setting the name explicitly keeps it.
                                    drop_name: s.drop_name && dst != "__name__",
                                }
                            }
                            None => s,
                        }
                    })
                    .collect();
                Ok(Val::Vector(merge_same_labels(out)?))
            }
            "label_join" => {
                let (dst, sep) = (string_arg(&vals[1]), string_arg(&vals[2]));
                let srcs: Vec<String> = vals[3..].iter().map(string_arg).collect();
                if !valid_label(&dst) {
                    return Err(QueryError::Execution(format!(
                        "invalid destination label name in label_join(): {dst}"
                    )));
                }
                let out: Vec<VS> = vector(&vals[0])
                    .into_iter()
                    .map(|s| {
                        let joined: Vec<&str> =
                            srcs.iter().map(|l| s.labels.get(l).unwrap_or("")).collect();
                        VS {
                            labels: with_label(&s.labels, &dst, &joined.join(&sep)),
                            vals: s.vals,
                            drop_name: s.drop_name && dst != "__name__",
                        }
                    })
                    .collect();
                Ok(Val::Vector(merge_same_labels(out)?))
            }
            "histogram_quantile" => {
                let q = scalar_arg(&vals[0]).to_vec();
                self.check_phi(&q);
                self.histogram_quantile(&q, vector(&vals[1]), n)
            }
            "minute" | "hour" | "day_of_week" | "day_of_month" | "day_of_year"
            | "days_in_month" | "month" | "year" => {
                if vals.is_empty() {
                    return Ok(Val::Vector(vec![VS::new(
                        Labels::default(),
                        (0..n)
                            .map(|i| Some(date_fn(func, steps.at(i) as f64 / 1000.0)))
                            .collect(),
                    )]));
                }
                map_vals(vector(&vals[0]), false, &|_, v| Some(date_fn(func, v)))
            }
            "histogram_quantiles" => {
                let label = string_arg(&vals[1]);
                let input = vector(&vals[0]);
                if let Some(s) = input.iter().find(|s| s.labels.get(&label).is_some()) {
                    return Err(QueryError::Execution(format!(
                        "label {label:?} of histogram_quantiles() already exists on {}",
                        s.labels
                    )));
                }
                let mut out = Vec::new();
                for arg in &vals[2..] {
                    let q = scalar_arg(arg).to_vec();
                    self.check_phi(&q);
                    let Val::Vector(vs) = self.histogram_quantile(&q, input.clone(), n)? else {
                        unreachable!("BUG: histogram_quantile returns a vector")
                    };
                    // Prometheus names a constant quantile like Go's %g with at least one decimal.
                    let name = quantile_label(q.first().copied().unwrap_or(f64::NAN));
                    out.extend(vs.into_iter().map(|s| VS {
                        labels: with_label(&s.labels, &label, &name),
                        ..s
                    }));
                }
                Ok(Val::Vector(merge_same_labels(out)?))
            }
            "histogram_fraction" => {
                let (lo, hi) = (scalar_arg(&vals[0]).to_vec(), scalar_arg(&vals[1]).to_vec());
                self.classic_histograms(func, vector(&vals[2]), n, |i, b| {
                    buckets::fraction(lo[i], hi[i], b)
                })
            }
            "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
            | "histogram_stdvar" => {
                // Native histograms only: float samples yield nothing.
                Ok(Val::Vector(vec![]))
            }
            _ => {
                let f = func.to_string();
                map_vals(vector(&vals[0]), false, &move |_, v| simple_fn(&f, v))
            }
        }
    }

    pub(super) fn scalar_param(&mut self, e: &Expr, steps: Steps) -> Result<Vec<f64>, QueryError> {
        match self.eval(e, steps)? {
            Val::Scalar(s) => Ok(s),
            _ => Err(QueryError::Execution("expected a scalar parameter".into())),
        }
    }

    fn histogram_quantile(&mut self, q: &[f64], vs: Vec<VS>, n: usize) -> Result<Val, QueryError> {
        self.classic_histograms("histogram_quantile", vs, n, |i, b| {
            buckets::quantile(q[i], b)
        })
    }

    /// Applies `f` to each classic histogram (series grouped by all labels but `le`) at each
    /// step, with its buckets sorted, merged and made monotonic.
    fn classic_histograms(
        &mut self,
        func: &str,
        vs: Vec<VS>,
        n: usize,
        f: impl Fn(usize, &[(f64, f64)]) -> f64,
    ) -> Result<Val, QueryError> {
        let mut groups: std::collections::HashMap<Labels, Vec<(f64, usize)>> =
            std::collections::HashMap::new();
        for (i, s) in vs.iter().enumerate() {
            let le = s.labels.get("le").unwrap_or("");
            let Some(ub) = buckets::parse_le(le) else {
                let name = s.labels.get("__name__").unwrap_or("").to_string();
                self.warn(format!("PromQL warning: bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {name:?}"));
                continue;
            };
            let key = Labels::from_sorted(
                s.labels
                    .iter()
                    .filter(|l| &*l.name != "le")
                    .cloned()
                    .collect(),
            );
            groups.entry(key).or_default().push((ub, i));
        }
        let mut out = Vec::new();
        let mut raw = Vec::new();
        for (labels, members) in groups {
            let mut vals = vec![None; n];
            for (i, slot) in vals.iter_mut().enumerate() {
                raw.clear();
                raw.extend(
                    members
                        .iter()
                        .filter_map(|&(ub, m)| vs[m].vals[i].map(|c| (ub, c))),
                );
                if raw.is_empty() {
                    continue;
                }
                let (b, fixed) = buckets::normalize(&mut raw);
                if fixed {
                    let name = labels.get("__name__").unwrap_or("").to_string();
                    self.info(format!("PromQL info: input to {func} needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"));
                }
                *slot = Some(f(i, &b));
            }
            if vals.iter().any(|v| v.is_some()) {
                out.push(self.name_dropped(VS::new(labels, vals)));
            }
        }
        Ok(Val::Vector(merge_same_labels(out)?))
    }
}

/// The label value naming quantile `q`: `0.0`, `0.25`, `1.0`, `NaN`.
fn quantile_label(q: f64) -> String {
    if q.is_finite() && q.fract() == 0.0 {
        format!("{q:.1}")
    } else if q.is_nan() {
        "NaN".into()
    } else if q.is_infinite() {
        if q > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{q}")
    }
}

fn valid_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_functions_truncate_toward_zero() {
        // Go's int64(-0.5) is 0: 1970-01-01 00:00:00, not 1969-12-31 23:59:59.
        assert_eq!(date_fn("hour", -0.5), 0.0);
        assert_eq!(date_fn("year", -0.5), 1970.0);
        assert_eq!(date_fn("hour", -1.5), 23.0);
    }
}
