//! Status and metadata endpoints in Prometheus' shapes: `/api/v1/status/{buildinfo,
//! runtimeinfo,flags,config,tsdb}`, `/api/v1/metadata`, `/api/v1/query_exemplars`, and the
//! scrape endpoints (`targets`, `targets/metadata`), which answer empty but well-formed
//! until scraping exists. Rule and alert endpoints live in the `rules` crate.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::api::{blocking, parse_time, success, Params};
use crate::error::ApiError;
use crate::selector::parse_selector;
use crate::ApiState;

/// Default and largest `limit` of `/api/v1/status/tsdb` (as Prometheus).
const TSDB_DEFAULT_LIMIT: usize = 10;
const TSDB_MAX_LIMIT: usize = 10_000;

/// `GET /api/v1/status/buildinfo`. No `features` map: Grafana would take us for Mimir.
pub(crate) async fn buildinfo(State(st): State<ApiState>) -> Response {
    st.metrics.request("buildinfo");
    success(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": option_env!("VITALS_REVISION").unwrap_or("unknown"),
        "branch": option_env!("VITALS_BRANCH").unwrap_or("unknown"),
        "buildUser": option_env!("VITALS_BUILD_USER").unwrap_or("unknown"),
        "buildDate": option_env!("VITALS_BUILD_DATE").unwrap_or("unknown"),
        "goVersion": env!("VITALS_RUSTC_VERSION"),
    }))
}

/// `GET /api/v1/status/runtimeinfo`. Go runtime fields map to their closest equivalents:
/// goroutines → live tokio tasks, GOMAXPROCS → tokio workers, GOMEMLIMIT → no limit.
pub(crate) async fn runtimeinfo(State(st): State<ApiState>) -> Response {
    st.metrics.request("runtimeinfo");
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let (tasks, workers) = match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            let m = h.metrics();
            (m.num_alive_tasks(), m.num_workers())
        }
        Err(_) => (0, 1),
    };
    let start = st.opts.start_time;
    success(json!({
        "startTime": rfc3339(start, true),
        "CWD": cwd,
        "hostname": hostname(),
        "serverTime": rfc3339(SystemTime::now(), true),
        "reloadConfigSuccess": true,
        "lastConfigTime": rfc3339(start, false),
        "corruptionCount": 0,
        "goroutineCount": tasks,
        "GOMAXPROCS": workers,
        "GOMEMLIMIT": i64::MAX,
        "GOGC": std::env::var("GOGC").unwrap_or_default(),
        "GODEBUG": std::env::var("GODEBUG").unwrap_or_default(),
        "storageRetention": storage_retention(st.db.options()),
    }))
}

/// `GET /api/v1/status/flags`: flag name → value, sorted by name (as Go's JSON maps).
pub(crate) async fn flags(State(st): State<ApiState>) -> Response {
    st.metrics.request("flags");
    let mut flags: Vec<&(String, String)> = st.opts.flags.iter().collect();
    // Stable sort: of repeated names the last one wins below.
    flags.sort_by(|a, b| a.0.cmp(&b.0));
    let mut map = Map::new();
    for (k, v) in flags {
        map.insert(k.clone(), Value::String(v.clone()));
    }
    success(Value::Object(map))
}

/// `GET /api/v1/status/config`: the effective configuration as YAML.
pub(crate) async fn config(State(st): State<ApiState>) -> Response {
    st.metrics.request("config");
    success(json!({ "yaml": config_yaml(st.db.options()) }))
}

/// The effective configuration in Prometheus' YAML layout (defaults until scraping and
/// rule evaluation are configurable).
fn config_yaml(o: &tsdb::Options) -> String {
    let mut y = String::from(
        "global:\n  scrape_interval: 1m\n  scrape_timeout: 10s\n  evaluation_interval: 1m\n",
    );
    if o.out_of_order_window_ms > 0 {
        y.push_str("storage:\n  tsdb:\n    out_of_order_time_window: ");
        y.push_str(&format_duration(o.out_of_order_window_ms));
        y.push('\n');
    }
    y
}

/// `GET /api/v1/status/tsdb[?limit=N]`: head statistics and top-N cardinality rankings.
pub(crate) async fn tsdb_status(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    st.metrics.request("tsdb_status");
    let p = Params::parse(q.as_deref(), &[]);
    let limit = match p.get("limit") {
        None | Some("") => TSDB_DEFAULT_LIMIT,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => {
                if n as u64 > TSDB_MAX_LIMIT as u64 {
                    return Err(ApiError::BadData(format!(
                        "limit must not exceed {TSDB_MAX_LIMIT}"
                    )));
                }
                n as usize
            }
            _ => return Err(ApiError::BadData("limit must be a positive number".into())),
        },
    };
    let db = st.db.clone();
    let (hs, card) = blocking(move || Ok((db.head_stats(), db.head_cardinality(limit)))).await?;
    let stats = |v: Vec<(String, u64)>| -> Value {
        Value::Array(
            v.into_iter()
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect(),
        )
    };
    Ok(success(json!({
        "headStats": {
            "numSeries": card.num_series,
            "numLabelPairs": card.num_label_pairs,
            "chunkCount": hs.num_chunks,
            // Empty head: i64::MAX / i64::MIN, as Prometheus reports them.
            "minTime": hs.min_time,
            "maxTime": hs.max_time,
        },
        "seriesCountByMetricName": stats(card.series_count_by_metric_name),
        "labelValueCountByLabelName": stats(card.label_value_count_by_label_name),
        "memoryInBytesByLabelName": stats(card.memory_in_bytes_by_label_name),
        "seriesCountByLabelValuePair": stats(card.series_count_by_label_value_pair),
    })))
}

/// Parses an optional integer parameter the way Go's `strconv.Atoi` does; `msg` on error.
fn int_param(p: &Params, name: &str, msg: &str) -> Result<Option<i64>, ApiError> {
    match p.get(name) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadData(msg.to_string())),
    }
}

/// `GET|POST /api/v1/metadata`: metric name → `[{type, help, unit}]`. No metadata is
/// stored yet (it arrives with scraping / remote-write metadata), so the map is empty;
/// `limit`, `limit_per_metric` and `metric` are validated and honoured.
pub(crate) async fn metadata(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    st.metrics.request("metadata");
    let p = Params::parse(q.as_deref(), &body);
    let limit = int_param(&p, "limit", "limit must be a number")?;
    let per_metric = int_param(&p, "limit_per_metric", "limit_per_metric must be a number")?;
    let metric = p.get("metric").unwrap_or("");
    let known: Vec<(String, Vec<Value>)> = Vec::new();
    let mut map = Map::new();
    for (name, mut entries) in known {
        if !metric.is_empty() && name != metric {
            continue;
        }
        if limit.is_some_and(|l| l >= 0 && map.len() as i64 >= l) {
            break;
        }
        if let Some(n) = per_metric.filter(|&n| n > 0) {
            entries.truncate(n as usize);
        }
        map.insert(name, Value::Array(entries));
    }
    Ok(success(Value::Object(map)))
}

/// `GET|POST /api/v1/query_exemplars`: exemplars are not stored, so a valid request
/// answers `[]`; parameters are validated as Prometheus does.
pub(crate) async fn query_exemplars(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    st.metrics.request("query_exemplars");
    let p = Params::parse(q.as_deref(), &body);
    let time = |name: &str, default: i64| -> Result<i64, ApiError> {
        match p.get(name) {
            None | Some("") => Ok(default),
            Some(s) => parse_time(s)
                .map_err(|e| ApiError::BadData(format!("invalid parameter {name:?}: {e}"))),
        }
    };
    let start = time("start", i64::MIN)?;
    let end = time("end", i64::MAX)?;
    if end < start {
        return Err(ApiError::BadData(
            "end timestamp must not be before start timestamp".into(),
        ));
    }
    let query = p.get("query").unwrap_or("");
    if let Err(e) = crate::promql::parse(query) {
        return Err(ApiError::BadData(e.to_string()));
    }
    Ok(success(json!([])))
}

/// `GET /api/v1/targets[?state=active|dropped|any]`.
pub(crate) async fn targets(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    st.metrics.request("targets");
    let p = Params::parse(q.as_deref(), &[]);
    let state = p.get("state").unwrap_or("").to_ascii_lowercase();
    let show_dropped = matches!(state.as_str(), "" | "any" | "dropped");
    Ok(success(json!({
        "activeTargets": [],
        "droppedTargets": [],
        // Prometheus leaves the counts out (null) when dropped targets are not asked for.
        "droppedTargetCounts": if show_dropped { json!({}) } else { Value::Null },
    })))
}

/// `GET /api/v1/targets/metadata`: per-target metric metadata; `[]` until scraping exists.
pub(crate) async fn targets_metadata(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    st.metrics.request("targets_metadata");
    let p = Params::parse(q.as_deref(), &[]);
    int_param(&p, "limit", "limit must be a number")?;
    if let Some(m) = p.get("match_target").filter(|m| !m.is_empty()) {
        parse_selector(m)
            .map_err(|e| ApiError::BadData(format!("invalid parameter \"match_target\": {e}")))?;
    }
    Ok(success(json!([])))
}

/// The host's name: `/proc/sys/kernel/hostname`, else `$HOSTNAME`, else empty.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// Retention as Prometheus' runtimeinfo shows it: `15d`, `512MiB`, `15d or 512MiB`, or empty.
fn storage_retention(o: &tsdb::Options) -> String {
    let mut parts = Vec::new();
    if o.retention_time_ms > 0 {
        parts.push(format_duration(o.retention_time_ms));
    }
    if o.retention_size_bytes > 0 {
        parts.push(format_bytes(o.retention_size_bytes));
    }
    parts.join(" or ")
}

/// Formats milliseconds as a Prometheus duration: `15d`, `2w`, `1h30m`, `250ms`, `0s`.
/// Years and weeks are used only when they divide the duration exactly.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let (neg, mut rest) = (ms < 0, ms.unsigned_abs());
    let mut out = String::from(if neg { "-" } else { "" });
    const DAY: u64 = 86_400_000;
    for (unit, mult, exact) in [
        ("y", 365 * DAY, true),
        ("w", 7 * DAY, true),
        ("d", DAY, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ] {
        if exact && rest % mult != 0 {
            continue;
        }
        let n = rest / mult;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            rest -= n * mult;
        }
    }
    out
}

/// Formats bytes in powers of 1024 as Prometheus' flags show sizes: `512MiB`, `1GiB512MiB`.
fn format_bytes(n: u64) -> String {
    if n == 0 {
        return "0B".into();
    }
    let mut out = String::new();
    for (i, unit) in ["EiB", "PiB", "TiB", "GiB", "MiB", "KiB", "B"]
        .iter()
        .enumerate()
    {
        let mult = 1u64 << (10 * (6 - i));
        let v = (n / mult) % 1024;
        let v = if i == 0 { n / mult } else { v };
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
        }
    }
    out
}

/// RFC 3339 in UTC; with `fraction`, nanoseconds with trailing zeros trimmed (Go's RFC3339Nano).
pub fn rfc3339(t: SystemTime, fraction: bool) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = crate::promql::civil(days);
    let mut s = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if fraction && d.subsec_nanos() > 0 {
        let f = format!("{:09}", d.subsec_nanos());
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(format_duration(15 * 86_400_000), "15d");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(365 * 86_400_000), "1y");
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(250), "250ms");
        assert_eq!(format_duration(0), "0s");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(format_bytes(512 << 20), "512MiB");
        assert_eq!(format_bytes((1 << 30) + (512 << 20)), "1GiB512MiB");
        assert_eq!(format_bytes(1000), "1000B");
        assert_eq!(format_bytes(2048), "2KiB");
    }

    #[test]
    fn rfc3339_round_trips() {
        for ms in [0i64, 1_700_000_000_123, 951_782_400_000, 4_102_444_800_000] {
            let t = UNIX_EPOCH + Duration::from_millis(ms as u64);
            let s = rfc3339(t, true);
            assert_eq!(parse_time(&s), Ok(ms), "{s}");
        }
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339(t, true), "2023-11-14T22:13:20.12Z");
        assert_eq!(rfc3339(t, false), "2023-11-14T22:13:20Z");
        // 2000-02-29 (leap day).
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400), false),
            "2000-02-29T00:00:00Z"
        );
    }
}
