//! Rule-evaluation self-metrics with Prometheus' names and labels
//! (`prometheus_rule_*{rule_group="file;group"}`), so the kube-prometheus "prometheus"
//! alerts (`PrometheusRuleFailures`, `PrometheusMissingRuleEvaluations`, …) work on Vitals.

use std::collections::VecDeque;
use std::fmt::Write;

use crate::gofmt::go_float;
use crate::manager::Manager;

/// Observations kept for a summary's quantiles (Prometheus keeps 10 minutes).
const WINDOW: usize = 512;

/// A summary: recent observations for quantiles, with the running sum and count.
#[derive(Debug, Default)]
pub struct Summary {
    recent: VecDeque<f64>,
    sum: f64,
    count: u64,
}

impl Summary {
    /// Records one observation.
    pub fn observe(&mut self, v: f64) {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(v);
        self.sum += v;
        self.count += 1;
    }

    /// The `q` quantile of the recent observations (NaN when there are none).
    pub fn quantile(&self, q: f64) -> f64 {
        if self.recent.is_empty() {
            return f64::NAN;
        }
        let mut v: Vec<f64> = self.recent.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }

    fn render(&self, out: &mut String, name: &str, help: &str, quantiles: &[f64]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} summary");
        self.render_samples(out, name, "", quantiles);
    }

    /// The summary's samples without HELP/TYPE; `labels` is empty or `name="value"` pairs
    /// (escaped, comma-separated) put before `quantile`.
    pub fn render_samples(&self, out: &mut String, name: &str, labels: &str, quantiles: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for q in quantiles {
            let _ = writeln!(
                out,
                "{name}{{{labels}{sep}quantile=\"{}\"}} {}",
                go_float(*q),
                go_float(self.quantile(*q))
            );
        }
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", go_float(self.sum));
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// The durations the manager observes: whole groups and single rules.
#[derive(Debug, Default)]
pub struct Durations {
    /// `prometheus_rule_group_duration_seconds`.
    pub group: Summary,
    /// `prometheus_rule_evaluation_duration_seconds`.
    pub rule: Summary,
}

/// Escapes a label value for the text format.
fn escape(s: &str) -> String {
    s.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One group's values for the per-group families.
struct Row {
    key: String,
    values: [f64; 9],
}

/// Per-group families: (name, type, help), in `Row::values` order.
const FAMILIES: [(&str, &str, &str); 9] = [
    (
        "prometheus_rule_evaluations_total",
        "counter",
        "The total number of rule evaluations.",
    ),
    (
        "prometheus_rule_evaluation_failures_total",
        "counter",
        "The total number of rule evaluation failures.",
    ),
    (
        "prometheus_rule_group_iterations_total",
        "counter",
        "The total number of scheduled rule group evaluations, whether executed or missed.",
    ),
    (
        "prometheus_rule_group_iterations_missed_total",
        "counter",
        "The total number of rule group evaluations missed due to slow rule group evaluation.",
    ),
    (
        "prometheus_rule_group_interval_seconds",
        "gauge",
        "The interval of a rule group.",
    ),
    (
        "prometheus_rule_group_last_duration_seconds",
        "gauge",
        "The duration of the last rule group evaluation.",
    ),
    (
        "prometheus_rule_group_last_evaluation_timestamp_seconds",
        "gauge",
        "The timestamp of the last rule group evaluation in seconds.",
    ),
    (
        "prometheus_rule_group_last_evaluation_samples",
        "gauge",
        "The number of samples returned during the last rule group evaluation.",
    ),
    (
        "prometheus_rule_group_rules",
        "gauge",
        "The number of rules.",
    ),
];

/// Appends the rule manager's and the notifier's self-metrics in text format 0.0.4.
pub fn render(m: &Manager, out: &mut String) {
    let rows: Vec<Row> = m
        .slots()
        .iter()
        .map(|s| {
            let g = s.group.lock();
            let st = &g.stats;
            Row {
                key: format!("{};{}", g.def.file, g.def.name),
                values: [
                    st.evaluations as f64,
                    st.failures as f64,
                    st.iterations as f64,
                    st.missed as f64,
                    g.interval_ms as f64 / 1000.0,
                    g.eval_seconds,
                    g.last_eval_ms as f64 / 1000.0,
                    st.last_samples as f64,
                    g.rules.len() as f64,
                ],
            }
        })
        .collect();
    {
        let d = m.durations.lock();
        d.rule.render(
            out,
            "prometheus_rule_evaluation_duration_seconds",
            "The duration for a rule to execute.",
            &[0.5, 0.9, 0.99],
        );
        d.group.render(
            out,
            "prometheus_rule_group_duration_seconds",
            "The duration of rule group evaluations.",
            &[0.01, 0.05, 0.5, 0.9, 0.99],
        );
    }
    for (i, (name, kind, help)) in FAMILIES.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for r in &rows {
            let _ = writeln!(
                out,
                "{name}{{rule_group=\"{}\"}} {}",
                escape(&r.key),
                go_float(r.values[i])
            );
        }
    }
    m.notifier().render_metrics(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_quantiles_over_the_window() {
        let mut s = Summary::default();
        assert!(s.quantile(0.5).is_nan());
        for i in 1..=100 {
            s.observe(i as f64);
        }
        assert_eq!(
            (s.quantile(0.01), s.quantile(0.5), s.quantile(0.99)),
            (1.0, 50.0, 99.0)
        );
        for _ in 0..WINDOW {
            s.observe(7.0);
        }
        assert_eq!((s.quantile(0.01), s.quantile(0.99)), (7.0, 7.0));
        assert_eq!(s.count, 100 + WINDOW as u64);
    }
}
