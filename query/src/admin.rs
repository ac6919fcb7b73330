//! `POST /api/v1/admin/tsdb/snapshot` (with `--web.enable-admin-api`).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::json;

use crate::api::{success, Params};
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
