//! The `remote_write` block of a Prometheus configuration (the keys this client uses).

use std::collections::BTreeMap;
use std::time::Duration;

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
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// The `Authorization` header (bearer by default).
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// Bearer token, inline (legacy form of `authorization`).
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Bearer token file (legacy form of `authorization`).
    #[serde(default)]
    pub bearer_token_file: Option<String>,
    /// Batching, sharding and retry settings.
    #[serde(default)]
    pub queue_config: QueueConfig,
}

fn default_remote_timeout() -> String {
    "30s".into()
}

/// `basic_auth` of an HTTP client config.
#[derive(Clone, Deserialize)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password, inline.
    #[serde(default)]
    pub password: Option<String>,
    /// Password, read from this file at each request.
    #[serde(default)]
    pub password_file: Option<String>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<secret>")
            .finish()
    }
}

/// `authorization` of an HTTP client config.
#[derive(Clone, Deserialize)]
pub struct Authorization {
    /// Scheme, `Bearer` by default.
    #[serde(default = "bearer", rename = "type")]
    pub kind: String,
    /// Credentials, inline.
    #[serde(default)]
    pub credentials: Option<String>,
    /// Credentials, read from this file at each request.
    #[serde(default)]
    pub credentials_file: Option<String>,
}

fn bearer() -> String {
    "Bearer".into()
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("type", &self.kind)
            .field("credentials", &"<secret>")
            .finish()
    }
}

/// `queue_config` (Prometheus' keys and defaults).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    /// Samples buffered per shard in memory (accepted for compatibility; the disk queue
    /// replaces the in-memory one).
    pub capacity: usize,
    /// Sending shards (series are spread by label hash).
    pub max_shards: usize,
    /// Accepted for compatibility; the shard count is fixed at `max_shards`.
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
        let auths = [
            self.basic_auth.is_some(),
            self.authorization.is_some(),
            self.bearer_token.is_some() || self.bearer_token_file.is_some(),
        ];
        if auths.iter().filter(|&&a| a).count() > 1 {
            return Err(Error::Config(
                "at most one of basic_auth, authorization and bearer_token(_file) may be set"
                    .into(),
            ));
        }
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

/// Parses a Prometheus duration (`30s`, `1m30s`, `100ms`, `1h`, `2d`, `1w`, `1y`; units in
/// decreasing order, each once).
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let b = s.as_bytes();
    let (mut i, mut total, mut last) = (0, 0u64, u64::MAX);
    if b.is_empty() {
        return None;
    }
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n: u64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = match &s[ustart..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        if unit >= last {
            return None;
        }
        last = unit;
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(Duration::from_millis(total))
}
