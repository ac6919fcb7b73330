//! Prometheus rule files: loading, recording and alerting rule evaluation, and the
//! Alertmanager notifier.

pub mod notifier;
