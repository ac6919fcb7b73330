//! Range arguments (matrix selectors and subqueries): their windows per step and series.

use tsdb::Labels;

use super::ast::{Expr, VectorSelector};
use super::eval::{Ctx, QueryError, RangeSeriesFn, Steps, Val};
use super::storage::Window;
use super::value::is_stale_nan;

/// One series of a range argument: its samples and, per step, the window's end time.
pub(crate) struct RangeSeries {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
    /// The delayed-name-removal flag of a subquery's series.
    pub drop_name: bool,
}

/// A matrix-selector argument: its selector, per step the window `(lo, hi]`, and the
/// span `(lo, hi]` all windows cover.
pub(crate) struct MatrixArg<'e> {
    pub sel: &'e VectorSelector,
    pub windows: Vec<(i64, i64)>,
    pub lo: i64,
    pub hi: i64,
}

/// The first multiple of `step` at or after `t`.
fn align_up(t: i64, step: i64) -> i64 {
    let r = t.rem_euclid(step);
    if r == 0 {
        t
    } else {
        t + step - r
    }
}

impl Ctx<'_> {
    /// The selector, windows `(lo, hi]` per step and their span of a range argument that is
    /// a matrix selector (in parentheses or not); None for a subquery.
    pub fn matrix_arg<'e>(
        &self,
        e: &'e Expr,
        steps: Steps,
    ) -> Result<Option<MatrixArg<'e>>, QueryError> {
        let mut inner = e;
        while let Expr::Paren(x) = inner {
            inner = x;
        }
        let Expr::Matrix { sel, .. } = inner else {
            return Ok(None);
        };
        let (windows, lo, hi) = self.range_windows(inner, steps)?;
        Ok(Some(MatrixArg {
            sel,
            windows,
            lo,
            hi,
        }))
    }

    /// The windows `(lo, hi]` of a range argument per step, and the span `(lo, hi]` they cover.
    fn range_windows(&self, e: &Expr, steps: Steps) -> Result<(Vec<Window>, i64, i64), QueryError> {
        let (range, offset, at) = match e {
            Expr::Matrix { sel, range } => (*range, sel.offset, sel.at),
            Expr::Subquery {
                range, offset, at, ..
            } => (*range, *offset, *at),
            Expr::Paren(inner) => return self.range_windows(inner, steps),
            _ => return Err(QueryError::Execution("expected a range vector".into())),
        };
        let windows: Vec<(i64, i64)> = (0..steps.len())
            .map(|i| {
                let hi = self.base_time(&at, offset, steps.at(i));
                (hi - range, hi)
            })
            .collect();
        let lo = windows.iter().map(|w| w.0).min().unwrap_or(0) - self.closed_adj();
        let hi = windows.iter().map(|w| w.1).max().unwrap_or(0);
        Ok((windows, lo, hi))
    }

    /// Calls `f` with each series of a range argument (stale markers removed); a matrix
    /// selector's series are streamed from storage one at a time. Returns the windows.
    pub fn for_each_range_series(
        &mut self,
        e: &Expr,
        steps: Steps,
        f: &mut RangeSeriesFn<'_, Self>,
    ) -> Result<Vec<Window>, QueryError> {
        let mut inner = e;
        while let Expr::Paren(x) = inner {
            inner = x;
        }
        if let Expr::Matrix { sel, .. } = inner {
            let (windows, lo, hi) = self.range_windows(inner, steps)?;
            let mut buf = Vec::new();
            self.stream(sel, lo + 1, hi, &mut |ctx, labels, samples| {
                let s = if samples.iter().any(|x| is_stale_nan(x.1)) {
                    buf.clear();
                    buf.extend(samples.iter().filter(|x| !is_stale_nan(x.1)));
                    &buf[..]
                } else {
                    samples
                };
                f(ctx, labels, false, s, &windows)
            })?;
            return Ok(windows);
        }
        let (series, windows) = self.range_arg(e, steps)?;
        for s in series {
            let n = s.samples.len();
            f(self, s.labels, s.drop_name, &s.samples, &windows)?;
            self.release(n);
        }
        Ok(windows)
    }

    /// A range argument (matrix selector or subquery): its series (stale markers removed)
    /// and, per step, the window `(lo, hi]`.
    pub fn range_arg(
        &mut self,
        e: &Expr,
        steps: Steps,
    ) -> Result<(Vec<RangeSeries>, Vec<Window>), QueryError> {
        if let Expr::Paren(inner) = e {
            return self.range_arg(inner, steps);
        }
        let (windows, lo, hi) = self.range_windows(e, steps)?;
        let series = match e {
            Expr::Matrix { sel, .. } => {
                let mut s = Vec::new();
                self.stream(sel, lo + 1, hi, &mut |ctx, labels, samples| {
                    let samples: Vec<(i64, f64)> = samples
                        .iter()
                        .filter(|x| !is_stale_nan(x.1))
                        .copied()
                        .collect();
                    ctx.account(samples.len())?;
                    s.push(RangeSeries {
                        labels,
                        samples,
                        drop_name: false,
                    });
                    Ok(())
                })?;
                s
            }
            Expr::Subquery { expr, step, .. } => {
                let step = step.unwrap_or(self.opts.default_subquery_step_ms);
                let inner = Steps {
                    start: align_up(lo + 1, step),
                    end: hi,
                    step,
                };
                if inner.start > inner.end {
                    vec![]
                } else {
                    let v = self.eval(expr, inner)?;
                    let flags: Vec<bool> = match &v {
                        Val::Vector(vs) => vs.iter().map(|s| s.drop_name).collect(),
                        _ => vec![],
                    };
                    v.into_step_series(inner)
                        .ok_or_else(|| QueryError::Execution("subquery of a non-vector".into()))?
                        .into_iter()
                        .zip(flags.into_iter().chain(std::iter::repeat(false)))
                        .map(|((labels, samples), drop_name)| RangeSeries {
                            labels,
                            samples,
                            drop_name,
                        })
                        .collect()
                }
            }
            _ => unreachable!(),
        };
        Ok((series, windows))
    }
}
