//! `POST|PUT /api/v1/admin/tsdb/{snapshot,delete_series,clean_tombstones}` (with
//! `--web.enable-admin-api`).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::{blocking, range, selectors, success, Params};
use crate::error::ApiError;
use crate::ApiState;

/// Hard-links the blocks into `<data>/snapshots/<name>`; answers `{"name": name}`. Only
/// `skip_head=true` is supported: the head (in memory and the WAL) is not snapshotted.
pub(crate) async fn snapshot(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    st.metrics.request("snapshot");
    let p = Params::parse(q.as_deref(), &body);
    if !matches!(p.get("skip_head"), Some("true" | "1")) {
        return Err(ApiError::BadData(
            "snapshots including the head are not supported: pass skip_head=true (the head's samples stay in the WAL)".into(),
        ));
    }
    let now = std::time::SystemTime::now();
    let stamp: String = crate::rfc3339(now, false)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("{stamp}-{:08x}{:08x}", nanos, std::process::id());
    let dst = st.db.dir().join("snapshots").join(&name);
    let db = st.db.clone();
    tokio::task::spawn_blocking(move || db.snapshot_blocks(&dst))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("create snapshot: {e}")))?;
    Ok(success(json!({ "name": name })))
}

/// Deletes the samples in [start, end] (default: all time) of series matching any `match[]`;
/// 204 once the deletion is durable.
pub(crate) async fn delete_series(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    st.metrics.request("delete_series");
    let p = Params::parse(q.as_deref(), &body);
    let sels = selectors(&p)?;
    if sels.is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".into()));
    }
    let (mint, maxt) = range(&p)?;
    let db = st.db.clone();
    blocking(move || {
        for m in &sels {
            db.delete_series(m, mint, maxt)?;
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Rewrites the blocks that have tombstones without the deleted samples; 204 when done.
pub(crate) async fn clean_tombstones(State(st): State<ApiState>) -> Result<Response, ApiError> {
    st.metrics.request("clean_tombstones");
    let db = st.db.clone();
    blocking(move || Ok(db.clean_tombstones()?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
