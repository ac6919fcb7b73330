//! `/api/v1/query`, `/api/v1/query_range` and `/api/v1/format_query`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::api::{parse_time, Params};
use crate::error::ApiError;
use crate::json_fmt::{self, push_time};
use crate::promql::{self, QueryError, QueryOutput, Value};
use crate::ApiState;

/// Most points per series a range query may return (as Prometheus).
const MAX_POINTS: i64 = 11_000;

fn query_param(p: &Params) -> Result<String, ApiError> {
    match p.get("query") {
        Some(q) if !q.trim().is_empty() => Ok(q.to_string()),
        _ => Err(ApiError::BadData(
            "invalid parameter \"query\": 1:1: parse error: no expression found in input".into(),
        )),
    }
}

fn time_param(p: &Params, name: &str, default: Option<i64>) -> Result<i64, ApiError> {
    match p.get(name) {
        Some(s) if !s.is_empty() => parse_time(s)
            .map_err(|e| ApiError::BadData(format!("invalid parameter \"{name}\": {e}"))),
        _ => default.ok_or_else(|| {
            ApiError::BadData(format!(
                "invalid parameter \"{name}\": cannot parse \"\" to a valid timestamp"
            ))
        }),
    }
}

/// A duration parameter: float seconds or a Prometheus duration; returns ms.
fn duration_param(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if f.is_finite() && (f * 1000.0).abs() < i64::MAX as f64 {
            return Some((f * 1000.0).round() as i64);
        }
        return None;
    }
    promql::lexer::parse_duration(s)
}

fn timeout_param(p: &Params, default: Duration) -> Result<Duration, ApiError> {
    match p.get("timeout") {
        Some(s) if !s.is_empty() => match duration_param(s) {
            Some(ms) if ms > 0 => Ok(default.min(Duration::from_millis(ms as u64))),
            _ => Err(ApiError::BadData(format!(
                "invalid parameter \"timeout\": cannot parse {s:?} to a valid duration"
            ))),
        },
        _ => Ok(default),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn map_err(e: QueryError) -> ApiError {
    match e {
        QueryError::Parse(p) => ApiError::BadData(format!("invalid parameter \"query\": {p}")),
        QueryError::BadData(m) => ApiError::BadData(m),
        QueryError::Timeout(_) => ApiError::Timeout(e.to_string()),
        QueryError::TooManySamples(_) | QueryError::Execution(_) => {
            ApiError::Execution(e.to_string())
        }
        QueryError::Storage(m) => ApiError::Internal(m),
    }
}

/// Formats a sample value as Prometheus does (`strconv.FormatFloat(v, 'f', -1, 64)`), quoted.
fn push_value(out: &mut String, v: f64) {
    out.push('"');
    json_fmt::push_float(out, v);
    out.push('"');
}

fn push_labels(out: &mut String, l: &tsdb::Labels) {
    out.push('{');
    for (i, x) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_fmt::push_str(out, &x.name);
        out.push(':');
        json_fmt::push_str(out, &x.value);
    }
    out.push('}');
}

/// The Prometheus JSON body of a successful query.
/// Points from which a matrix is written on several threads.
const PARALLEL_RENDER_POINTS: usize = 20_000;

/// Appends the series of a matrix, comma-separated.
fn push_matrix(s: &mut String, m: &[promql::Series]) {
    for (i, x) in m.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"metric\":");
        push_labels(s, &x.labels);
        s.push_str(",\"values\":[");
        for (j, (t, v)) in x.points.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            s.push('[');
            push_time(s, *t);
            s.push(',');
            push_value(s, *v);
            s.push(']');
        }
        s.push_str("]}");
    }
}

pub fn render(o: &QueryOutput) -> String {
    let mut s = String::with_capacity(256);
    s.push_str("{\"status\":\"success\",\"data\":{");
    match &o.value {
        Value::Scalar { t, v } => {
            s.push_str("\"resultType\":\"scalar\",\"result\":[");
            push_time(&mut s, *t);
            s.push(',');
            push_value(&mut s, *v);
            s.push(']');
        }
        Value::String { t, s: text } => {
            s.push_str("\"resultType\":\"string\",\"result\":[");
            push_time(&mut s, *t);
            s.push(',');
            s.push_str(&serde_json::to_string(text).unwrap_or_default());
            s.push(']');
        }
        Value::Vector(v) => {
            s.push_str("\"resultType\":\"vector\",\"result\":[");
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str("{\"metric\":");
                push_labels(&mut s, &x.labels);
                s.push_str(",\"value\":[");
                push_time(&mut s, x.t);
                s.push(',');
                push_value(&mut s, x.v);
                s.push_str("]}");
            }
            s.push(']');
        }
        Value::Matrix(m) => {
            s.push_str("\"resultType\":\"matrix\",\"result\":[");
            let points: usize = m.iter().map(|x| x.points.len()).sum();
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
            if points < PARALLEL_RENDER_POINTS || threads < 2 || m.len() < 2 {
                push_matrix(&mut s, m);
            } else {
                // Large matrices are written in parts on several threads and joined.
                let parts: Vec<String> = std::thread::scope(|sc| {
                    let handles: Vec<_> = m
                        .chunks(m.len().div_ceil(threads))
                        .map(|part| {
                            sc.spawn(move || {
                                let mut p = String::with_capacity(part.len() * 64);
                                push_matrix(&mut p, part);
                                p
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("BUG: JSON writer panicked"))
                        .collect()
                });
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(p);
                }
            }
            s.push(']');
        }
    }
    s.push('}');
    if !o.warnings.is_empty() {
        s.push_str(",\"warnings\":");
        s.push_str(&serde_json::to_string(&o.warnings).unwrap_or_default());
    }
    if !o.infos.is_empty() {
        s.push_str(",\"infos\":");
        s.push_str(&serde_json::to_string(&o.infos).unwrap_or_default());
    }
    s.push('}');
    s
}

/// Runs `f` on the blocking pool under the concurrent-query limit.
async fn run_query(
    st: &ApiState,
    f: impl FnOnce(&promql::Engine, &tsdb::Db) -> Result<QueryOutput, QueryError> + Send + 'static,
) -> Result<Response, ApiError> {
    let _permit = st
        .query_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let db = st.db.clone();
    let engine = st.engine.clone();
    let out = tokio::task::spawn_blocking(move || f(&engine, &db))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(map_err)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], render(&out)).into_response())
}

fn engine_with_timeout(e: &promql::Engine, t: Duration) -> promql::Engine {
    let mut o = e.options().clone();
    o.timeout = t;
    promql::Engine::new(o)
}

/// `GET|POST /api/v1/query`.
pub(crate) async fn query(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    st.metrics.request("query");
    let p = Params::parse(q.as_deref(), &body);
    let query = query_param(&p)?;
    let t = time_param(&p, "time", Some(now_ms()))?;
    let timeout = timeout_param(&p, st.engine.options().timeout)?;
    let expr = promql::parse(&query).map_err(|e| map_err(e.into()))?;
    run_query(&st, move |engine, db| {
        engine_with_timeout(engine, timeout).instant_expr(db, &expr, t)
    })
    .await
}

/// `GET|POST /api/v1/query_range`.
pub(crate) async fn query_range(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    st.metrics.request("query_range");
    let p = Params::parse(q.as_deref(), &body);
    let query = query_param(&p)?;
    let start = time_param(&p, "start", None)?;
    let end = time_param(&p, "end", None)?;
    if end < start {
        return Err(ApiError::BadData(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        ));
    }
    let step = match p.get("step") {
        Some(s) if !s.is_empty() => duration_param(s).ok_or_else(|| {
            ApiError::BadData(format!(
                "invalid parameter \"step\": cannot parse {s:?} to a valid duration"
            ))
        })?,
        _ => {
            return Err(ApiError::BadData(
                "invalid parameter \"step\": cannot parse \"\" to a valid duration".into(),
            ))
        }
    };
    if step <= 0 {
        return Err(ApiError::BadData(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    if (end - start) / step > MAX_POINTS {
        return Err(ApiError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    let timeout = timeout_param(&p, st.engine.options().timeout)?;
    let expr = promql::parse(&query).map_err(|e| map_err(e.into()))?;
    let t = expr.value_type();
    if !matches!(
        t,
        promql::ast::ValueType::Scalar | promql::ast::ValueType::Vector
    ) {
        return Err(ApiError::BadData(format!(
            "invalid parameter \"query\": invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
            t.name()
        )));
    }
    run_query(&st, move |engine, db| {
        engine_with_timeout(engine, timeout).range_expr(db, &expr, start, end, step)
    })
    .await
}

/// `GET|POST /api/v1/format_query`.
pub(crate) async fn format_query(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    st.metrics.request("format_query");
    let p = Params::parse(q.as_deref(), &body);
    let query = query_param(&p)?;
    let expr = promql::parse(&query).map_err(|e| map_err(e.into()))?;
    Ok(
        axum::Json(serde_json::json!({"status": "success", "data": expr.to_string()}))
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::{push_matrix, render, PARALLEL_RENDER_POINTS};
    use crate::promql::{QueryOutput, Series, Value};
    use tsdb::Labels;

    /// A matrix large enough to be written on several threads reads as one written serially.
    #[test]
    fn parallel_matrix_equals_serial() {
        for series in [2usize, 3, 7, 101] {
            let per = PARALLEL_RENDER_POINTS / series + 1;
            let m: Vec<Series> = (0..series)
                .map(|i| Series {
                    labels: Labels::from_pairs(&[("i", &i.to_string())]),
                    points: (0..per)
                        .map(|j| (j as i64 * 15_000 + 1, (i * j) as f64 / 7.0))
                        .collect(),
                })
                .collect();
            let mut want = String::from(
                "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[",
            );
            push_matrix(&mut want, &m);
            want.push_str("]}}");
            let got = render(&QueryOutput {
                value: Value::Matrix(m),
                warnings: vec![],
                infos: vec![],
            });
            assert_eq!(got, want, "{series} series");
            serde_json::from_str::<serde_json::Value>(&got).expect("valid JSON");
        }
    }
}
