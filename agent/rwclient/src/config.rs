//! The `remote_write` block of a Prometheus configuration (the keys this client uses).

use std::collections::BTreeMap;
use std::time::Duration;

use promconfig::{parse_duration, HttpClientConfig};
use serde::Deserialize;

use crate::Error;

/// One `remote_write` entry.
#[derive(Clone, Debug, Deserialize)]
pub struct RemoteWriteConfig {
    /// Endpoint URL.
    pub url: String,
    /// Optional name (used in logs and metrics instead of the URL).
    #[serde(default)]
    pub name: Option<String>,
    /// Timeout of one request (Prometheus duration).
    #[serde(default = "default_remote_timeout")]
    pub remote_timeout: String,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Credentials and TLS (`basic_auth`, `authorization`, `bearer_token(_file)`,
    /// `tls_config`).
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Batching, sharding and retry settings.
    #[serde(default)]
    pub queue_config: QueueConfig,
}

fn default_remote_timeout() -> String {
    "30s".into()
}

/// `queue_config` (Prometheus' keys and defaults).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    /// Samples buffered per shard in memory (accepted for compatibility; the disk queue
    /// replaces the in-memory one).
    pub capacity: usize,
    /// Most sending shards; also the number of disk lanes series are spread over by
    /// label hash.
    pub max_shards: usize,
    /// Fewest sending shards (the count starts here and follows the load).
    pub min_shards: usize,
    /// Samples per request.
    pub max_samples_per_send: usize,
    /// Longest a sample waits in memory before its batch is queued.
    pub batch_send_deadline: String,
    /// First retry wait.
    pub min_backoff: String,
    /// Longest retry wait.
    pub max_backoff: String,
    /// Retry on 429 (always on here; accepted for compatibility).
    pub retry_on_http_429: bool,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 4,
            min_shards: 1,
            max_samples_per_send: 2_000,
            batch_send_deadline: "5s".into(),
            min_backoff: "30ms".into(),
            max_backoff: "5s".into(),
            retry_on_http_429: true,
        }
    }
}

impl QueueConfig {
    /// `batch_send_deadline` as a duration (5 s if invalid).
    pub fn batch_send_deadline_duration(&self) -> Duration {
        parse_duration(&self.batch_send_deadline).unwrap_or(Duration::from_secs(5))
    }

    /// `min_backoff` as a duration.
    pub fn min_backoff_duration(&self) -> Duration {
        parse_duration(&self.min_backoff).unwrap_or(Duration::from_millis(30))
    }

    /// `max_backoff` as a duration.
    pub fn max_backoff_duration(&self) -> Duration {
        parse_duration(&self.max_backoff).unwrap_or(Duration::from_secs(5))
    }
}

impl RemoteWriteConfig {
    /// Checks the entry as Prometheus does at load time.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "url {:?} must start with http:// or https://",
                self.url
            )));
        }
        self.http
            .validate()
            .map_err(|e| Error::Config(e.to_string()))?;
        let q = &self.queue_config;
        for (k, v) in [
            ("remote_timeout", &self.remote_timeout),
            ("queue_config.batch_send_deadline", &q.batch_send_deadline),
            ("queue_config.min_backoff", &q.min_backoff),
            ("queue_config.max_backoff", &q.max_backoff),
        ] {
            if parse_duration(v).is_none() {
                return Err(Error::Config(format!("{k}: invalid duration {v:?}")));
            }
        }
        Ok(())
    }

    /// `remote_timeout` as a duration.
    pub fn timeout(&self) -> Duration {
        parse_duration(&self.remote_timeout).unwrap_or(Duration::from_secs(30))
    }
}
