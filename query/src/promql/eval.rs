//! The evaluator: every node is evaluated once over all steps of the query, so range
//! queries select each series once and walk its samples with moving cursors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use tsdb::Labels;

use super::ast::{At, Expr, ValueType, VectorSelector};
use super::fused::Regroup;
pub(crate) use super::names::{drop_name, merge_same_labels, with_label};
use super::names::{labels_collide, remove_flagged_names};
use super::storage::{LabeledSamples, Storage, Window};
use super::stream_agg::AggSink;
use super::value::{is_stale_nan, Sample, Series, Value};
use super::ParseError;

/// A per-series callback that also gets the evaluation context.
type CtxSeriesFn<'f, C> = dyn FnMut(&mut C, Labels, &[(i64, f64)]) -> Result<(), QueryError> + 'f;

/// A per-series callback of a range argument: context, labels, samples, step windows.
/// The `bool` is the series' delayed-name-removal flag (see [`VS::drop_name`]).
pub(crate) type RangeSeriesFn<'f, C> =
    dyn FnMut(&mut C, Labels, bool, &[(i64, f64)], &[Window]) -> Result<(), QueryError> + 'f;

/// Engine limits and defaults.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (ms).
    pub lookback_ms: i64,
    /// Most samples a query may hold at once.
    pub max_samples: usize,
    /// Wall-clock limit of one query.
    pub timeout: Duration,
    /// Step of subqueries that give none (`x[5m:]`), in ms.
    pub default_subquery_step_ms: i64,
    /// Prometheus 2 semantics: windows include their left edge and `rate` extrapolates
    /// the 2.x way (3.x windows are left-open). Off by default.
    pub prometheus2_windows: bool,
    /// Threads one query may use to read and evaluate series (at least 1).
    pub parallelism: usize,
    /// Delayed `__name__` removal (Prometheus' `promql-delayed-name-removal`): names are
    /// removed at the end of the evaluation instead of where a function drops them. Off by
    /// default.
    pub delayed_name_removal: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step_ms: 60_000,
            prometheus2_windows: false,
            parallelism: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8),
            delayed_name_removal: false,
        }
    }
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The expression does not parse or type-check.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The query's parameters are invalid (e.g. a range query over a string).
    #[error("{0}")]
    BadData(String),
    /// The query ran past its timeout.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query would hold more samples than allowed.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// Evaluation failed (e.g. duplicate series, bad argument).
    #[error("{0}")]
    Execution(String),
    /// The storage failed.
    #[error("storage: {0}")]
    Storage(String),
}

impl QueryError {
    /// The Prometheus API `errorType` of this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) | QueryError::BadData(_) => "bad_data",
            QueryError::Timeout(_) => "timeout",
            QueryError::TooManySamples(_) | QueryError::Execution(_) => "execution",
            QueryError::Storage(_) => "internal",
        }
    }
}

/// A query result with the annotations Prometheus returns beside it.
#[derive(Clone, Debug)]
pub struct QueryOutput {
    /// The value.
    pub value: Value,
    /// Warnings (e.g. "metric might not be a counter").
    pub warnings: Vec<String>,
    /// Informational notices.
    pub infos: Vec<String>,
}

/// Evaluates PromQL expressions.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    opts: EngineOptions,
}

/// The steps a node is evaluated at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Steps {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Steps {
    pub fn len(&self) -> usize {
        ((self.end - self.start) / self.step + 1) as usize
    }
    pub fn at(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }
}

/// One series of an instant vector over all steps.
#[derive(Clone, Debug)]
pub(crate) struct VS {
    pub labels: Labels,
    pub vals: Vec<Option<f64>>,
    /// Delayed name removal: the metric name is removed when the evaluation ends.
    pub drop_name: bool,
}

impl VS {
    /// A series that keeps its metric name.
    pub fn new(labels: Labels, vals: Vec<Option<f64>>) -> VS {
        VS {
            labels,
            vals,
            drop_name: false,
        }
    }
}

/// An intermediate value over all steps.
#[derive(Debug)]
pub(crate) enum Val {
    Scalar(Vec<f64>),
    Vector(Vec<VS>),
    Matrix(Vec<Series>),
    Str(String),
}

impl Val {
    /// A vector's or scalar's values as `(labels, points)` per series (steps without a value
    /// left out); None for other types.
    pub(crate) fn into_step_series(self, steps: Steps) -> Option<Vec<LabeledSamples>> {
        match self {
            Val::Scalar(v) => Some(vec![(
                Labels::default(),
                v.iter()
                    .enumerate()
                    .map(|(i, v)| (steps.at(i), *v))
                    .collect(),
            )]),
            Val::Vector(vs) => Some(
                vs.into_iter()
                    .map(|s| {
                        let points = s
                            .vals
                            .iter()
                            .enumerate()
                            .filter_map(|(i, v)| v.map(|v| (steps.at(i), v)))
                            .collect();
                        (s.labels, points)
                    })
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// The callback of [`Ctx::stream_par`]: one series' instant-vector values, or None.
pub(crate) type ParEvalFn<'f> = dyn for<'c> Fn(&Ctx<'c>, &Held, Labels, &[(i64, f64)]) -> Result<Option<VS>, QueryError>
    + Sync
    + 'f;

/// The samples a query holds, counted across the threads evaluating it.
pub(crate) struct Held {
    loaded: AtomicUsize,
    max: usize,
}

impl Held {
    /// Counts `n` more samples held; an error past the limit.
    pub fn account(&self, n: usize) -> Result<(), QueryError> {
        if self.loaded.fetch_add(n, Ordering::Relaxed) + n > self.max {
            return Err(QueryError::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// Stops counting `n` samples no longer held.
    pub fn release(&self, n: usize) {
        self.loaded.fetch_sub(n, Ordering::Relaxed);
    }
}

/// Evaluation state of one query.
pub(crate) struct Ctx<'a> {
    pub st: &'a dyn Storage,
    pub opts: &'a EngineOptions,
    pub query_start: i64,
    pub query_end: i64,
    pub deadline: Instant,
    pub loaded: usize,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    pub is_range: bool,
}

impl Engine {
    /// An engine with `opts`.
    pub fn new(opts: EngineOptions) -> Engine {
        Engine { opts }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at `t` (ms).
    pub fn instant(
        &self,
        st: &dyn Storage,
        query: &str,
        t: i64,
    ) -> Result<QueryOutput, QueryError> {
        let expr = super::parse(query)?;
        self.instant_expr(st, &expr, t)
    }

    /// Evaluates a parsed expression at `t` (ms).
    pub fn instant_expr(
        &self,
        st: &dyn Storage,
        expr: &Expr,
        t: i64,
    ) -> Result<QueryOutput, QueryError> {
        let mut ctx = self.ctx(st, t, t);
        let steps = Steps {
            start: t,
            end: t,
            step: 1,
        };
        let v = ctx.eval(expr, steps)?;
        let value = match ctx.finish_names(v)? {
            Val::Scalar(s) => Value::Scalar { t, v: s[0] },
            Val::Str(s) => Value::String { t, s },
            Val::Matrix(m) => Value::Matrix(m),
            Val::Vector(vs) => Value::Vector(
                vs.into_iter()
                    .filter_map(|s| {
                        s.vals[0].map(|v| Sample {
                            labels: s.labels,
                            t,
                            v,
                        })
                    })
                    .collect(),
            ),
        };
        Ok(QueryOutput {
            value,
            warnings: ctx.warnings,
            infos: ctx.infos,
        })
    }

    /// Evaluates `query` at every `step` from `start` to `end` (ms); the result is a matrix.
    pub fn range(
        &self,
        st: &dyn Storage,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryOutput, QueryError> {
        let expr = super::parse(query)?;
        self.range_expr(st, &expr, start, end, step)
    }

    /// Evaluates a parsed expression as a range query.
    pub fn range_expr(
        &self,
        st: &dyn Storage,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryOutput, QueryError> {
        let t = expr.value_type();
        if t != ValueType::Scalar && t != ValueType::Vector {
            return Err(QueryError::BadData(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                t.name()
            )));
        }
        if step <= 0 || end < start {
            return Err(QueryError::BadData(
                "invalid range: end before start or step not positive".into(),
            ));
        }
        let mut ctx = self.ctx(st, start, end);
        let steps = Steps { start, end, step };
        let v = ctx.eval(expr, steps)?;
        let mut out: Vec<Series> = ctx
            .finish_names(v)?
            .into_step_series(steps)
            .expect("BUG: range query of a type checked above")
            .into_iter()
            .filter(|(_, points)| !points.is_empty())
            .map(|(labels, points)| Series { labels, points })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(QueryOutput {
            value: Value::Matrix(out),
            warnings: ctx.warnings,
            infos: ctx.infos,
        })
    }

    fn ctx<'a>(&'a self, st: &'a dyn Storage, start: i64, end: i64) -> Ctx<'a> {
        Ctx {
            st,
            opts: &self.opts,
            query_start: start,
            query_end: end,
            deadline: Instant::now() + self.opts.timeout,
            loaded: 0,
            warnings: vec![],
            infos: vec![],
            is_range: start != end,
        }
    }
}

impl Ctx<'_> {
    /// The final value of an evaluation: with delayed name removal, flagged series lose
    /// their metric names now.
    fn finish_names(&self, v: Val) -> Result<Val, QueryError> {
        match v {
            Val::Vector(vs) if self.opts.delayed_name_removal => {
                Ok(Val::Vector(remove_flagged_names(vs)?))
            }
            v => Ok(v),
        }
    }

    /// Records a warning annotation once.
    pub fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    /// Records an info annotation once.
    pub fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }

    /// Warns when a quantile parameter is outside [0, 1].
    pub fn check_phi(&mut self, q: &[f64]) {
        if let Some(v) = q.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            self.warn(format!(
                "PromQL warning: quantile value should be between 0 and 1, got {}",
                super::aggregate::fmt_float(*v)
            ));
        }
    }

    pub fn check_deadline(&self) -> Result<(), QueryError> {
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout("query execution"));
        }
        Ok(())
    }

    /// 1 with Prometheus 2's closed windows (a window `[lo, hi]` is `(lo - 1, hi]`), else 0.
    pub fn closed_adj(&self) -> i64 {
        i64::from(self.opts.prometheus2_windows)
    }

    /// The time a selector with `at` and `offset` reads at for step time `t`.
    pub(crate) fn base_time(&self, at: &Option<At>, offset: i64, t: i64) -> i64 {
        let t = match at {
            Some(At::Time(a)) => *a,
            Some(At::Start) => self.query_start,
            Some(At::End) => self.query_end,
            None => t,
        };
        t - offset
    }

    pub fn eval(&mut self, e: &Expr, steps: Steps) -> Result<Val, QueryError> {
        self.check_deadline()?;
        let n = steps.len();
        Ok(match e {
            Expr::Number(v) => Val::Scalar(vec![*v; n]),
            Expr::Str(s) => Val::Str(s.clone()),
            Expr::Paren(e) => self.eval(e, steps)?,
            Expr::Neg(e) => match self.eval(e, steps)? {
                Val::Scalar(v) => Val::Scalar(v.into_iter().map(|x| -x).collect()),
                Val::Vector(vs) => Val::Vector(merge_same_labels(
                    vs.into_iter()
                        .map(|s| {
                            let mut s = self.name_dropped(s);
                            s.vals.iter_mut().for_each(|v| *v = v.map(|x| -x));
                            s
                        })
                        .collect(),
                )?),
                other => other,
            },
            Expr::Selector(sel) => Val::Vector(self.eval_selector(sel, steps, false)?),
            Expr::Matrix { .. } | Expr::Subquery { .. } => {
                // Only reachable at the top of an instant query.
                let t = steps.start;
                let (series, windows) = self.range_arg(
                    e,
                    Steps {
                        start: t,
                        end: t,
                        step: 1,
                    },
                )?;
                let (lo, hi) = windows[0];
                let lo = lo - self.closed_adj();
                let dropped = series.iter().any(|s| s.drop_name);
                let m: Vec<Series> = series
                    .into_iter()
                    .filter_map(|s| {
                        let pts: Vec<(i64, f64)> = s
                            .samples
                            .iter()
                            .filter(|(ts, _)| *ts > lo && *ts <= hi)
                            .copied()
                            .collect();
                        // The evaluation ends here: a subquery's flagged names go now.
                        (!pts.is_empty()).then(|| Series {
                            labels: if s.drop_name {
                                drop_name(&s.labels)
                            } else {
                                s.labels
                            },
                            points: pts,
                        })
                    })
                    .collect();
                if dropped && labels_collide(m.iter().map(|s| &s.labels)) {
                    return Err(QueryError::Execution(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
                Val::Matrix(m)
            }
            Expr::Call { func, args } => self.eval_call(func, args, steps)?,
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
            } => self.eval_aggregate(*op, expr, param.as_deref(), grouping, *without, steps)?,
            Expr::Binary {
                op,
                lhs,
                rhs,
                matching,
                return_bool,
            } => {
                let (l, r) = self.eval_sides(lhs, rhs, steps)?;
                self.eval_binary(*op, l, r, matching.as_ref(), *return_bool)?
            }
        })
    }

    /// Counts `n` samples held by the query against its limit.
    pub fn account(&mut self, n: usize) -> Result<(), QueryError> {
        self.loaded += n;
        if self.loaded > self.opts.max_samples {
            return Err(QueryError::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// Stops counting `n` samples the query no longer holds.
    pub fn release(&mut self, n: usize) {
        self.loaded = self.loaded.saturating_sub(n);
    }

    /// Streams `sel`'s series with samples in `[mint, maxt]` through `f`, one at a time,
    /// counting each series' samples against the limit while `f` holds them.
    pub(crate) fn stream(
        &mut self,
        sel: &VectorSelector,
        mint: i64,
        maxt: i64,
        f: &mut CtxSeriesFn<'_, Self>,
    ) -> Result<(), QueryError> {
        let st = self.st;
        let mut seen = 0usize;
        st.for_each(&sel.matchers, mint, maxt, &mut |labels, samples| {
            self.account(samples.len())?;
            seen += 1;
            if seen.is_multiple_of(128) {
                self.check_deadline()?;
            }
            f(self, labels, samples)?;
            self.release(samples.len());
            Ok(())
        })
    }

    /// Streams `sel`'s series with samples in `[mint, maxt]` through `f` on up to
    /// `parallelism` threads; the series `f` keeps come back in label order. Each series'
    /// samples count against the limit while `f` holds them, summed over all threads; `f`
    /// counts what it keeps through [`Held`].
    /// With `sink`, the series go there (with their ordinals) instead of being returned.
    /// With `last`, `f` uses only each series' newest sample: older ones may be left out.
    pub fn stream_par(
        &mut self,
        sel: &VectorSelector,
        mint: i64,
        maxt: i64,
        last: bool,
        f: &ParEvalFn<'_>,
        sink: Option<&AggSink>,
    ) -> Result<Vec<VS>, QueryError> {
        let held = Held {
            loaded: AtomicUsize::new(self.loaded),
            max: self.opts.max_samples,
        };
        let out: Mutex<Vec<(usize, VS)>> = Mutex::new(Vec::new());
        let ctx: &Self = self;
        ctx.st.for_each_par(
            &sel.matchers,
            (mint, maxt),
            last,
            ctx.opts.parallelism,
            &|i, labels, samples| {
                held.account(samples.len())?;
                ctx.check_deadline()?;
                let r = f(ctx, &held, labels, samples);
                held.release(samples.len());
                match (sink, r?) {
                    (Some(sink), r) => sink.accept(i, r),
                    (None, Some(vs)) => out.lock().push((i, vs)),
                    (None, None) => {}
                }
                Ok(())
            },
        )?;
        self.loaded = held.loaded.into_inner();
        let mut out = out.into_inner();
        out.sort_unstable_by_key(|x| x.0);
        Ok(out.into_iter().map(|x| x.1).collect())
    }

    /// Instant-vector selection at every step (values, or sample timestamps in seconds).
    pub fn eval_selector(
        &mut self,
        sel: &VectorSelector,
        steps: Steps,
        timestamps: bool,
    ) -> Result<Vec<VS>, QueryError> {
        self.eval_selector_grouped(sel, steps, timestamps, None)
    }

    /// As [`Ctx::eval_selector`]; with `regroup`, each series is labelled with its
    /// aggregation group where it is read.
    pub fn eval_selector_grouped(
        &mut self,
        sel: &VectorSelector,
        steps: Steps,
        timestamps: bool,
        regroup: Option<&Regroup<'_>>,
    ) -> Result<Vec<VS>, QueryError> {
        let lb = self.opts.lookback_ms + self.closed_adj();
        let first = self.base_time(&sel.at, sel.offset, steps.start);
        let last = self.base_time(&sel.at, sel.offset, steps.end);
        let n = steps.len();
        // Every step reads at one time (an instant query, or `@`): only the newest sample
        // before it counts.
        self.stream_par(
            sel,
            first.min(last) - lb + 1,
            first.max(last),
            first == last,
            &|ctx, held, labels, samples| {
                let mut vals = vec![None; n];
                let mut any = false;
                let mut cursor = 0usize;
                for (i, slot) in vals.iter_mut().enumerate() {
                    let t = ctx.base_time(&sel.at, sel.offset, steps.at(i));
                    // Index of the first sample after t.
                    if sel.at.is_some() {
                        cursor = samples.partition_point(|x| x.0 <= t);
                    } else {
                        while cursor < samples.len() && samples[cursor].0 <= t {
                            cursor += 1;
                        }
                    }
                    if cursor == 0 {
                        continue;
                    }
                    let (ts, v) = samples[cursor - 1];
                    if ts <= t - lb || is_stale_nan(v) {
                        continue;
                    }
                    *slot = Some(if timestamps { ts as f64 / 1000.0 } else { v });
                    any = true;
                }
                if !any {
                    return Ok(None);
                }
                held.account(n)?;
                let labels = match regroup {
                    Some(g) => g.group_of(&labels, false),
                    None => labels,
                };
                Ok(Some(VS::new(labels, vals)))
            },
            regroup.and_then(|g| g.sink),
        )
    }
}
