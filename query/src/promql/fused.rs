//! Aggregations computed where their input is read: `sum by (…) (rate(x[5m]))` and
//! `sum by (…) (x)` compute each series' group on the reading threads and hand it to an
//! [`AggSink`], so the aggregation neither relabels (drops `__name__`), re-sorts, merges nor
//! holds its input.

use tsdb::{Labels, MatchOp};

use super::ast::{AggOp, Expr, ValueType, VectorSelector};
use super::eval::{Ctx, QueryError, Steps, Val, VS};
use super::stream_agg::AggSink;

/// The grouping of an aggregation, applied to series as they are read.
pub(crate) struct Regroup<'g> {
    /// The `by`/`without` label names.
    pub grouping: &'g [String],
    /// True for `without`.
    pub without: bool,
    /// Where the grouped series go as they are read (instead of being returned).
    pub sink: Option<&'g AggSink>,
}

impl Regroup<'_> {
    /// The group of a series with labels `l`; `drop_name` when the series loses its metric
    /// name before it is aggregated (a range function that drops it).
    pub fn group_of(&self, l: &Labels, drop_name: bool) -> Labels {
        let name_ok = |n: &str| !(drop_name && n == "__name__");
        group_labels_by(l, |n| {
            if self.without {
                n != "__name__" && !self.grouping.iter().any(|g| g == n)
            } else {
                name_ok(n) && self.grouping.iter().any(|g| g == n)
            }
        })
    }
}

/// The labels of `l` whose names `keep` accepts.
fn group_labels_by(l: &Labels, keep: impl Fn(&str) -> bool) -> Labels {
    Labels::from_sorted(l.iter().filter(|x| keep(&x.name)).cloned().collect())
}

/// The group of `l` under `by (grouping)` or `without (grouping)`.
pub(crate) fn group_labels(l: &Labels, grouping: &[String], without: bool) -> Labels {
    Regroup {
        grouping,
        without,
        sink: None,
    }
    .group_of(l, false)
}

/// True when every series `sel` selects has the same metric name.
fn single_name(sel: &VectorSelector) -> bool {
    sel.matchers
        .iter()
        .any(|m| m.name == "__name__" && m.op == MatchOp::Equal)
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(i) => unparen(i),
        e => e,
    }
}

impl Ctx<'_> {
    /// Aggregation `op` of `expr` computed as the series are read (groups in first-seen
    /// order, members added in label order, as the general path does), when `expr` is a
    /// selector or a range function over a matrix selector and `op` is `sum`, `avg`, `count`,
    /// `group`, `min` or `max`; None otherwise.
    pub(crate) fn streamed_aggregate(
        &mut self,
        op: AggOp,
        expr: &Expr,
        grouping: &[String],
        without: bool,
        steps: Steps,
    ) -> Result<Option<Vec<VS>>, QueryError> {
        if !matches!(
            op,
            AggOp::Sum | AggOp::Avg | AggOp::Count | AggOp::Group | AggOp::Min | AggOp::Max
        ) {
            return Ok(None);
        }
        let sink = AggSink::new(op, steps.len());
        let regroup = Regroup {
            grouping,
            without,
            sink: Some(&sink),
        };
        // Series the reading threads did not hand to the sink (none unless the range
        // argument is evaluated on this thread), in label order.
        let rest = match unparen(expr) {
            Expr::Selector(sel) => self.eval_selector_grouped(sel, steps, false, Some(&regroup))?,
            Expr::Call { func, args } => {
                let def = super::functions::lookup(func).expect("parser checked the function");
                let range_idx = match *func {
                    "quantile_over_time" => 1,
                    "absent_over_time" => return Ok(None),
                    _ if def.args.first() == Some(&ValueType::Matrix) => 0,
                    _ => return Ok(None),
                };
                let Expr::Matrix { sel, .. } = unparen(&args[range_idx]) else {
                    return Ok(None);
                };
                // Series that lose their names could collide (an error the general path
                // reports): only when one name is selected can they not.
                let keep_name = matches!(*func, "last_over_time" | "first_over_time");
                if !keep_name && !single_name(sel) {
                    return Ok(None);
                }
                // With delayed name removal a `by (__name__)` group keeps the name the
                // function drops and is flagged: the general path does that.
                if !keep_name
                    && self.opts.delayed_name_removal
                    && !without
                    && grouping.iter().any(|g| g == "__name__")
                {
                    return Ok(None);
                }
                match self.eval_range_call_grouped(func, args, steps, Some(&regroup))? {
                    Val::Vector(vs) => vs,
                    _ => {
                        return Err(QueryError::Execution(
                            "BUG: range function of a non-vector".into(),
                        ))
                    }
                }
            }
            _ => return Ok(None),
        };
        for (i, vs) in rest.into_iter().enumerate() {
            sink.accept(i, Some(vs));
        }
        Ok(Some(sink.finish()))
    }
}

#[cfg(test)]
mod tests {
    use crate::promql::{Engine, EngineOptions, MemStorage, Value};
    use tsdb::Labels;

    fn store() -> MemStorage {
        let st = MemStorage::new();
        for (name, a, slope) in [("foo", "1", 1.0), ("foo", "2", 2.5), ("bar", "1", 0.5)] {
            let l = Labels::from_pairs(&[("__name__", name), ("a", a), ("b", "x")]);
            for i in 0..80 {
                st.add(
                    l.clone(),
                    i * 15_000,
                    slope * (i * i % 17) as f64 + i as f64,
                );
            }
        }
        st
    }

    fn range(st: &MemStorage, q: &str) -> Value {
        range_with(st, q, false)
    }

    fn range_with(st: &MemStorage, q: &str, delayed: bool) -> Value {
        Engine::new(EngineOptions {
            delayed_name_removal: delayed,
            ..EngineOptions::default()
        })
        .range(st, q, 300_000, 1_200_000, 30_000)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .value
    }

    /// Each grouped aggregation equals the same aggregation of an input the grouped path
    /// does not take (`* 1` and `> -Inf` change no value).
    #[test]
    fn grouped_inputs_equal_the_general_path() {
        let st = store();
        for (grouped, general) in [
            (
                "sum by (b) (rate(foo[5m]))",
                "sum by (b) (rate(foo[5m]) * 1)",
            ),
            ("avg without (a) (foo)", "avg without (a) (foo * 1)"),
            (
                "max by (__name__) (rate(foo[5m]))",
                "max by (__name__) (rate(foo[5m]) * 1)",
            ),
            (
                "count by (__name__) (foo)",
                "count by (__name__) (foo > -Inf)",
            ),
            (
                "min by (a) (last_over_time({b=\"x\"}[1m]))",
                "min by (a) ({b=\"x\"} > -Inf)",
            ),
            (
                "group without () (increase(bar[2m]))",
                "group without () (increase(bar[2m]) * 1)",
            ),
        ] {
            let (a, b) = (range(&st, grouped), range(&st, general));
            assert_eq!(a, b, "{grouped} vs {general}");
            // With delayed name removal too (the grouped path steps aside for `by (__name__)`
            // over a function that drops the name: the group keeps it until the end).
            let (c, d) = (
                range_with(&st, grouped, true),
                range_with(&st, general, true),
            );
            assert_eq!(c, d, "{grouped} vs {general}, delayed");
            assert_eq!(a, c, "{grouped}, delayed");
            let Value::Matrix(m) = a else { panic!() };
            assert!(!m.is_empty(), "{grouped}");
        }
        let Value::Matrix(m) = range(&st, "count by (__name__) (foo)") else {
            panic!()
        };
        assert_eq!(m[0].labels.get("__name__"), Some("foo"));
    }

    /// Series that collide once their names are dropped still fail as in Prometheus.
    #[test]
    fn colliding_names_still_fail() {
        let err = Engine::default()
            .range(
                &store(),
                "sum(rate({b=\"x\"}[5m]))",
                300_000,
                600_000,
                30_000,
            )
            .unwrap_err();
        assert!(err.to_string().contains("same labelset"), "{err}");
    }
}
