//! The Prometheus configuration file as the agent reads it: `global`, `scrape_configs`
//! and `remote_write` (plain data for the remote-write client). Defaults are Prometheus'.
//! Keys Prometheus knows but the agent does not use are logged and ignored; anything else
//! unknown, and every invalid value, fails with `file:line`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::relabel::RelabelConfig;
use crate::Error;

/// A duration written the Prometheus way (`1m`, `10s`, `1h30m`, `500ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PromDuration(pub Duration);

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(PromDuration)
            .ok_or_else(|| serde::de::Error::custom(format!("not a valid duration string: {s:?}")))
    }
}

impl Serialize for PromDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

pub use promconfig::parse_duration;

/// Formats a duration as Prometheus prints it (`1m`, `10s`, `1m30s`, `500ms`).
pub fn format_duration(d: Duration) -> String {
    promconfig::format_duration_ms(d.as_millis() as i64)
}

/// A whole configuration file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Config {
    /// `global`.
    #[serde(default)]
    pub global: GlobalConfig,
    /// `scrape_configs`.
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// `remote_write`.
    #[serde(default)]
    pub remote_write: Vec<RemoteWriteConfig>,
    /// `rule_files` (read by the rule manager, not here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_files: Option<serde_yaml::Value>,
    /// `alerting` (read by the rule manager, not here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerting: Option<serde_yaml::Value>,
}

/// `global`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct GlobalConfig {
    /// Default scrape interval (1m).
    #[serde(default = "default_interval")]
    pub scrape_interval: PromDuration,
    /// Default scrape timeout (10s, capped at the interval when unset).
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// Rule evaluation interval (the rule manager's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_interval: Option<PromDuration>,
    /// Labels added to samples sent by remote write.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: default_interval(),
            scrape_timeout: None,
            evaluation_interval: None,
            external_labels: BTreeMap::new(),
        }
    }
}

fn default_interval() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}
impl GlobalConfig {
    /// The effective default timeout: 10s capped at the interval when unset.
    pub fn timeout(&self) -> Duration {
        match self.scrape_timeout {
            Some(t) => t.0,
            None => Duration::from_secs(10).min(self.scrape_interval.0),
        }
    }
}
fn default_true() -> bool {
    true
}
fn default_metrics_path() -> String {
    "/metrics".into()
}
fn default_scheme() -> String {
    "http".into()
}

pub use promconfig::{Authorization, BasicAuth, HttpClientConfig, Secret, TlsConfig};

/// One `scrape_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ScrapeConfig {
    /// `job_name`.
    pub job_name: String,
    /// Interval (the global one when unset).
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    /// Timeout (the global one, capped at the interval, when unset).
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// HTTP path (`/metrics`).
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `http` or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// URL query parameters.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// Keep the target's own labels on conflict.
    #[serde(default)]
    pub honor_labels: bool,
    /// Use the timestamps the target exposes.
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// Most samples per scrape after metric relabeling (0: no limit).
    #[serde(default)]
    pub sample_limit: u64,
    /// Most labels per sample (0: no limit).
    #[serde(default)]
    pub label_limit: u64,
    /// Longest label name (0: no limit).
    #[serde(default)]
    pub label_name_length_limit: u64,
    /// Longest label value (0: no limit).
    #[serde(default)]
    pub label_value_length_limit: u64,
    /// `static_configs`.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// `file_sd_configs`.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `kubernetes_sd_configs`.
    #[serde(default)]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// `relabel_configs` (target relabeling).
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// `metric_relabel_configs` (per sample).
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// Credentials and TLS.
    #[serde(flatten)]
    pub http: HttpClientConfig,
}

impl ScrapeConfig {
    /// The effective interval.
    pub fn interval(&self, g: &GlobalConfig) -> Duration {
        self.scrape_interval.unwrap_or(g.scrape_interval).0
    }
    /// The effective timeout: the global one capped at the interval when unset.
    pub fn timeout(&self, g: &GlobalConfig) -> Duration {
        match self.scrape_timeout {
            Some(t) => t.0,
            None => g.timeout().min(self.interval(g)),
        }
    }
}

/// One `static_configs` entry.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels of every target.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One `file_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct FileSdConfig {
    /// Files (`*`/`?` globs in the last path segment), JSON or YAML.
    pub files: Vec<String>,
    /// Re-read interval (5m).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
}

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(300))
}

/// Kubernetes SD role.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// One target per node (kubelet address).
    Node,
    /// One target per pod container port.
    Pod,
    /// One target per service port.
    Service,
    /// One target per endpoint address and port.
    Endpoints,
    /// Like endpoints, from EndpointSlices.
    Endpointslice,
}

/// `namespaces` of a Kubernetes SD config.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Namespaces {
    /// Namespace names (all when empty).
    #[serde(default)]
    pub names: Vec<String>,
    /// Only the namespace the agent runs in.
    #[serde(default)]
    pub own_namespace: bool,
}

/// One `kubernetes_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct KubernetesSdConfig {
    /// The role.
    pub role: Role,
    /// API server URL (in-cluster when unset).
    #[serde(default)]
    pub api_server: Option<String>,
    /// Namespaces to watch.
    #[serde(default)]
    pub namespaces: Namespaces,
    /// Credentials and TLS towards the API server.
    #[serde(flatten)]
    pub http: HttpClientConfig,
}

/// `queue_config` of a remote write (plain data for the client).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct QueueConfig {
    /// Samples buffered per shard.
    #[serde(default)]
    pub capacity: Option<u64>,
    /// Most shards.
    #[serde(default)]
    pub max_shards: Option<u64>,
    /// Fewest shards.
    #[serde(default)]
    pub min_shards: Option<u64>,
    /// Most samples per send.
    #[serde(default)]
    pub max_samples_per_send: Option<u64>,
    /// Longest wait before a partial batch is sent.
    #[serde(default)]
    pub batch_send_deadline: Option<PromDuration>,
    /// First retry delay.
    #[serde(default)]
    pub min_backoff: Option<PromDuration>,
    /// Largest retry delay.
    #[serde(default)]
    pub max_backoff: Option<PromDuration>,
    /// Retry on HTTP 429.
    #[serde(default)]
    pub retry_on_http_429: Option<bool>,
}

/// One `remote_write` entry (plain data; the client is built elsewhere).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct RemoteWriteConfig {
    /// Receiver URL.
    pub url: String,
    /// Name in logs and metrics.
    #[serde(default)]
    pub name: Option<String>,
    /// Request timeout (30s).
    #[serde(default)]
    pub remote_timeout: Option<PromDuration>,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Queue tuning.
    #[serde(default)]
    pub queue_config: QueueConfig,
    /// Relabeling before sending.
    #[serde(default)]
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// Credentials and TLS.
    #[serde(flatten)]
    pub http: HttpClientConfig,
}

/// Keys that are valid in a Prometheus configuration but not used by the agent: they are
/// logged and ignored. Any other unknown key is an error, as in Prometheus.
const KNOWN_UNUSED: &[&str] = &[
    "query_log_file",
    "scrape_failure_log_file",
    "scrape_protocols",
    "body_size_limit",
    "target_limit",
    "keep_dropped_targets",
    "native_histogram_bucket_limit",
    "native_histogram_min_bucket_factor",
    "scrape_classic_histograms",
    "always_scrape_classic_histograms",
    "convert_classic_histograms_to_nhcb",
    "track_timestamps_staleness",
    "enable_compression",
    "enable_http2",
    "follow_redirects",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "oauth2",
    "http_headers",
    "max_version",
    "selectors",
    "attach_metadata",
    "kubeconfig_file",
    "metadata_config",
    "send_exemplars",
    "send_native_histograms",
    "protobuf_message",
    "round_robin_dns",
    "sigv4",
    "azuread",
    "google_iam",
    "max_retries",
    "sample_age_limit",
    "remote_read",
    "storage",
    "tracing",
    "runtime",
    "otlp",
    "scrape_config_files",
    "fallback_scrape_protocol",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "rule_query_offset",
    "query_offset",
    "dns_sd_configs",
    "consul_sd_configs",
    "ec2_sd_configs",
    "http_sd_configs",
    "gce_sd_configs",
    "azure_sd_configs",
    "openstack_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "kuma_sd_configs",
    "nomad_sd_configs",
    "eureka_sd_configs",
    "hetzner_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "serverset_sd_configs",
    "triton_sd_configs",
    "scaleway_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
    "puppetdb_sd_configs",
    "ionos_sd_configs",
    "digitalocean_sd_configs",
    "lightsail_sd_configs",
    "ovhcloud_sd_configs",
];

/// A loaded configuration and the keys that were ignored (with a log line each).
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The configuration, paths resolved against the file's directory.
    pub config: Config,
    /// Dotted paths of ignored keys, e.g. `scrape_configs.0.enable_http2`.
    pub ignored: Vec<String>,
}

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Loaded, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut loaded = parse(&text, &path.display().to_string())?;
    let base = path.parent().unwrap_or(Path::new("."));
    loaded.config.resolve_paths(base);
    Ok(loaded)
}

/// Parses configuration text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Loaded, Error> {
    let err = |line: usize, msg: String| Error::Config {
        file: file.to_string(),
        line,
        msg,
    };
    let cfg: Config = serde_yaml::from_str(if text.trim().is_empty() { "{}" } else { text })
        .map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(0);
            let msg = e.to_string();
            err(refine_line(text, line, &msg), msg)
        })?;
    let raw: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| err(0, e.to_string()))?;
    let known = serde_yaml::to_value(&cfg).map_err(|e| err(0, e.to_string()))?;
    let mut unknown = Vec::new();
    unknown_keys(&raw, &known, "", &mut unknown);
    let mut ignored = Vec::new();
    for path in unknown {
        let key = path.rsplit('.').next().unwrap_or(&path).to_string();
        if KNOWN_UNUSED.contains(&key.as_str()) {
            tracing::warn!(key = %path, "configuration key not supported by the agent, ignored");
            ignored.push(path);
        } else {
            return Err(err(
                line_of_key(text, &key),
                format!("field {key} not found"),
            ));
        }
    }
    validate(&cfg).map_err(|(key, msg)| err(line_of_key(text, &key), msg))?;
    Ok(Loaded {
        config: cfg,
        ignored,
    })
}

/// Keys present in `raw` but not in `known` (the typed config written back out).
fn unknown_keys(
    raw: &serde_yaml::Value,
    known: &serde_yaml::Value,
    at: &str,
    out: &mut Vec<String>,
) {
    use serde_yaml::Value;
    match (raw, known) {
        (Value::Mapping(r), Value::Mapping(k)) => {
            for (key, v) in r {
                let name = key
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{key:?}"));
                let path = if at.is_empty() {
                    name
                } else {
                    format!("{at}.{name}")
                };
                match k.get(key) {
                    Some(kv) => unknown_keys(v, kv, &path, out),
                    None => out.push(path),
                }
            }
        }
        (Value::Sequence(r), Value::Sequence(k)) => {
            for (i, (rv, kv)) in r.iter().zip(k).enumerate() {
                unknown_keys(rv, kv, &format!("{at}.{i}"), out);
            }
        }
        _ => {}
    }
}

/// serde reports errors inside a flattened struct at the struct's first line: moves to the
/// first line from there that holds the value the message quotes.
fn refine_line(text: &str, line: usize, msg: &str) -> usize {
    let Some(q) = msg.split(['"', '`']).nth(1).filter(|q| !q.is_empty()) else {
        return line;
    };
    text.lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .find(|(_, l)| l.contains(q))
        .map_or(line, |(i, _)| i + 1)
}

/// The 1-based line where `key:` first appears (0 when not found).
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ").trim_start();
            t.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// Checks what serde cannot: returns the offending key and a message.
fn validate(cfg: &Config) -> Result<(), (String, String)> {
    let g = &cfg.global;
    if g.timeout() > g.scrape_interval.0 {
        return Err((
            "scrape_timeout".into(),
            "global scrape timeout greater than scrape interval".into(),
        ));
    }
    let mut names = std::collections::HashSet::new();
    for sc in &cfg.scrape_configs {
        let j = &sc.job_name;
        if j.is_empty() {
            return Err(("job_name".into(), "job_name is empty".into()));
        }
        if !names.insert(j.clone()) {
            return Err((
                "job_name".into(),
                format!("found multiple scrape configs with job name {j:?}"),
            ));
        }
        if sc.timeout(g) > sc.interval(g) {
            return Err((
                "scrape_timeout".into(),
                format!("scrape timeout greater than scrape interval for scrape config with job name {j:?}"),
            ));
        }
        if sc.interval(g).is_zero() {
            return Err((
                "scrape_interval".into(),
                format!("scrape interval is zero in job {j:?}"),
            ));
        }
        if sc.scheme != "http" && sc.scheme != "https" {
            return Err((
                "scheme".into(),
                format!("unknown scheme {:?} in job {j:?}", sc.scheme),
            ));
        }
        if !sc.metrics_path.starts_with('/') {
            return Err((
                "metrics_path".into(),
                format!("metrics_path {:?} must start with '/'", sc.metrics_path),
            ));
        }
        check_http(&sc.http)?;
        for k in &sc.kubernetes_sd_configs {
            check_http(&k.http)?;
        }
        for (key, rcs) in [
            ("relabel_configs", &sc.relabel_configs),
            ("metric_relabel_configs", &sc.metric_relabel_configs),
        ] {
            for rc in rcs {
                crate::relabel::Rule::compile(rc).map_err(|e| (key.to_string(), e.to_string()))?;
            }
        }
        for st in &sc.static_configs {
            for t in &st.targets {
                if t.contains('/') {
                    return Err(("targets".into(), format!("{t:?} is not a valid hostname")));
                }
            }
        }
    }
    for rw in &cfg.remote_write {
        if !(rw.url.starts_with("http://") || rw.url.starts_with("https://")) {
            return Err((
                "url".into(),
                format!("invalid remote_write url {:?}", rw.url),
            ));
        }
        check_http(&rw.http)?;
        for rc in &rw.write_relabel_configs {
            crate::relabel::Rule::compile(rc)
                .map_err(|e| ("write_relabel_configs".to_string(), e.to_string()))?;
        }
    }
    Ok(())
}

fn check_http(h: &HttpClientConfig) -> Result<(), (String, String)> {
    h.validate().map_err(|e| {
        let key = match &e {
            promconfig::Error::Tls(_) => "tls_config",
            _ => "authorization",
        };
        (key.to_string(), e.to_string())
    })
}

impl Config {
    /// Makes relative file paths (credentials, TLS, file SD) relative to `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        for sc in &mut self.scrape_configs {
            sc.http.resolve_paths(base);
            for k in &mut sc.kubernetes_sd_configs {
                k.http.resolve_paths(base);
            }
            for f in &mut sc.file_sd_configs {
                for p in &mut f.files {
                    if Path::new(p).is_relative() {
                        *p = base.join(&*p).display().to_string();
                    }
                }
            }
        }
        for rw in &mut self.remote_write {
            rw.http.resolve_paths(base);
        }
    }
}

#[cfg(test)]
mod tests;
