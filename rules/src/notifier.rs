//! Sends alerts to Alertmanagers (API v2, `POST /api/v2/alerts`): a bounded queue, batches,
//! retries with backoff, configured from a Prometheus config's `alerting` block.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Deserialize;
use tsdb::Labels;

/// One alert as Alertmanager's API v2 receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// The alert's labels (`alertname` included), sorted by name.
    pub labels: Labels,
    /// Rendered annotations, sorted by name.
    pub annotations: Labels,
    /// When the alert started firing (ms since the epoch).
    pub starts_at_ms: i64,
    /// When it resolved, or until when a firing alert is valid (ms); 0 leaves `endsAt` unset.
    pub ends_at_ms: i64,
    /// Link back to the expression (`generatorURL`).
    pub generator_url: String,
}

/// The `alerting` block of a Prometheus configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AlertingConfig {
    /// Alertmanager sets to send to.
    #[serde(default)]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

/// One entry of `alerting.alertmanagers`.
#[derive(Clone, Debug, Deserialize)]
pub struct AlertmanagerConfig {
    /// `http` or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Prefix of the API path on each target.
    #[serde(default)]
    pub path_prefix: String,
    /// Per-request timeout (Prometheus duration).
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// Only `v2` is supported (as Prometheus 3).
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Static targets (`host:port`).
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
}

/// A `static_configs` entry.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct StaticConfig {
    /// `host:port` of each Alertmanager.
    #[serde(default)]
    pub targets: Vec<String>,
}

fn default_scheme() -> String {
    "http".into()
}
fn default_timeout() -> String {
    "10s".into()
}
fn default_api_version() -> String {
    "v2".into()
}

/// Notifier settings that do not come from the `alerting` block.
#[derive(Clone, Debug)]
pub struct NotifierOptions {
    /// Labels added to every alert that lacks them (`global.external_labels`).
    pub external_labels: Vec<(String, String)>,
    /// Most alerts queued; the oldest are dropped (and counted) beyond it.
    pub queue_capacity: usize,
    /// Most alerts per request.
    pub max_batch: usize,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        NotifierOptions {
            external_labels: Vec::new(),
            queue_capacity: 10_000,
            max_batch: 256,
        }
    }
}

/// Queues alerts and delivers them to every configured Alertmanager.
pub struct Notifier {
    opts: NotifierOptions,
    queue: Mutex<VecDeque<Alert>>,
    dropped: AtomicU64,
    config: Mutex<AlertingConfig>,
}

impl Notifier {
    /// A notifier for `cfg`.
    pub fn new(cfg: AlertingConfig, opts: NotifierOptions) -> Arc<Notifier> {
        Arc::new(Notifier {
            opts,
            queue: Mutex::new(VecDeque::new()),
            dropped: AtomicU64::new(0),
            config: Mutex::new(cfg),
        })
    }

    /// Queues `alerts` for delivery; never blocks. The oldest queued alerts are dropped
    /// when the queue is full.
    pub fn send(&self, alerts: Vec<Alert>) {
        let mut q = self.queue.lock();
        for a in alerts {
            if q.len() >= self.opts.queue_capacity.max(1) {
                q.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.push_back(a);
        }
    }

    /// Replaces the Alertmanager configuration (on reload).
    pub fn reload(&self, cfg: AlertingConfig) {
        *self.config.lock() = cfg;
    }

    /// Alerts dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Alerts waiting to be sent.
    pub fn queue_len(&self) -> usize {
        self.queue.lock().len()
    }

    /// The API URL of each configured Alertmanager (`/api/v1/alertmanagers`).
    pub fn alertmanager_urls(&self) -> Vec<String> {
        let cfg = self.config.lock();
        let mut out = Vec::new();
        for am in &cfg.alertmanagers {
            for sc in &am.static_configs {
                for t in &sc.targets {
                    out.push(format!(
                        "{}://{}{}/api/v2/alerts",
                        am.scheme,
                        t,
                        am.path_prefix.trim_end_matches('/')
                    ));
                }
            }
        }
        out
    }
}
