//! Binary operators: arithmetic, comparisons and set operators, with vector matching.

use std::collections::HashMap;
use std::sync::Arc;

use tsdb::{Label, Labels};

use super::ast::{BinOp, Card, Expr, VectorMatching};
use super::eval::{merge_same_labels, Ctx, QueryError, Steps, Val, VS};

/// Applies `op` to two floats; `None` when a comparison is false.
pub(crate) fn scalar_op(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Mod => (fmod(l, r), true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Atan2 => (l.atan2(r), true),
        BinOp::Eql => (l, l == r),
        BinOp::Neq => (l, l != r),
        BinOp::Gtr => (l, l > r),
        BinOp::Lss => (l, l < r),
        BinOp::Gte => (l, l >= r),
        BinOp::Lte => (l, l <= r),
        BinOp::And | BinOp::Or | BinOp::Unless => (f64::NAN, false),
    }
}

/// The value of a matched pair (`mv` from the "many" side, `ov` from the "one" side, swapped
/// back to left and right when `swapped`); None when a comparison filters it out.
pub(crate) fn matched_value(
    op: BinOp,
    mv: f64,
    ov: f64,
    swapped: bool,
    return_bool: bool,
) -> Option<f64> {
    let (lv, rv) = if swapped { (ov, mv) } else { (mv, ov) };
    let (res, keep) = scalar_op(op, lv, rv);
    if return_bool {
        Some(if keep { 1.0 } else { 0.0 })
    } else {
        keep.then_some(res)
    }
}

/// Go's `math.Mod`: the result has the sign of `l`.
fn fmod(l: f64, r: f64) -> f64 {
    l % r
}

/// The `(name, value)` pairs series are matched on.
pub(crate) type Signature = Vec<(Arc<str>, Arc<str>)>;

/// Whether `name` is one of the `on`/`ignoring` labels of `m`.
fn listed(m: &VectorMatching, name: &str) -> bool {
    m.labels.iter().any(|n| n == name)
}

/// The matching signature of `l` under `on`/`ignoring`.
fn signature(l: &Labels, m: &VectorMatching) -> Signature {
    if m.on {
        l.iter()
            .filter(|x| listed(m, &x.name))
            .map(|x| (x.name.clone(), x.value.clone()))
            .collect()
    } else {
        l.iter()
            .filter(|x| &*x.name != "__name__" && !listed(m, &x.name))
            .map(|x| (x.name.clone(), x.value.clone()))
            .collect()
    }
}

fn fmt_sig(sig: &[(Arc<str>, Arc<str>)]) -> String {
    let parts: Vec<String> = sig.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// True when `op` (with `bool` when `return_bool`) drops the metric name of its result.
pub(crate) fn drops_name(op: BinOp, return_bool: bool) -> bool {
    return_bool || !(op.is_comparison() || op.is_set())
}

/// Result labels of a vector/vector operation for the "many" side `l` and "one" side `r`;
/// `keep_name` with delayed name removal (the result is flagged instead, see
/// [`result_flag`]).
pub(crate) fn result_labels(
    op: BinOp,
    l: &Labels,
    r: &Labels,
    m: &VectorMatching,
    return_bool: bool,
    keep_name: bool,
) -> Labels {
    let drop = !keep_name && drops_name(op, return_bool);
    let mut v: Vec<Label> = l
        .iter()
        .filter(|x| !(drop && &*x.name == "__name__"))
        .cloned()
        .collect();
    if m.card == Card::OneToOne {
        if m.on {
            v.retain(|x| listed(m, &x.name));
        } else {
            v.retain(|x| !listed(m, &x.name));
        }
    }
    for name in &m.include {
        v.retain(|x| *x.name != **name);
        if let Some(val) = r.get(name) {
            if !val.is_empty() {
                v.push(Label::new(name.as_str(), val));
            }
        }
    }
    v.sort();
    Labels::from_sorted(v)
}

/// The delayed-name-removal flag of a vector/vector result whose "many" side series has flag
/// `many_flag` (always false without delayed removal, `delayed` false).
pub(crate) fn result_flag(op: BinOp, return_bool: bool, many_flag: bool, delayed: bool) -> bool {
    many_flag || (delayed && drops_name(op, return_bool))
}

/// True when evaluating `e` reads series from storage.
fn reads_series(e: &Expr) -> bool {
    match e {
        Expr::Number(_) | Expr::Str(_) => false,
        Expr::Selector(_) | Expr::Matrix { .. } => true,
        Expr::Paren(e) | Expr::Neg(e) | Expr::Subquery { expr: e, .. } => reads_series(e),
        Expr::Call { args, .. } => args.iter().any(reads_series),
        Expr::Aggregate { expr, param, .. } => {
            reads_series(expr) || param.as_deref().is_some_and(reads_series)
        }
        Expr::Binary { lhs, rhs, .. } => reads_series(lhs) || reads_series(rhs),
    }
}

#[cfg(test)]
thread_local! {
    /// Tests turn the parallel evaluation of operands off to compare it with the sequential.
    pub(crate) static SEQUENTIAL_SIDES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Ctx<'_> {
    /// Both operands of a binary operation. When both read series in a range query, the
    /// right one is evaluated on another thread meanwhile (the reads' own threads overlap with the other
    /// side's serial parts); values, warnings and errors are as if evaluated left then right.
    /// The sample limit is checked within each side and for both together afterwards.
    pub(crate) fn eval_sides(
        &mut self,
        lhs: &Expr,
        rhs: &Expr,
        steps: Steps,
    ) -> Result<(Val, Val), QueryError> {
        #[cfg(test)]
        let sequential = SEQUENTIAL_SIDES.with(|c| c.get());
        #[cfg(not(test))]
        let sequential = false;
        // Instant queries (alerting rules evaluate many) are too short for a thread's start.
        if sequential
            || !self.is_range
            || self.opts.parallelism < 2
            || !(reads_series(lhs) && reads_series(rhs))
        {
            let l = self.eval(lhs, steps)?;
            let r = self.eval(rhs, steps)?;
            return Ok((l, r));
        }
        let base = self.loaded;
        let mut right = Ctx {
            st: self.st,
            opts: self.opts,
            query_start: self.query_start,
            query_end: self.query_end,
            deadline: self.deadline,
            loaded: base,
            warnings: vec![],
            infos: vec![],
            is_range: self.is_range,
        };
        let (l, r) = std::thread::scope(|sc| {
            let h = sc.spawn(|| right.eval(rhs, steps));
            let l = self.eval(lhs, steps);
            (l, h.join())
        });
        let r = r.unwrap_or_else(|p| std::panic::resume_unwind(p));
        let l = l?;
        let r = r?;
        for w in std::mem::take(&mut right.warnings) {
            self.warn(w);
        }
        for i in std::mem::take(&mut right.infos) {
            self.info(i);
        }
        self.account(right.loaded.saturating_sub(base))?;
        Ok((l, r))
    }

    pub(crate) fn eval_binary(
        &mut self,
        op: BinOp,
        l: Val,
        r: Val,
        matching: Option<&VectorMatching>,
        return_bool: bool,
    ) -> Result<Val, QueryError> {
        let bool_val = |keep: bool| if keep { 1.0 } else { 0.0 };
        match (l, r) {
            (Val::Scalar(a), Val::Scalar(b)) => Ok(Val::Scalar(
                a.iter()
                    .zip(&b)
                    .map(|(x, y)| {
                        let (v, keep) = scalar_op(op, *x, *y);
                        if op.is_comparison() {
                            bool_val(keep)
                        } else {
                            v
                        }
                    })
                    .collect(),
            )),
            (Val::Vector(vs), Val::Scalar(s)) => self.vector_scalar(op, vs, &s, false, return_bool),
            (Val::Scalar(s), Val::Vector(vs)) => self.vector_scalar(op, vs, &s, true, return_bool),
            (Val::Vector(a), Val::Vector(b)) => {
                let m = matching.cloned().unwrap_or(VectorMatching {
                    card: if op.is_set() {
                        Card::ManyToMany
                    } else {
                        Card::OneToOne
                    },
                    on: false,
                    labels: vec![],
                    include: vec![],
                });
                match op {
                    BinOp::And | BinOp::Unless => Ok(Val::Vector(set_and_unless(op, a, b, &m))),
                    BinOp::Or => Ok(Val::Vector(merge_same_labels(set_or(a, b, &m))?)),
                    _ => self.vector_vector(op, a, b, &m, return_bool),
                }
            }
            _ => Err(QueryError::Execution(
                "invalid operand types for binary operation".into(),
            )),
        }
    }

    fn vector_scalar(
        &mut self,
        op: BinOp,
        vs: Vec<VS>,
        s: &[f64],
        swap: bool,
        return_bool: bool,
    ) -> Result<Val, QueryError> {
        let drop = return_bool || !op.is_comparison();
        let out: Vec<VS> = vs
            .into_iter()
            .map(|x| {
                let vals = x
                    .vals
                    .iter()
                    .zip(s)
                    .map(|(v, sv)| {
                        let v = (*v)?;
                        let (a, b) = if swap { (*sv, v) } else { (v, *sv) };
                        let (mut res, keep) = scalar_op(op, a, b);
                        if op.is_comparison() && swap {
                            res = b;
                        }
                        if return_bool {
                            Some(if keep { 1.0 } else { 0.0 })
                        } else if keep {
                            Some(res)
                        } else {
                            None
                        }
                    })
                    .collect();
                let x = VS {
                    labels: x.labels,
                    vals,
                    drop_name: x.drop_name,
                };
                if drop {
                    self.name_dropped(x)
                } else {
                    x
                }
            })
            .filter(|x| x.vals.iter().any(|v| v.is_some()))
            .collect();
        Ok(Val::Vector(if drop && !self.opts.delayed_name_removal {
            merge_same_labels(out)?
        } else {
            out
        }))
    }

    fn vector_vector(
        &mut self,
        op: BinOp,
        lhs: Vec<VS>,
        rhs: Vec<VS>,
        m: &VectorMatching,
        return_bool: bool,
    ) -> Result<Val, QueryError> {
        // The "many" side is iterated; the "one" side is looked up by signature. Signatures,
        // match groups and result labels are computed once per series (or pair of series),
        // not per step; each step then only reads values and checks uniqueness by stamps.
        let (many, one, swapped) = if m.card == Card::OneToMany {
            (rhs, lhs, true)
        } else {
            (lhs, rhs, false)
        };
        let n = many
            .first()
            .or(one.first())
            .map(|s| s.vals.len())
            .unwrap_or(0);
        let mut group_of_sig: HashMap<Signature, usize> = HashMap::new();
        // Per match group: its signature and the "one" series in it.
        let mut groups: Vec<(Signature, Vec<usize>)> = Vec::new();
        for (i, s) in one.iter().enumerate() {
            let sig = signature(&s.labels, m);
            let g = *group_of_sig.entry(sig.clone()).or_insert_with(|| {
                groups.push((sig, vec![]));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
        // The match group of each "many" series, if any.
        let many_group: Vec<Option<usize>> = many
            .iter()
            .map(|s| group_of_sig.get(&signature(&s.labels, m)).copied())
            .collect();
        drop(group_of_sig);
        if let Some(out) = super::matching::series_major(
            op,
            &many,
            &one,
            &groups,
            &many_group,
            m,
            return_bool,
            swapped,
            self.opts.delayed_name_removal,
        ) {
            self.check_deadline()?;
            return Ok(Val::Vector(out));
        }
        // Per group: the "one" series present at the current step.
        let mut one_at: Vec<Option<usize>> = vec![None; groups.len()];
        // Per group: the last step a one-to-one match used it (+1; 0 = never).
        let mut group_used: Vec<usize> = vec![0; groups.len()];
        // Output series ids by (many, one) pair and by labels, in first-seen order.
        let mut pair_out: HashMap<(usize, usize), usize> = HashMap::new();
        // Per "many" series: its last (one series, output series); a series usually matches
        // the same one at every step, so the map above is rarely consulted.
        let mut last_pair: Vec<Option<(usize, usize)>> = vec![None; many.len()];
        let mut out_by_labels: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<VS> = Vec::new();
        // Per output series: the last step it got a value (+1; 0 = never).
        let mut out_step: Vec<usize> = Vec::new();
        let delayed = self.opts.delayed_name_removal;
        for step in 0..n {
            for (g, (sig, idx)) in groups.iter().enumerate() {
                let mut present = idx.iter().copied().filter(|&i| one[i].vals[step].is_some());
                one_at[g] = present.next();
                if let (Some(a), Some(b)) = (one_at[g], present.next()) {
                    let side = if swapped { "left" } else { "right" };
                    return Err(QueryError::Execution(format!(
                        "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        fmt_sig(sig),
                        fmt_labels(&one[a].labels),
                        fmt_labels(&one[b].labels)
                    )));
                }
            }
            for (i, s) in many.iter().enumerate() {
                let Some(mv) = s.vals[step] else { continue };
                let Some(g) = many_group[i] else { continue };
                let Some(j) = one_at[g] else { continue };
                if m.card == Card::OneToOne {
                    if group_used[g] == step + 1 {
                        return Err(QueryError::Execution(
                            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                        ));
                    }
                    group_used[g] = step + 1;
                }
                let ov = one[j].vals[step].expect("present");
                let Some(value) = matched_value(op, mv, ov, swapped, return_bool) else {
                    continue;
                };
                let o = match last_pair[i] {
                    Some((lj, lo)) if lj == j => lo,
                    _ => match pair_out.get(&(i, j)) {
                        Some(&o) => o,
                        None => {
                            let labels = result_labels(
                                op,
                                &s.labels,
                                &one[j].labels,
                                m,
                                return_bool,
                                delayed,
                            );
                            let o = *out_by_labels.entry(labels.clone()).or_insert_with(|| {
                                out.push(VS::new(labels, vec![None; n]));
                                out_step.push(0);
                                out.len() - 1
                            });
                            pair_out.insert((i, j), o);
                            // Per pair, not per value: the flag depends on the "many" series.
                            out[o].drop_name |= result_flag(op, return_bool, s.drop_name, delayed);
                            o
                        }
                    },
                };
                last_pair[i] = Some((j, o));
                if out_step[o] == step + 1 {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into(),
                    ));
                }
                out_step[o] = step + 1;
                out[o].vals[step] = Some(value);
            }
            if step % 64 == 0 {
                self.check_deadline()?;
            }
        }
        Ok(Val::Vector(out))
    }
}

pub(crate) fn fmt_labels(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|x| format!("{}={:?}", x.name, x.value))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn set_and_unless(op: BinOp, lhs: Vec<VS>, rhs: Vec<VS>, m: &VectorMatching) -> Vec<VS> {
    let n = lhs.first().map(|s| s.vals.len()).unwrap_or(0);
    let mut present: HashMap<Signature, Vec<bool>> = HashMap::new();
    for s in &rhs {
        let p = present
            .entry(signature(&s.labels, m))
            .or_insert_with(|| vec![false; n]);
        for (i, v) in s.vals.iter().enumerate() {
            if v.is_some() {
                p[i] = true;
            }
        }
    }
    lhs.into_iter()
        .filter_map(|mut s| {
            let p = present.get(&signature(&s.labels, m));
            for (i, v) in s.vals.iter_mut().enumerate() {
                let matched = p.is_some_and(|p| p[i]);
                if (op == BinOp::And) != matched {
                    *v = None;
                }
            }
            s.vals.iter().any(|v| v.is_some()).then_some(s)
        })
        .collect()
}

fn set_or(lhs: Vec<VS>, rhs: Vec<VS>, m: &VectorMatching) -> Vec<VS> {
    let n = lhs
        .first()
        .or(rhs.first())
        .map(|s| s.vals.len())
        .unwrap_or(0);
    let mut present: HashMap<Signature, Vec<bool>> = HashMap::new();
    for s in &lhs {
        let p = present
            .entry(signature(&s.labels, m))
            .or_insert_with(|| vec![false; n]);
        for (i, v) in s.vals.iter().enumerate() {
            if v.is_some() {
                p[i] = true;
            }
        }
    }
    let mut out = lhs;
    for mut s in rhs {
        if let Some(p) = present.get(&signature(&s.labels, m)) {
            for (i, v) in s.vals.iter_mut().enumerate() {
                if p[i] {
                    *v = None;
                }
            }
        }
        if s.vals.iter().any(|v| v.is_some()) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::SEQUENTIAL_SIDES;
    use crate::promql::{Engine, EngineOptions, MemStorage};
    use tsdb::Labels;

    /// Operands evaluated at the same time give what evaluating them in order gives: values,
    /// annotations in order, and the left side's error first.
    #[test]
    fn parallel_sides_equal_sequential() {
        let st = MemStorage::new();
        for (name, k) in [("a_total", 1.0), ("b", 2.0), ("c_total", 3.0)] {
            for inst in ["x", "y"] {
                let l = Labels::from_pairs(&[("__name__", name), ("inst", inst), ("j", "q")]);
                for i in 0..60 {
                    st.add(l.clone(), i * 15_000, k * i as f64 + (i % 4) as f64);
                }
            }
        }
        let engine = Engine::new(EngineOptions {
            parallelism: 2,
            ..EngineOptions::default()
        });
        for q in [
            "a_total / c_total",
            "rate(b[5m]) / rate(a_total[5m])",
            "rate(a_total[5m]) / on (inst) rate(b[5m])",
            "quantile(2, b) + quantile(-1, a_total)",
            "a_total + on (j) c_total",
            "a_total / ignoring (x) b + c_total * b",
            "rate(b[5m]) and c_total",
            "sum(a_total) / count(b) - 1",
        ] {
            let run = |sequential: bool| {
                SEQUENTIAL_SIDES.with(|c| c.set(sequential));
                let r = engine
                    .range(&st, q, 0, 900_000, 30_000)
                    .map(|o| (o.value, o.warnings, o.infos))
                    .map_err(|e| e.to_string());
                SEQUENTIAL_SIDES.with(|c| c.set(false));
                r
            };
            // Debug strings: NaN values compare unequal as floats.
            let (a, b) = (format!("{:?}", run(false)), format!("{:?}", run(true)));
            assert_eq!(a, b, "{q}");
        }
    }
}
