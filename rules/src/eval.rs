//! Group evaluation: rules in order at one timestamp, recording rules written through a
//! [`Sink`], alerting rules' state advanced, vanished series marked stale.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use query::promql::{Engine, Expr, MemStorage, Storage, Value, STALE_NAN_BITS};
use tsdb::Labels;

use crate::alerting::AlertSet;
use crate::notifier::Alert;
use crate::template::QuerySample;
use crate::{Rule, RuleGroup, RuleKind};

/// Where rule results are written (the TSDB, or memory in tests).
pub trait Sink: Send + Sync {
    /// Appends samples; the error says why some were not stored.
    fn append(&self, samples: &[(Labels, i64, f64)]) -> Result<(), String>;
}

/// One series of a `tsdb::Db::append_batch` call.
type BatchEntry<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

impl Sink for tsdb::Db {
    fn append(&self, samples: &[(Labels, i64, f64)]) -> Result<(), String> {
        let pairs: Vec<Vec<(&str, &str)>> = samples
            .iter()
            .map(|(l, _, _)| {
                l.iter()
                    .map(|x| (x.name.as_ref(), x.value.as_ref()))
                    .collect()
            })
            .collect();
        let pts: Vec<[(i64, f64); 1]> = samples.iter().map(|(_, t, v)| [(*t, *v)]).collect();
        let batch: Vec<BatchEntry<'_>> = pairs
            .iter()
            .zip(&pts)
            .map(|(l, p)| (l.as_slice(), p.as_slice()))
            .collect();
        let out = self.append_batch(&batch).map_err(|e| e.to_string())?;
        match out.first_rejection {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }
}

impl Sink for MemStorage {
    fn append(&self, samples: &[(Labels, i64, f64)]) -> Result<(), String> {
        for (l, t, v) in samples {
            self.add(l.clone(), *t, *v);
        }
        Ok(())
    }
}

/// What a rule evaluation reads from and knows about.
pub struct EvalCtx<'a> {
    /// The series queried.
    pub storage: &'a dyn Storage,
    /// The PromQL engine.
    pub engine: &'a Engine,
    /// `global.external_labels` (`$externalLabels`).
    pub external_labels: BTreeMap<String, String>,
    /// The external URL (`$externalURL`, generator URLs).
    pub external_url: String,
}

impl EvalCtx<'_> {
    /// Evaluates `expr` at `t` as the rule manager does: a vector, or a scalar as one
    /// label-less sample.
    pub fn query(&self, expr: &Expr, t: i64) -> Result<Vec<(Labels, f64)>, String> {
        let out = self
            .engine
            .instant_expr(self.storage, expr, t)
            .map_err(|e| e.to_string())?;
        match out.value {
            Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.v)).collect()),
            Value::Scalar { v, .. } => Ok(vec![(Labels::default(), v)]),
            _ => Err("rule result is not a vector or scalar".into()),
        }
    }

    /// The `query` template function.
    pub fn query_samples(&self, q: &str, t: i64) -> Result<Vec<QuerySample>, String> {
        let e = query::promql::parse(q).map_err(|e| e.to_string())?;
        Ok(self
            .query(&e, t)?
            .into_iter()
            .map(|(l, value)| QuerySample {
                labels: l
                    .iter()
                    .map(|x| (x.name.to_string(), x.value.to_string()))
                    .collect(),
                value,
            })
            .collect())
    }
}

/// A rule's last evaluation outcome.
#[derive(Clone, Debug, Default)]
pub struct RuleHealth {
    /// The last error, if the last evaluation failed.
    pub last_error: Option<String>,
    /// When it was last evaluated (ms; 0 = never).
    pub last_eval_ms: i64,
    /// How long that took (s).
    pub eval_seconds: f64,
}

impl RuleHealth {
    /// `ok`, `err` or `unknown` (never evaluated).
    pub fn health(&self) -> &'static str {
        match (&self.last_error, self.last_eval_ms) {
            (Some(_), _) => "err",
            (None, 0) => "unknown",
            _ => "ok",
        }
    }
}

/// A rule with its evaluation state.
#[derive(Clone, Debug)]
pub struct RuleState {
    /// The definition.
    pub rule: Rule,
    /// Alerts (alerting rules only).
    pub alerts: AlertSet,
    /// Last evaluation outcome.
    pub health: RuleHealth,
    /// Series written by the last evaluation (to mark stale when they vanish).
    prev: HashSet<Labels>,
}

/// A rule group with its evaluation state.
#[derive(Clone, Debug)]
pub struct Group {
    /// The definition.
    pub def: RuleGroup,
    /// The effective interval (ms).
    pub interval_ms: i64,
    /// The rules, in order.
    pub rules: Vec<RuleState>,
    /// Last evaluation time (ms; 0 = never).
    pub last_eval_ms: i64,
    /// Duration of the last evaluation (s).
    pub eval_seconds: f64,
    /// Series of rules a reload removed, marked stale at the next evaluation.
    stale_series: Vec<Labels>,
    /// Counters for `/metrics` (kept across reloads of the same group).
    pub stats: GroupStats,
}

/// A group's evaluation counters, as Prometheus' `prometheus_rule_*` metrics.
#[derive(Clone, Debug, Default)]
pub struct GroupStats {
    /// Rule evaluations (`prometheus_rule_evaluations_total`).
    pub evaluations: u64,
    /// Failed rule evaluations (`prometheus_rule_evaluation_failures_total`).
    pub failures: u64,
    /// Scheduled group evaluations (`prometheus_rule_group_iterations_total`).
    pub iterations: u64,
    /// Ticks skipped because an evaluation ran late (`…_iterations_missed_total`).
    pub missed: u64,
    /// Samples written by the last evaluation (`…_last_evaluation_samples`).
    pub last_samples: u64,
}

/// Evaluation settings shared by all groups.
#[derive(Clone, Debug)]
pub struct GroupOptions {
    /// Default interval when a group sets none (`global.evaluation_interval`).
    pub default_interval_ms: i64,
    /// Resend delay of firing alerts (Prometheus `--rules.alert.resend-delay`, 1m).
    pub resend_delay_ms: i64,
    /// How far back `for` state is restored from (`--rules.alert.for-outage-tolerance`).
    pub outage_tolerance_ms: i64,
    /// Least remaining `for` after a restore (`--rules.alert.for-grace-period`).
    pub for_grace_ms: i64,
    /// Query offset of groups that set no `query_offset` (`global.rule_query_offset`).
    pub default_query_offset_ms: i64,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions {
            default_interval_ms: 60_000,
            resend_delay_ms: 60_000,
            outage_tolerance_ms: 3_600_000,
            for_grace_ms: 600_000,
            default_query_offset_ms: 0,
        }
    }
}

impl Group {
    /// A group in its initial state.
    pub fn new(def: RuleGroup, opts: &GroupOptions) -> Group {
        let interval_ms = def
            .interval_ms
            .filter(|&i| i > 0)
            .unwrap_or(opts.default_interval_ms);
        let rules = def
            .rules
            .iter()
            .map(|r| RuleState {
                rule: r.clone(),
                alerts: AlertSet::default(),
                health: RuleHealth::default(),
                prev: HashSet::new(),
            })
            .collect();
        Group {
            def,
            interval_ms,
            rules,
            last_eval_ms: 0,
            eval_seconds: 0.0,
            stale_series: Vec::new(),
            stats: GroupStats::default(),
        }
    }

    /// The effective query offset (the group's, else `global.rule_query_offset`), ms.
    pub fn query_offset_ms(&self, opts: &GroupOptions) -> i64 {
        self.def
            .query_offset_ms
            .unwrap_or(opts.default_query_offset_ms)
    }

    /// Takes over the state of `old` (the same group before a reload): rules with the same
    /// definition keep alerts, health and their series; series of old rules that have no
    /// counterpart are marked stale at the next evaluation, as Prometheus' `CopyState`.
    pub fn copy_state(&mut self, old: &Group) {
        let mut used = vec![false; old.rules.len()];
        for r in &mut self.rules {
            if let Some(i) = old
                .rules
                .iter()
                .enumerate()
                .position(|(i, o)| !used[i] && o.rule.same_definition(&r.rule))
            {
                used[i] = true;
                *r = old.rules[i].clone();
            } else {
                r.alerts.restored = true;
            }
        }
        self.stale_series = old.stale_series.clone();
        for (o, _) in old.rules.iter().zip(&used).filter(|(_, u)| !**u) {
            self.stale_series.extend(o.prev.iter().cloned());
        }
    }

    /// Stale markers at `ts` for every series the group's rules last wrote (the group is
    /// being removed by a reload).
    pub fn stale_markers(&self, ts: i64) -> Vec<(Labels, i64, f64)> {
        let stale = f64::from_bits(STALE_NAN_BITS);
        self.rules
            .iter()
            .flat_map(|r| r.prev.iter())
            .chain(&self.stale_series)
            .map(|l| (l.clone(), ts, stale))
            .collect()
    }

    /// Marks alerting rules as restored, so `ALERTS*` samples are written from the first
    /// evaluation (unit tests, and groups that need no restore).
    pub fn set_restored(&mut self) {
        for r in &mut self.rules {
            r.alerts.restored = true;
        }
    }

    /// Restores `for` state of every alerting rule (after the first evaluation).
    pub fn restore_for_state(&mut self, st: &dyn Storage, ts: i64, opts: &GroupOptions) {
        for r in &mut self.rules {
            if matches!(r.rule.kind, RuleKind::Alert(_)) {
                let for_ms = r.rule.for_ms;
                r.alerts.restore_for_state(
                    st,
                    for_ms,
                    ts,
                    opts.outage_tolerance_ms,
                    opts.for_grace_ms,
                );
            }
        }
    }

    /// Evaluates every rule at `ts`, in order, writing to `sink`; returns the alerts to
    /// send to Alertmanager.
    pub fn eval(
        &mut self,
        ctx: &EvalCtx<'_>,
        sink: &dyn Sink,
        ts: i64,
        opts: &GroupOptions,
    ) -> Vec<Alert> {
        let start = Instant::now();
        let offset = self.query_offset_ms(opts);
        let limit = self.def.limit;
        let mut to_send = Vec::new();
        let mut samples_written = 0u64;
        for r in &mut self.rules {
            self.stats.evaluations += 1;
            let t0 = Instant::now();
            let res = match &r.rule.kind {
                RuleKind::Record(name) => record(&r.rule, name, ctx, ts - offset, limit),
                RuleKind::Alert(_) => r.alerts.eval(&r.rule, ctx, ts, offset, limit),
            };
            match res {
                Ok(samples) => {
                    r.health.last_error = None;
                    samples_written += samples.len() as u64;
                    // Series of the previous evaluation that are gone get a stale marker.
                    let now: HashSet<Labels> = samples.iter().map(|(l, _)| l.clone()).collect();
                    let mut batch: Vec<(Labels, i64, f64)> = samples
                        .into_iter()
                        .map(|(l, v)| (l, ts - offset, v))
                        .collect();
                    let stale = f64::from_bits(STALE_NAN_BITS);
                    batch.extend(
                        r.prev
                            .difference(&now)
                            .map(|l| (l.clone(), ts - offset, stale)),
                    );
                    if let Err(e) = sink.append(&batch) {
                        tracing::warn!(group = %self.def.name, rule = %r.rule.name(), error = %e, "writing rule results failed");
                    }
                    r.prev = now;
                }
                // As Prometheus: a failed evaluation writes nothing, not even stale markers.
                Err(e) => {
                    self.stats.failures += 1;
                    tracing::warn!(group = %self.def.name, rule = %r.rule.name(), error = %e, "rule evaluation failed");
                    r.health.last_error = Some(e);
                }
            }
            if let RuleKind::Alert(_) = r.rule.kind {
                let url = format!(
                    "{}/graph?g0.expr={}&g0.tab=1",
                    ctx.external_url.trim_end_matches('/'),
                    url_escape(&r.rule.expr)
                );
                to_send.extend(
                    r.alerts
                        .to_send(ts, opts.resend_delay_ms, self.interval_ms, &url),
                );
            }
            r.health.last_eval_ms = ts;
            r.health.eval_seconds = t0.elapsed().as_secs_f64();
        }
        if !self.stale_series.is_empty() {
            // Series of rules a reload removed (Prometheus' `staleSeries`).
            let stale = f64::from_bits(STALE_NAN_BITS);
            let batch: Vec<(Labels, i64, f64)> = std::mem::take(&mut self.stale_series)
                .into_iter()
                .map(|l| (l, ts - offset, stale))
                .collect();
            if let Err(e) = sink.append(&batch) {
                tracing::warn!(group = %self.def.name, error = %e, "writing stale markers failed");
            }
        }
        self.last_eval_ms = ts;
        self.eval_seconds = start.elapsed().as_secs_f64();
        self.stats.last_samples = samples_written;
        to_send
    }
}

/// A recording rule at query time `t`: renamed, relabelled samples.
fn record(
    rule: &Rule,
    name: &str,
    ctx: &EvalCtx<'_>,
    t: i64,
    limit: usize,
) -> Result<Vec<(Labels, f64)>, String> {
    let res = ctx.query(&rule.parsed, t)?;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(res.len());
    for (l, v) in res {
        let mut m: BTreeMap<String, String> = l
            .iter()
            .map(|x| (x.name.to_string(), x.value.to_string()))
            .collect();
        m.insert("__name__".into(), name.to_string());
        for (k, val) in &rule.labels {
            if val.is_empty() {
                m.remove(k);
            } else {
                m.insert(k.clone(), val.clone());
            }
        }
        let pairs: Vec<(String, String)> = m.into_iter().collect();
        let labels = Labels::from_pairs(&pairs);
        if !seen.insert(labels.clone()) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            );
        }
        out.push((labels, v));
    }
    if limit > 0 && out.len() > limit {
        return Err(format!(
            "exceeded limit of {limit} with {} series",
            out.len()
        ));
    }
    Ok(out)
}

/// Percent-encodes `s` for a URL query value.
pub fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
