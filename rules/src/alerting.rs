//! Alerting-rule state: inactive → pending → firing → resolved, `keep_firing_for`, the
//! `ALERTS`/`ALERTS_FOR_STATE` series, what to send to Alertmanager, and restoring `for`
//! state after a restart (Prometheus' `RestoreForState`).

use std::collections::BTreeMap;

use query::promql::{is_stale_nan, Storage};
use tsdb::{Label, Labels, Matcher};

use crate::eval::EvalCtx;
use crate::notifier::Alert;
use crate::template::{expand, TemplateData};
use crate::Rule;

/// How long a resolved alert is kept (and re-sent as resolved).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60_000;

/// An alert's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertState {
    /// Resolved (kept for `RESOLVED_RETENTION_MS`).
    Inactive,
    /// Active for less than `for`.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// `inactive`, `pending` or `firing`, as the API and `ALERTS{alertstate}` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of an alerting rule (timestamps in ms; 0 = unset).
#[derive(Clone, Debug, PartialEq)]
pub struct ActiveAlert {
    /// Labels: the sample's (without `__name__`), the rule's, and `alertname`.
    pub labels: Labels,
    /// Expanded annotations.
    pub annotations: Labels,
    /// Current state.
    pub state: AlertState,
    /// The latest sample value.
    pub value: f64,
    /// When it became active (pending).
    pub active_at_ms: i64,
    /// When it started firing.
    pub fired_at_ms: i64,
    /// When it resolved.
    pub resolved_at_ms: i64,
    /// When it was last sent to Alertmanager.
    pub last_sent_ms: i64,
    /// `endsAt` of the last send of a firing alert.
    pub valid_until_ms: i64,
    /// Since when it has been kept firing by `keep_firing_for`.
    pub keep_firing_since_ms: i64,
}

/// The alerts of one alerting rule, keyed by label set.
#[derive(Clone, Debug, Default)]
pub struct AlertSet {
    /// Active, pending and recently resolved alerts.
    pub active: BTreeMap<Labels, ActiveAlert>,
    /// Whether `for` state was restored (`ALERTS*` samples are written only then).
    pub restored: bool,
}

fn to_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|x| (x.name.to_string(), x.value.to_string()))
        .collect()
}

fn with(l: &Labels, extra: &[(&str, &str)]) -> Labels {
    let mut v: Vec<(String, String)> = l
        .iter()
        .map(|x| (x.name.to_string(), x.value.to_string()))
        .collect();
    v.extend(extra.iter().map(|(a, b)| (a.to_string(), b.to_string())));
    Labels::from_pairs(&v)
}

impl AlertSet {
    /// Evaluates `rule` at `ts`; returns the `ALERTS`/`ALERTS_FOR_STATE` samples (at the
    /// query time `ts - offset`) or an error (limit exceeded, duplicate label sets, query).
    pub fn eval(
        &mut self,
        rule: &Rule,
        ctx: &EvalCtx<'_>,
        ts: i64,
        offset_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let qt = ts - offset_ms;
        let res = ctx.query(&rule.parsed, qt)?;
        let name = rule.name();
        let tname = format!("__alert_{name}");
        let qf = |q: &str| ctx.query_samples(q, qt);
        let mut fresh: BTreeMap<Labels, ActiveAlert> = BTreeMap::new();
        for (labels, v) in res {
            let data = TemplateData {
                labels: to_map(&labels),
                value: v,
                external_labels: ctx.external_labels.clone(),
                external_url: ctx.external_url.to_string(),
                query: Some(&qf),
            };
            let mut lb: BTreeMap<String, String> = data.labels.clone();
            lb.remove(tsdb::labels::METRIC_NAME);
            for (k, t) in &rule.labels {
                let x = expand(&tname, t, &data);
                if x.is_empty() {
                    lb.remove(k);
                } else {
                    lb.insert(k.clone(), x);
                }
            }
            lb.insert("alertname".into(), name.to_string());
            let ann: Vec<(String, String)> = rule
                .annotations
                .iter()
                .map(|(k, t)| (k.clone(), expand(&tname, t, &data)))
                .collect();
            let labels = Labels::from_sorted(
                lb.into_iter()
                    .map(|(name, value)| Label::new(name, value))
                    .collect(),
            );
            if fresh.contains_key(&labels) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            fresh.insert(
                labels.clone(),
                ActiveAlert {
                    labels,
                    annotations: Labels::from_pairs(&ann),
                    state: AlertState::Pending,
                    value: v,
                    active_at_ms: ts,
                    fired_at_ms: 0,
                    resolved_at_ms: 0,
                    last_sent_ms: 0,
                    valid_until_ms: 0,
                    keep_firing_since_ms: 0,
                },
            );
        }
        for (k, a) in &fresh {
            match self.active.get_mut(k) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations.clone();
                }
                _ => {
                    self.active.insert(k.clone(), a.clone());
                }
            }
        }
        let mut out = Vec::new();
        let mut active_pending = 0;
        let mut drop = Vec::new();
        for (k, a) in self.active.iter_mut() {
            if !fresh.contains_key(k) {
                let mut keep = false;
                if a.state == AlertState::Firing && rule.keep_firing_for_ms > 0 {
                    if a.keep_firing_since_ms == 0 {
                        a.keep_firing_since_ms = ts;
                    }
                    keep = ts - a.keep_firing_since_ms < rule.keep_firing_for_ms;
                }
                if a.state == AlertState::Pending
                    || (a.resolved_at_ms != 0 && ts - a.resolved_at_ms > RESOLVED_RETENTION_MS)
                {
                    drop.push(k.clone());
                }
                if a.state != AlertState::Inactive && !keep {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ms = ts;
                }
                if !keep {
                    continue;
                }
            } else {
                a.keep_firing_since_ms = 0;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && ts - a.active_at_ms >= rule.for_ms {
                a.state = AlertState::Firing;
                a.fired_at_ms = ts;
            }
            if self.restored {
                out.push((
                    with(
                        &a.labels,
                        &[("__name__", "ALERTS"), ("alertstate", a.state.as_str())],
                    ),
                    1.0,
                ));
                out.push((
                    with(&a.labels, &[("__name__", "ALERTS_FOR_STATE")]),
                    (a.active_at_ms / 1000) as f64,
                ));
            }
        }
        for k in drop {
            self.active.remove(&k);
        }
        if limit > 0 && active_pending > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {active_pending} alerts"
            ));
        }
        Ok(out)
    }

    /// Alerts due to be sent at `ts` (Prometheus' `sendAlerts`): firing alerts every
    /// `resend_delay`, resolved ones right after resolving and then during retention.
    pub fn to_send(
        &mut self,
        ts: i64,
        resend_delay_ms: i64,
        interval_ms: i64,
        generator_url: &str,
    ) -> Vec<Alert> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            let due = match a.state {
                AlertState::Pending => false,
                _ if a.resolved_at_ms > a.last_sent_ms => true,
                // Never sent (Prometheus: LastSentAt is the zero time) or the resend delay passed.
                _ => a.last_sent_ms == 0 || a.last_sent_ms + resend_delay_ms < ts,
            };
            if !due {
                continue;
            }
            a.last_sent_ms = ts;
            a.valid_until_ms = ts + 4 * resend_delay_ms.max(interval_ms);
            out.push(Alert {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at_ms: a.fired_at_ms,
                ends_at_ms: if a.resolved_at_ms != 0 {
                    a.resolved_at_ms
                } else {
                    a.valid_until_ms
                },
                generator_url: generator_url.to_string(),
            });
        }
        out
    }

    /// Restores `active_at` of pending/firing alerts from `ALERTS_FOR_STATE` in
    /// `[ts - outage_tolerance, ts]`, as Prometheus' `RestoreForState` does.
    pub fn restore_for_state(
        &mut self,
        st: &dyn Storage,
        for_ms: i64,
        ts: i64,
        outage_tolerance_ms: i64,
        grace_ms: i64,
    ) {
        if for_ms < grace_ms {
            self.restored = true;
            return;
        }
        for a in self.active.values_mut() {
            let mut ms: Vec<Matcher> = a
                .labels
                .iter()
                .map(|l| Matcher::equal(&l.name, &l.value))
                .collect();
            ms.push(Matcher::equal("__name__", "ALERTS_FOR_STATE"));
            let Ok(series) = st.select(&ms, ts - outage_tolerance_ms, ts) else {
                continue;
            };
            // The series with exactly the alert's labels (plus `__name__`).
            let Some((_, pts)) = series.iter().find(|(l, _)| l.len() == a.labels.len() + 1) else {
                continue;
            };
            let Some(&(t, v)) = pts.last() else { continue };
            if is_stale_nan(v) {
                continue;
            }
            let down_at = t / 1000 * 1000;
            let mut active_at = (v as i64) * 1000;
            let remaining = for_ms - (down_at - active_at);
            if remaining <= 0 {
                // Was firing: fires again right away.
            } else if remaining < grace_ms {
                active_at = ts + grace_ms - for_ms;
            } else {
                active_at += ts - down_at;
            }
            a.active_at_ms = active_at;
        }
        self.restored = true;
    }
}
