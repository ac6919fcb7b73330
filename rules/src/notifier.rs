//! Sends alerts to Alertmanagers (API v2, `POST /api/v2/alerts`): a bounded queue, batches,
//! retries with backoff, configured from a Prometheus config's `alerting` block.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};
use promconfig::HttpClientConfig;
use serde::Deserialize;
use tsdb::Labels;

use crate::metrics::Summary;

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
    /// Credentials and TLS (`basic_auth`, `authorization`, `bearer_token(_file)`,
    /// `tls_config`).
    #[serde(flatten)]
    pub http: HttpClientConfig,
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

/// Why an `alerting` block is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `scheme` is neither `http` nor `https`.
    #[error("alertmanagers[{0}]: unsupported scheme {1:?} (want http or https)")]
    Scheme(usize, String),
    /// `api_version` is not `v2`.
    #[error("alertmanagers[{0}]: unsupported api_version {1:?} (only v2 is supported)")]
    ApiVersion(usize, String),
    /// `timeout` is not a duration.
    #[error("alertmanagers[{0}]: invalid timeout {1:?}")]
    Timeout(usize, String),
    /// Credentials or `tls_config` are invalid (the message never shows a secret).
    #[error("alertmanagers[{0}]: {1}")]
    Http(usize, String),
}

impl AlertingConfig {
    /// Checks every Alertmanager entry as Prometheus does at load time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, am) in self.alertmanagers.iter().enumerate() {
            if am.scheme != "http" && am.scheme != "https" {
                return Err(ConfigError::Scheme(i, am.scheme.clone()));
            }
            if am.api_version != "v2" {
                return Err(ConfigError::ApiVersion(i, am.api_version.clone()));
            }
            if promconfig::parse_duration_ms(&am.timeout).is_none() {
                return Err(ConfigError::Timeout(i, am.timeout.clone()));
            }
            am.http
                .validate()
                .map_err(|e| ConfigError::Http(i, e.to_string()))?;
        }
        Ok(())
    }

    /// One delivery target per static target of each Alertmanager entry.
    fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        for am in &self.alertmanagers {
            let timeout = promconfig::parse_duration_ms(&am.timeout)
                .filter(|&ms| ms > 0)
                .unwrap_or(10_000);
            for sc in &am.static_configs {
                for t in &sc.targets {
                    out.push(Target {
                        url: format!(
                            "{}://{}{}/api/v2/alerts",
                            am.scheme,
                            t,
                            am.path_prefix.trim_end_matches('/')
                        ),
                        timeout: Duration::from_millis(timeout as u64),
                        http: am.http.clone(),
                    });
                }
            }
        }
        out
    }
}

/// Where one batch goes, with how to authenticate.
#[derive(Clone)]
struct Target {
    url: String,
    timeout: Duration,
    http: HttpClientConfig,
}

/// Notifier settings that do not come from the `alerting` block.
#[derive(Clone, Debug)]
pub struct NotifierOptions {
    /// Labels added to every alert that lacks them (`global.external_labels`; replaced by
    /// [`Notifier::reload`]).
    pub external_labels: Vec<(String, String)>,
    /// Most alerts queued; the oldest are dropped (and counted) beyond it.
    pub queue_capacity: usize,
    /// Most alerts per request.
    pub max_batch: usize,
    /// Tries per Alertmanager and batch (the first included).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles on each further one.
    pub retry_backoff: Duration,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        NotifierOptions {
            external_labels: Vec::new(),
            queue_capacity: 10_000,
            max_batch: 256,
            max_attempts: 3,
            retry_backoff: Duration::from_millis(500),
        }
    }
}

/// Per-Alertmanager delivery counts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DeliveryStats {
    /// Alerts delivered.
    pub sent: u64,
    /// Alerts whose delivery failed after all tries.
    pub errors: u64,
}

/// State shared with the delivery thread.
struct Shared {
    opts: NotifierOptions,
    queue: Mutex<Queue>,
    wake: Condvar,
    dropped: AtomicU64,
    config: Mutex<AlertingConfig>,
    /// `global.external_labels` as of the last reload.
    external_labels: Mutex<Vec<(String, String)>>,
    stats: Mutex<BTreeMap<String, DeliveryStats>>,
    /// Request latency per Alertmanager URL (`prometheus_notifications_latency_seconds`).
    latency: Mutex<BTreeMap<String, Summary>>,
}

impl Shared {
    /// The request body for `batch`, with the current external labels.
    fn encode(&self, batch: &[Alert]) -> String {
        encode_batch(batch, &self.external_labels.lock())
    }
}

#[derive(Default)]
struct Queue {
    alerts: VecDeque<Alert>,
    stop: bool,
}

/// Queues alerts and delivers them to every configured Alertmanager from a thread of its own.
pub struct Notifier {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Notifier {
    /// A notifier for `cfg`; starts its delivery thread. Entries that fail
    /// [`AlertingConfig::validate`] are still tried (check configs before).
    pub fn new(cfg: AlertingConfig, mut opts: NotifierOptions) -> Arc<Notifier> {
        // The labels live in `Shared::external_labels` alone, so a reload replaces them.
        let external_labels = std::mem::take(&mut opts.external_labels);
        let shared = Arc::new(Shared {
            external_labels: Mutex::new(external_labels),
            opts,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
            config: Mutex::new(cfg),
            stats: Mutex::new(BTreeMap::new()),
            latency: Mutex::new(BTreeMap::new()),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("notifier".into())
            .spawn(move || deliver_loop(&s))
            .ok();
        if thread.is_none() {
            tracing::error!("could not start the notifier thread: alerts will not be sent");
        }
        Arc::new(Notifier {
            shared,
            thread: Mutex::new(thread),
        })
    }

    /// Queues `alerts` for delivery; never blocks. The oldest queued alerts are dropped
    /// when the queue is full.
    pub fn send(&self, alerts: Vec<Alert>) {
        if alerts.is_empty() {
            return;
        }
        let cap = self.shared.opts.queue_capacity.max(1);
        let mut q = self.shared.queue.lock();
        let mut dropped = 0;
        for a in alerts {
            if q.alerts.len() >= cap {
                q.alerts.pop_front();
                dropped += 1;
            }
            q.alerts.push_back(a);
        }
        drop(q);
        if dropped > 0 {
            self.shared.dropped.fetch_add(dropped, Ordering::Relaxed);
            tracing::warn!(
                dropped,
                capacity = cap,
                "alert queue full: dropped the oldest alerts"
            );
        }
        self.shared.wake.notify_one();
    }

    /// Replaces the Alertmanager configuration and the external labels (on reload);
    /// batches sent from now on use both.
    pub fn reload(&self, cfg: AlertingConfig, external_labels: Vec<(String, String)>) {
        *self.shared.config.lock() = cfg;
        *self.shared.external_labels.lock() = external_labels;
    }

    /// Alerts dropped: queue overflow, or no Alertmanager accepted their batch.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Alerts waiting to be sent.
    pub fn queue_len(&self) -> usize {
        self.shared.queue.lock().alerts.len()
    }

    /// Delivery counts per Alertmanager URL.
    pub fn stats(&self) -> BTreeMap<String, DeliveryStats> {
        self.shared.stats.lock().clone()
    }

    /// The API URL of each configured Alertmanager (`/api/v1/alertmanagers`).
    pub fn alertmanager_urls(&self) -> Vec<String> {
        self.shared
            .config
            .lock()
            .targets()
            .into_iter()
            .map(|t| t.url)
            .collect()
    }

    /// Sends what is queued (one try per Alertmanager) and stops the delivery thread.
    pub fn stop(&self) {
        self.shared.queue.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }

    /// Appends the notifier's self-metrics in Prometheus text format, with Prometheus'
    /// names and labels (`sent_total` counts every alert tried, delivered or not, as
    /// Prometheus counts it; `errors_total` the alerts of failed deliveries).
    pub fn render_metrics(&self, out: &mut String) {
        let s = &self.shared;
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            out,
            "prometheus_notifications_queue_length",
            "The number of alert notifications in the queue.",
            self.queue_len() as u64,
        );
        gauge(
            out,
            "prometheus_notifications_queue_capacity",
            "The capacity of the alert notifications queue.",
            s.opts.queue_capacity as u64,
        );
        gauge(
            out,
            "prometheus_notifications_alertmanagers_discovered",
            "The number of alertmanagers discovered and active.",
            self.alertmanager_urls().len() as u64,
        );
        let _ = writeln!(out, "# HELP prometheus_notifications_dropped_total Total number of alerts dropped due to errors when sending to Alertmanager.\n# TYPE prometheus_notifications_dropped_total counter\nprometheus_notifications_dropped_total {}", self.dropped());
        let stats = self.stats();
        for (name, help, get) in [
            (
                "prometheus_notifications_sent_total",
                "Total number of alerts sent.",
                (|d: &DeliveryStats| d.sent + d.errors) as fn(&DeliveryStats) -> u64,
            ),
            (
                "prometheus_notifications_errors_total",
                "Total number of errors sending alert notifications.",
                |d: &DeliveryStats| d.errors,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (am, d) in &stats {
                let _ = writeln!(out, "{name}{{alertmanager=\"{}\"}} {}", escape(am), get(d));
            }
        }
        let name = "prometheus_notifications_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Latency quantiles for sending alert notifications.\n# TYPE {name} summary"
        );
        for (am, sum) in s.latency.lock().iter() {
            let labels = format!("alertmanager=\"{}\"", escape(am));
            sum.render_samples(out, name, &labels, &[0.5, 0.9, 0.99]);
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Escapes a label value for the text format.
fn escape(s: &str) -> String {
    s.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Takes batches off the queue and posts each to every Alertmanager until told to stop.
fn deliver_loop(s: &Shared) {
    loop {
        let (batch, stopping) = {
            let mut q = s.queue.lock();
            while q.alerts.is_empty() && !q.stop {
                s.wake.wait(&mut q);
            }
            if q.alerts.is_empty() {
                return;
            }
            let n = q.alerts.len().min(s.opts.max_batch.max(1));
            (q.alerts.drain(..n).collect::<Vec<_>>(), q.stop)
        };
        let targets = s.config.lock().targets();
        if targets.is_empty() {
            continue;
        }
        let body = s.encode(&batch);
        let attempts = if stopping {
            1
        } else {
            s.opts.max_attempts.max(1)
        };
        let mut delivered = false;
        for t in &targets {
            let ok = post_with_retries(s, t, &body, attempts);
            let mut stats = s.stats.lock();
            let e = stats.entry(t.url.clone()).or_default();
            if ok {
                e.sent += batch.len() as u64;
                delivered = true;
            } else {
                e.errors += batch.len() as u64;
            }
        }
        if !delivered {
            s.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
            tracing::error!(
                alerts = batch.len(),
                "no Alertmanager accepted the batch: alerts dropped"
            );
        }
    }
}

/// Posts `body` to `t`, retrying transport errors, 429 and 5xx with doubling waits.
fn post_with_retries(s: &Shared, t: &Target, body: &str, attempts: u32) -> bool {
    let (auth, agent) = match t
        .http
        .header()
        .and_then(|a| Ok((a, t.http.agent_builder(t.timeout)?.build())))
    {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(alertmanager = %t.url, error = %e, "cannot authenticate to Alertmanager");
            return false;
        }
    };
    let mut wait = s.opts.retry_backoff;
    for attempt in 1..=attempts {
        let mut req = agent
            .post(&t.url)
            .set("Content-Type", "application/json")
            .set("User-Agent", concat!("vitals/", env!("CARGO_PKG_VERSION")));
        if let Some(a) = &auth {
            req = req.set("Authorization", a);
        }
        let begin = std::time::Instant::now();
        let sent = req.send_string(body);
        s.latency
            .lock()
            .entry(t.url.clone())
            .or_default()
            .observe(begin.elapsed().as_secs_f64());
        let retry = match sent {
            Ok(_) => return true,
            Err(ureq::Error::Status(code, resp)) => {
                let msg: String = resp.into_string().unwrap_or_default();
                tracing::warn!(alertmanager = %t.url, code, attempt, response = %msg.trim(), "Alertmanager rejected alerts");
                code == 429 || code >= 500
            }
            Err(ureq::Error::Transport(e)) => {
                tracing::warn!(alertmanager = %t.url, attempt, error = %e, "sending alerts failed");
                true
            }
        };
        if !retry || attempt == attempts {
            break;
        }
        // Wait, but wake early when told to stop.
        let mut q = s.queue.lock();
        if !q.stop {
            s.wake.wait_for(&mut q, wait);
        }
        if q.stop {
            break;
        }
        drop(q);
        wait = (wait * 2).min(Duration::from_secs(30));
    }
    false
}

/// The JSON body of `POST /api/v2/alerts`, external labels added where absent.
fn encode_batch(alerts: &[Alert], external: &[(String, String)]) -> String {
    let items: Vec<serde_json::Value> = alerts
        .iter()
        .map(|a| {
            let mut labels: BTreeMap<&str, &str> = a
                .labels
                .iter()
                .map(|l| (l.name.as_ref(), l.value.as_ref()))
                .collect();
            for (k, v) in external {
                labels.entry(k).or_insert(v);
            }
            let annotations: BTreeMap<&str, &str> = a
                .annotations
                .iter()
                .map(|l| (l.name.as_ref(), l.value.as_ref()))
                .collect();
            let mut o = serde_json::json!({
                "labels": labels,
                "annotations": annotations,
                "startsAt": time(a.starts_at_ms),
                "generatorURL": a.generator_url,
            });
            if a.ends_at_ms != 0 {
                o["endsAt"] = time(a.ends_at_ms).into();
            }
            o
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// RFC 3339 with milliseconds, as Go marshals `time.Time` (trailing zeros trimmed).
fn time(ms: i64) -> String {
    let t = if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH
    };
    query::rfc3339(t, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_adds_external_labels_without_overriding() {
        let a = Alert {
            labels: Labels::from_pairs(&[("alertname", "X"), ("cluster", "own")]),
            annotations: Labels::from_pairs(&[("summary", "s")]),
            starts_at_ms: 1_700_000_000_123,
            ends_at_ms: 0,
            generator_url: "http://h/graph".into(),
        };
        let ext = vec![
            ("cluster".to_string(), "ext".to_string()),
            ("region".to_string(), "eu".to_string()),
        ];
        let v: serde_json::Value = serde_json::from_str(&encode_batch(&[a], &ext)).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{
                "labels": {"alertname": "X", "cluster": "own", "region": "eu"},
                "annotations": {"summary": "s"},
                "startsAt": "2023-11-14T22:13:20.123Z",
                "generatorURL": "http://h/graph",
            }])
        );
    }

    #[test]
    fn reload_replaces_external_labels() {
        let n = Notifier::new(
            AlertingConfig::default(),
            NotifierOptions {
                external_labels: vec![("cluster".into(), "old".into())],
                ..Default::default()
            },
        );
        let a = Alert {
            labels: Labels::from_pairs(&[("alertname", "X")]),
            annotations: Labels::default(),
            starts_at_ms: 0,
            ends_at_ms: 0,
            generator_url: String::new(),
        };
        let labels = |n: &Notifier| -> serde_json::Value {
            let v: serde_json::Value =
                serde_json::from_str(&n.shared.encode(std::slice::from_ref(&a))).unwrap();
            v[0]["labels"].clone()
        };
        assert_eq!(
            labels(&n),
            serde_json::json!({"alertname": "X", "cluster": "old"})
        );
        n.reload(
            AlertingConfig::default(),
            vec![
                ("cluster".into(), "new".into()),
                ("region".into(), "eu".into()),
            ],
        );
        assert_eq!(
            labels(&n),
            serde_json::json!({"alertname": "X", "cluster": "new", "region": "eu"})
        );
        n.stop();
    }

    #[test]
    fn validation_names_the_entry() {
        let cfg: AlertingConfig = serde_json::from_value(serde_json::json!({
            "alertmanagers": [
                {"static_configs": [{"targets": ["a:9093"]}]},
                {"api_version": "v1", "static_configs": [{"targets": ["b:9093"]}]},
            ]
        }))
        .unwrap();
        let e = cfg.validate().unwrap_err().to_string();
        assert!(
            e.starts_with("alertmanagers[1]: unsupported api_version"),
            "{e}"
        );
    }

    #[test]
    fn full_queue_drops_oldest_and_counts() {
        let n = Notifier::new(
            AlertingConfig::default(),
            NotifierOptions {
                queue_capacity: 2,
                ..Default::default()
            },
        );
        // Without Alertmanagers the delivery thread discards batches; stop it first so the
        // queue only fills.
        n.shared.queue.lock().stop = true;
        n.shared.wake.notify_all();
        if let Some(t) = n.thread.lock().take() {
            t.join().unwrap();
        }
        n.shared.queue.lock().stop = false;
        let alert = |name: &str| Alert {
            labels: Labels::from_pairs(&[("alertname", name)]),
            annotations: Labels::default(),
            starts_at_ms: 0,
            ends_at_ms: 0,
            generator_url: String::new(),
        };
        n.send(vec![alert("a"), alert("b"), alert("c")]);
        assert_eq!(n.queue_len(), 2);
        assert_eq!(n.dropped(), 1);
        let names: Vec<String> = n
            .shared
            .queue
            .lock()
            .alerts
            .iter()
            .map(|a| a.labels.get("alertname").unwrap().to_string())
            .collect();
        assert_eq!(names, ["b", "c"]);
    }
}
