//! `info(v [, {data-label selector}])` (Prometheus 3.x): adds to each series of `v` the data
//! labels of the info series describing the same target (same `instance` and `job`) that are
//! present at each step.
//!
//! * Info metrics: `target_info` unless the selector has `__name__` matchers; with only
//!   negated ones, names matching `.+_info` that pass them; else names passing all of them.
//!   Series of `v` that are info series themselves pass through unchanged.
//! * Info series are read with the selector's matchers plus the identifying label values of
//!   `v`'s series, so the storage selects only those; they are read as of the time the
//!   first selector of `v` reads (its `@` and offset, composed with enclosing subqueries').
//! * Data labels: every label but `__name__` (only those the selector names, if it names
//!   any); labels `v`'s series already has are kept. Two info metrics giving one label
//!   different values is an error, as are two info series of one metric and target whose
//!   newest samples have the same time (otherwise the newer wins).
//! * A series no info series matches at a step passes through, unless a selector matcher
//!   rejects the empty string (then it is dropped at that step).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use tsdb::{Label, Labels, MatchOp, Matcher};

use super::ast::{At, Expr, VectorSelector};
use super::binary::fmt_labels;
use super::eval::{Ctx, QueryError, Steps, Val, VS};

/// Labels identifying the target an info series describes.
const ID_LABELS: [&str; 2] = ["instance", "job"];

/// The info metric without a `__name__` matcher.
const DEFAULT_INFO: &str = "target_info";

/// An info series' metric name and identifying label values.
type Sig<'a> = (&'a str, [Option<&'a str>; 2]);

fn sig<'a>(name: &'a str, l: &'a Labels) -> Sig<'a> {
    (name, ID_LABELS.map(|k| l.get(k).filter(|v| !v.is_empty())))
}

/// The `__name__` matchers that choose the info metrics (see the module docs).
fn info_name_matchers(selector: &[Matcher]) -> Result<Vec<Matcher>, QueryError> {
    let names: Vec<Matcher> = selector
        .iter()
        .filter(|m| m.name == "__name__")
        .cloned()
        .collect();
    if names.is_empty() {
        return Ok(vec![Matcher::equal("__name__", DEFAULT_INFO)]);
    }
    if names
        .iter()
        .all(|m| matches!(m.op, MatchOp::NotEqual | MatchOp::NotRegex))
    {
        let any_info = Matcher::new(MatchOp::Regex, "__name__", ".+_info")
            .map_err(|e| QueryError::Execution(e.to_string()))?;
        return Ok(std::iter::once(any_info).chain(names).collect());
    }
    Ok(names)
}

/// The `@` and offset the first selector of `e` reads with, composed with those of the
/// subqueries around it; None when `e` has no selector.
fn reference_time(e: &Expr) -> Option<(Option<At>, i64)> {
    match e {
        Expr::Selector(sel) | Expr::Matrix { sel, .. } => Some((sel.at, sel.offset)),
        Expr::Subquery {
            expr, offset, at, ..
        } => {
            let (inner_at, inner_offset) = reference_time(expr)?;
            Some(match inner_at {
                Some(a) => (Some(a), inner_offset),
                None => (*at, offset + inner_offset),
            })
        }
        Expr::Paren(e) | Expr::Neg(e) => reference_time(e),
        Expr::Call { args, .. } => args.iter().find_map(reference_time),
        Expr::Aggregate { expr, param, .. } => {
            reference_time(expr).or_else(|| param.as_deref().and_then(reference_time))
        }
        Expr::Binary { lhs, rhs, .. } => reference_time(lhs).or_else(|| reference_time(rhs)),
        Expr::Number(_) | Expr::Str(_) => None,
    }
}

/// What enriching one series needs besides the info series.
struct DataLabels<'a> {
    /// The selector's non-`__name__` matchers name the labels taken (None: all).
    only: Option<HashSet<&'a str>>,
    /// Some matcher rejects the empty string: a series without info is dropped.
    required: bool,
}

impl DataLabels<'_> {
    /// `base` with the data labels of the info series `winners`; None when it is dropped.
    fn enrich(
        &self,
        base: &Labels,
        winners: &[usize],
        info: &[VS],
    ) -> Result<Option<Labels>, QueryError> {
        if winners.is_empty() {
            return Ok((!self.required).then(|| base.clone()));
        }
        let mut added: BTreeMap<&str, &str> = BTreeMap::new();
        for &w in winners {
            for l in info[w].labels.iter() {
                let name = l.name.as_ref();
                if name == "__name__" || self.only.as_ref().is_some_and(|o| !o.contains(name)) {
                    continue;
                }
                if let Some(v) = added.get(name) {
                    if **v != *l.value {
                        return Err(QueryError::Execution(format!("conflicting label: {name}")));
                    }
                    continue;
                }
                if base.get(name).is_none() {
                    added.insert(name, &l.value);
                }
            }
        }
        if added.is_empty() {
            return Ok(Some(base.clone()));
        }
        let mut v: Vec<Label> = base.iter().cloned().collect();
        v.extend(
            added
                .into_iter()
                .map(|(name, value)| Label::new(name, value)),
        );
        v.sort();
        Ok(Some(Labels::from_sorted(v)))
    }
}

impl Ctx<'_> {
    /// `info(v)` or `info(v, {selector})`.
    pub(crate) fn eval_info(&mut self, args: &[Expr], steps: Steps) -> Result<Val, QueryError> {
        let Val::Vector(base) = self.eval(&args[0], steps)? else {
            return Err(QueryError::Execution("info() of a non-vector".into()));
        };
        let selector: &[Matcher] = match args.get(1) {
            None => &[],
            Some(Expr::Selector(sel)) => &sel.matchers,
            Some(_) => {
                return Err(QueryError::BadData(
                    "the second argument of info() must be a label selector".into(),
                ))
            }
        };
        let names = info_name_matchers(selector)?;
        let data: Vec<&Matcher> = selector.iter().filter(|m| m.name != "__name__").collect();
        let ignored: Vec<bool> = base
            .iter()
            .map(|s| {
                let name = s.labels.get("__name__").unwrap_or("");
                names.iter().all(|m| m.matches(name))
            })
            .collect();
        let info = self.info_series(&args[0], &base, &ignored, names, &data, steps)?;
        let labels = DataLabels {
            only: (!data.is_empty()).then(|| data.iter().map(|m| m.name.as_str()).collect()),
            required: data.iter().any(|m| !m.matches_empty()),
        };
        Ok(Val::Vector(self.combine_info(
            base,
            &ignored,
            &info,
            &labels,
            steps.len(),
        )?))
    }

    /// The info series (values: sample times) that may describe the series of `base` not
    /// `ignored`, read as of the time `arg`'s first selector reads.
    fn info_series(
        &mut self,
        arg: &Expr,
        base: &[VS],
        ignored: &[bool],
        names: Vec<Matcher>,
        data: &[&Matcher],
        steps: Steps,
    ) -> Result<Vec<VS>, QueryError> {
        let mut values: [BTreeSet<&str>; 2] = Default::default();
        for s in base.iter().zip(ignored).filter(|x| !*x.1).map(|x| x.0) {
            for (k, l) in ID_LABELS.iter().enumerate() {
                if let Some(v) = s.labels.get(l).filter(|v| !v.is_empty()) {
                    values[k].insert(v);
                }
            }
        }
        if values.iter().all(|v| v.is_empty()) {
            return Ok(vec![]);
        }
        let mut matchers = names;
        matchers.extend(data.iter().map(|m| (*m).clone()));
        for (k, l) in ID_LABELS.iter().enumerate() {
            let m = match values[k].len() {
                0 => continue,
                1 => Matcher::equal(l, values[k].first().expect("one value")),
                _ => {
                    let alt: Vec<String> = values[k].iter().map(|v| regex::escape(v)).collect();
                    Matcher::new(MatchOp::Regex, l, &alt.join("|"))
                        .map_err(|e| QueryError::Execution(e.to_string()))?
                }
            };
            matchers.push(m);
        }
        let (at, offset) = reference_time(arg).unwrap_or((None, 0));
        let sel = VectorSelector {
            name: None,
            matchers,
            offset,
            at,
        };
        self.eval_selector(&sel, steps, true)
    }

    /// Enriches each series of `base` with the data labels of `info` step by step; outputs
    /// with equal labels are merged (one value per step, else an error).
    fn combine_info(
        &mut self,
        base: Vec<VS>,
        ignored: &[bool],
        info: &[VS],
        labels: &DataLabels<'_>,
        n: usize,
    ) -> Result<Vec<VS>, QueryError> {
        // Info series by metric name and target; the names in order.
        let mut group_of: HashMap<Sig<'_>, usize> = HashMap::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut info_names: BTreeSet<&str> = BTreeSet::new();
        for (i, s) in info.iter().enumerate() {
            let name = s.labels.get("__name__").unwrap_or("");
            info_names.insert(name);
            let g = *group_of.entry(sig(name, &s.labels)).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(i);
        }
        // Per group and step: the info series with the newest sample.
        let mut newest: Vec<Vec<Option<usize>>> = Vec::with_capacity(groups.len());
        for members in &groups {
            let mut per_step = vec![None; n];
            for (step, slot) in per_step.iter_mut().enumerate() {
                for &i in members {
                    let Some(t) = info[i].vals[step] else {
                        continue;
                    };
                    let best: Option<(usize, f64)> =
                        slot.and_then(|b: usize| info[b].vals[step].map(|bt| (b, bt)));
                    match best {
                        Some((_, bt)) if bt > t => {}
                        Some((b, bt)) if bt == t => {
                            return Err(QueryError::Execution(format!(
                                "found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                                fmt_labels(&info[b].labels),
                                (t * 1000.0).round() as i64,
                                fmt_labels(&info[i].labels),
                                (t * 1000.0).round() as i64
                            )));
                        }
                        _ => *slot = Some(i),
                    }
                }
            }
            newest.push(per_step);
        }
        let mut out: Vec<VS> = Vec::new();
        let mut out_of: HashMap<Labels, usize> = HashMap::new();
        for (s, &ignore) in base.into_iter().zip(ignored) {
            // The groups that may describe this series, one per info metric.
            let mine: Vec<usize> = if ignore {
                vec![]
            } else {
                info_names
                    .iter()
                    .filter_map(|name| group_of.get(&sig(name, &s.labels)).copied())
                    .collect()
            };
            // The last step's winners and output series (None: dropped): usually the same.
            let mut last: Option<(Vec<usize>, Option<usize>)> = None;
            for (step, v) in s.vals.iter().enumerate() {
                let Some(v) = *v else { continue };
                let winners: Vec<usize> = mine.iter().filter_map(|&g| newest[g][step]).collect();
                let o = match &last {
                    Some((w, o)) if *w == winners => *o,
                    _ => {
                        let l = if ignore {
                            Some(s.labels.clone())
                        } else {
                            labels.enrich(&s.labels, &winners, info)?
                        };
                        let o = match l {
                            None => None,
                            Some(l) => Some(match out_of.get(&l) {
                                Some(&o) => o,
                                None => {
                                    self.account(n)?;
                                    out_of.insert(l.clone(), out.len());
                                    out.push(VS::new(l, vec![None; n]));
                                    out.len() - 1
                                }
                            }),
                        };
                        last = Some((winners, o));
                        o
                    }
                };
                let Some(o) = o else { continue };
                if out[o].vals[step].replace(v).is_some() {
                    return Err(QueryError::Execution(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
                // A name dropped before enrichment stays dropped (delayed name removal).
                out[o].drop_name |= s.drop_name;
            }
            self.check_deadline()?;
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "info_tests.rs"]
mod tests;
