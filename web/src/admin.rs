//! The TSDB admin endpoints of Prometheus' API, answered as Prometheus does while disabled.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

fn unavailable(msg: &'static str) -> Response {
    let body =
        format!("{{\"status\":\"error\",\"errorType\":\"unavailable\",\"error\":\"{msg}\"}}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `/api/v1/admin/tsdb/{snapshot,delete_series,clean_tombstones}`: `unavailable` with
/// "admin APIs disabled" unless `enabled`; when enabled the routes are the API's own and
/// this router is empty.
pub fn admin_router(enabled: bool) -> Router {
    if enabled {
        return Router::new();
    }
    let h = || async { unavailable("admin APIs disabled") };
    Router::new()
        .route("/api/v1/admin/tsdb/snapshot", post(h).put(h))
        .route("/api/v1/admin/tsdb/delete_series", post(h).put(h))
        .route("/api/v1/admin/tsdb/clean_tombstones", post(h).put(h))
}
