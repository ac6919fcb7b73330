//! Vector matching one series at a time: when no step can have a duplicate or a collision
//! (each match group has one series on the "one" side, one-to-one groups one on the "many"
//! side, and all result label sets differ), a binary operation between two vectors is
//! computed series by series over all steps instead of step by step over all series.

use super::ast::{BinOp, Card, VectorMatching};
use super::binary::{matched_value, result_flag, result_labels, Signature};
use super::eval::VS;
use super::names::labels_collide;

#[cfg(test)]
thread_local! {
    /// Tests turn the series-major path off to compare it with the step-by-step one.
    pub(crate) static STEP_BY_STEP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The result of `many op one` (operands swapped back when `swapped`) computed per series,
/// in the order the step-by-step path creates its output series (by the first step with a
/// value, then by "many" series); None when some step could fail or merge series, which only
/// the step-by-step path handles. `delayed`: delayed name removal (names kept, results
/// flagged).
#[allow(clippy::too_many_arguments)]
pub(crate) fn series_major(
    op: BinOp,
    many: &[VS],
    one: &[VS],
    groups: &[(Signature, Vec<usize>)],
    many_group: &[Option<usize>],
    m: &VectorMatching,
    return_bool: bool,
    swapped: bool,
    delayed: bool,
) -> Option<Vec<VS>> {
    #[cfg(test)]
    if STEP_BY_STEP.with(|c| c.get()) {
        return None;
    }
    if groups.iter().any(|g| g.1.len() != 1) {
        return None;
    }
    if m.card == Card::OneToOne {
        let mut used = vec![false; groups.len()];
        for &g in many_group.iter().flatten() {
            if std::mem::replace(&mut used[g], true) {
                return None;
            }
        }
    }
    let mut out: Vec<(usize, VS)> = Vec::new();
    for (s, g) in many.iter().zip(many_group) {
        let Some(g) = *g else { continue };
        let o = &one[groups[g].1[0]];
        let mut first = None;
        let vals: Vec<Option<f64>> = s
            .vals
            .iter()
            .zip(&o.vals)
            .enumerate()
            .map(|(step, (mv, ov))| {
                let v = matched_value(op, (*mv)?, (*ov)?, swapped, return_bool)?;
                first.get_or_insert(step);
                Some(v)
            })
            .collect();
        let Some(first) = first else { continue };
        let labels = result_labels(op, &s.labels, &o.labels, m, return_bool, delayed);
        out.push((
            first,
            VS {
                labels,
                vals,
                drop_name: result_flag(op, return_bool, s.drop_name, delayed),
            },
        ));
    }
    if labels_collide(out.iter().map(|x| &x.1.labels)) {
        return None;
    }
    // Stable: series first valued at the same step stay in "many" order.
    out.sort_by_key(|x| x.0);
    Some(out.into_iter().map(|x| x.1).collect())
}

#[cfg(test)]
mod tests {
    use super::STEP_BY_STEP;
    use crate::promql::{Engine, EngineOptions, MemStorage, Value};
    use tsdb::Labels;

    fn store() -> MemStorage {
        let st = MemStorage::new();
        let add = |pairs: &[(&str, &str)], from: i64, to: i64, f: &dyn Fn(i64) -> f64| {
            for i in from..to {
                st.add(Labels::from_pairs(pairs), i * 15_000, f(i));
            }
        };
        for (inst, k) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
            for (pod, p) in [("x", 1.0), ("y", 5.0)] {
                let f = move |i: i64| k * p + (i % 7) as f64 * 0.25;
                // Pod y of instance c appears late; instance b's limit goes away early.
                let from = if inst == "c" && pod == "y" { 30 } else { 0 };
                add(
                    &[("__name__", "use"), ("inst", inst), ("pod", pod)],
                    from,
                    80,
                    &f,
                );
                let lim = move |i: i64| 4.0 * k + (i % 5) as f64;
                let to = if inst == "b" { 50 } else { 80 };
                add(
                    &[("__name__", "lim"), ("inst", inst), ("pod", pod)],
                    0,
                    to,
                    &lim,
                );
            }
            add(&[("__name__", "node"), ("inst", inst)], 0, 80, &|i| {
                10.0 + (i % 3) as f64
            });
        }
        st
    }

    /// Each binary operation the series-major path takes equals the step-by-step result
    /// (values, labels and series order, which a following `sum` would see).
    #[test]
    fn series_major_equals_step_by_step() {
        let st = store();
        for q in [
            "use / lim",
            "use > lim",
            "use > bool lim",
            "lim < use",
            "use / on (inst) group_left node",
            "node / on (inst) group_right use",
            "use - ignoring (pod) group_left node",
            "sum by (inst) (use) / sum by (inst) (lim)",
            "sum(use / lim)",
            "sum(use / on (inst) group_left node)",
            // The step-by-step path only: two "one" series in a group, colliding results.
            "use / ignoring (pod) group_left lim",
            "sum without (pod) (use / on (inst, pod) lim)",
        ] {
            let run = |step_by_step: bool, instant: bool, delayed: bool| {
                STEP_BY_STEP.with(|c| c.set(step_by_step));
                let e = Engine::new(EngineOptions {
                    delayed_name_removal: delayed,
                    ..EngineOptions::default()
                });
                let r = if instant {
                    e.instant(&st, q, 600_000).map(|o| o.value)
                } else {
                    e.range(&st, q, 0, 1_200_000, 30_000).map(|o| o.value)
                };
                STEP_BY_STEP.with(|c| c.set(false));
                r.map_err(|e| e.to_string())
            };
            // Delayed name removal: the same labels (names removed at the end), so the same
            // results.
            for (instant, delayed) in [(false, false), (true, false), (false, true), (true, true)] {
                let (a, b) = (run(false, instant, delayed), run(true, instant, delayed));
                assert_eq!(a, b, "{q}");
                if delayed {
                    assert_eq!(a, run(false, instant, false), "{q}");
                }
                if let Ok(Value::Matrix(m)) = &a {
                    assert!(!m.is_empty(), "{q}");
                }
            }
        }
    }
}
