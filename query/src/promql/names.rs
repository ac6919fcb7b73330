//! Metric-name removal. Functions and operators that change a value's meaning drop the
//! metric name: at once by default, or — with delayed name removal
//! ([`super::EngineOptions::delayed_name_removal`], Prometheus' `promql-delayed-name-removal`)
//! — by flagging the series ([`VS::drop_name`]) and removing the name of flagged series only
//! when the whole expression has been evaluated, so `label_replace`, `label_join` and
//! `by (__name__)` still see it.

use tsdb::{Label, Labels};

use super::eval::{Ctx, QueryError, VS};

/// Labels without `__name__`.
pub(crate) fn drop_name(l: &Labels) -> Labels {
    Labels::from_sorted(
        l.iter()
            .filter(|x| &*x.name != "__name__")
            .cloned()
            .collect(),
    )
}

/// Labels with `name` set to `value` (removed when `value` is empty).
pub(crate) fn with_label(l: &Labels, name: &str, value: &str) -> Labels {
    let mut v: Vec<Label> = l.iter().filter(|x| &*x.name != name).cloned().collect();
    if !value.is_empty() {
        v.push(Label::new(name, value));
        v.sort();
    }
    Labels::from_sorted(v)
}

/// Whether two of `labels` are equal.
pub(crate) fn labels_collide<'a>(labels: impl Iterator<Item = &'a Labels>) -> bool {
    let mut labels: Vec<&Labels> = labels.collect();
    labels.sort_unstable();
    labels.windows(2).any(|w| w[0] == w[1])
}

/// Merges series with equal labels (sorted by labels; a merged series is flagged when either
/// was); two values at one step is an error.
pub(crate) fn merge_same_labels(mut v: Vec<VS>) -> Result<Vec<VS>, QueryError> {
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out: Vec<VS> = Vec::with_capacity(v.len());
    for s in v {
        if let Some(last) = out.last_mut() {
            if last.labels == s.labels {
                for (a, b) in last.vals.iter_mut().zip(s.vals) {
                    if b.is_some() {
                        if a.is_some() {
                            return Err(QueryError::Execution(
                                "vector cannot contain metrics with the same labelset".into(),
                            ));
                        }
                        *a = b;
                    }
                }
                last.drop_name |= s.drop_name;
                continue;
            }
        }
        out.push(s);
    }
    Ok(out)
}

/// Removes the metric name of every flagged series at the end of an evaluation. Series that
/// then share their labels are merged (a range query's series that take turns, as
/// `-a or -b` gives), and two values at one step are an error, as in Prometheus.
pub(crate) fn remove_flagged_names(vs: Vec<VS>) -> Result<Vec<VS>, QueryError> {
    if !vs.iter().any(|s| s.drop_name) {
        return Ok(vs);
    }
    let vs: Vec<VS> = vs
        .into_iter()
        .map(|mut s| {
            if std::mem::take(&mut s.drop_name) {
                s.labels = drop_name(&s.labels);
            }
            s
        })
        .collect();
    if labels_collide(vs.iter().map(|s| &s.labels)) {
        // Merging sorts by labels; only a collision (an error for an instant query, whose
        // order `sort` may have set) or a range query (sorted at the end) gets here.
        return merge_same_labels(vs);
    }
    Ok(vs)
}

impl Ctx<'_> {
    /// `s` after a function or operator that drops the metric name: without `__name__`, or
    /// with delayed name removal unchanged but flagged.
    pub fn name_dropped(&self, mut s: VS) -> VS {
        let flagged;
        (s.labels, flagged) = unnamed(s.labels, self.opts.delayed_name_removal);
        s.drop_name |= flagged;
        s
    }
}

/// Labels and flag of a series whose name a function drops: without `__name__`, or with
/// delayed name removal (`delayed`) unchanged and flagged.
pub(crate) fn unnamed(labels: Labels, delayed: bool) -> (Labels, bool) {
    if delayed {
        (labels, true)
    } else {
        (drop_name(&labels), false)
    }
}

#[cfg(test)]
mod tests {
    use crate::promql::{Engine, EngineOptions, MemStorage, Value};
    use tsdb::Labels;

    fn engine(delayed: bool) -> Engine {
        Engine::new(EngineOptions {
            delayed_name_removal: delayed,
            ..EngineOptions::default()
        })
    }

    fn store() -> MemStorage {
        let st = MemStorage::new();
        for (name, slope) in [("a_total", 1.0), ("b_total", 3.0), ("c_total", 2.0)] {
            for i in 0..40 {
                let l = Labels::from_pairs(&[("__name__", name), ("env", "1")]);
                st.add(l, i * 15_000, slope * i as f64);
            }
        }
        st
    }

    /// Names are removed at the end without reordering what `sort_desc` ordered; series that
    /// then collide are an error, as without delayed removal (where `rate` collides).
    #[test]
    fn removal_at_the_end_keeps_order_and_detects_collisions() {
        let st = store();
        let out = engine(true)
            .instant(
                &st,
                r#"sort_desc(label_replace(rate({env="1"}[5m]), "n", "$1", "__name__", "(.+)"))"#,
                585_000,
            )
            .unwrap();
        let Value::Vector(v) = out.value else {
            panic!()
        };
        let got: Vec<(Option<&str>, Option<&str>)> = v
            .iter()
            .map(|s| (s.labels.get("__name__"), s.labels.get("n")))
            .collect();
        assert_eq!(
            got,
            vec![
                (None, Some("b_total")),
                (None, Some("c_total")),
                (None, Some("a_total"))
            ]
        );
        for delayed in [false, true] {
            let e = engine(delayed)
                .instant(&st, r#"rate({env="1"}[5m])"#, 585_000)
                .unwrap_err();
            assert!(e.to_string().contains("same labelset"), "{delayed}: {e}");
        }
        // A subquery's flagged names go when the (instant) range-vector result is returned.
        let out = engine(true)
            .instant(&st, "abs(a_total)[1m:30s]", 585_000)
            .unwrap();
        let Value::Matrix(m) = out.value else {
            panic!()
        };
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].labels, Labels::from_pairs(&[("env", "1")]));
    }
}
