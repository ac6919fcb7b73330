//! The Prometheus HTTP API over the TSDB: remote-write in, series/labels/remote-read out,
//! self-metrics and health endpoints. PromQL endpoints arrive with the PromQL engine.

mod admin;
mod api;
mod error;
mod json_fmt;
mod metrics;
pub mod promql;
mod query_api;
mod read;
pub mod selector;
mod status;
mod write;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use error::ApiError;
pub use metrics::{HttpMetrics, MetricsHook};
pub use status::{format_duration, rfc3339};
pub use write::{release_idle_write_buffers, write_body, WriteScratch, Written};

/// Limits of the API.
#[derive(Clone, Debug)]
pub struct ApiOptions {
    /// Largest accepted (compressed) request body; larger bodies get 413.
    pub max_request_bytes: usize,
    /// Largest decompressed remote-write/read body; larger ones get 413.
    pub max_decompressed_bytes: usize,
    /// Most series in one remote-write request (400 above); 0 = unlimited.
    pub max_series_per_request: usize,
    /// Most samples one remote-read request may return (413 above).
    pub read_sample_limit: usize,
    /// PromQL engine limits (timeout, max samples, lookback).
    pub engine: promql::EngineOptions,
    /// Most queries evaluated at once; more wait for a slot.
    pub max_concurrent_queries: usize,
    /// Command-line flags (name without `--`, value) shown by `/api/v1/status/flags`.
    pub flags: Vec<(String, String)>,
    /// Process start, shown by `/api/v1/status/runtimeinfo`.
    pub start_time: std::time::SystemTime,
    /// Serve the TSDB admin API: snapshot, delete_series, clean_tombstones (`--web.enable-admin-api`).
    pub enable_admin: bool,
    /// More self-metrics appended to `/metrics` (rule evaluation, notifier).
    pub extra_metrics: Vec<MetricsHook>,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            max_request_bytes: 32 << 20,
            max_decompressed_bytes: 256 << 20,
            max_series_per_request: 100_000,
            read_sample_limit: 50_000_000,
            engine: promql::EngineOptions::default(),
            max_concurrent_queries: 20,
            flags: Vec::new(),
            start_time: std::time::SystemTime::now(),
            enable_admin: false,
            extra_metrics: Vec::new(),
        }
    }
}

/// State shared by all handlers.
#[derive(Clone)]
pub struct ApiState {
    /// The database.
    pub db: Arc<tsdb::Db>,
    /// Limits.
    pub opts: Arc<ApiOptions>,
    /// HTTP self-metrics.
    pub metrics: Arc<HttpMetrics>,
    /// The PromQL engine.
    pub engine: Arc<promql::Engine>,
    /// Slots of the concurrent-query limit.
    pub query_slots: Arc<tokio::sync::Semaphore>,
}

/// Builds the router with every route of the API.
pub fn router(db: Arc<tsdb::Db>, opts: ApiOptions) -> Router {
    let limit = opts.max_request_bytes;
    let state = ApiState {
        db,
        engine: Arc::new(promql::Engine::new(opts.engine.clone())),
        query_slots: Arc::new(tokio::sync::Semaphore::new(
            opts.max_concurrent_queries.max(1),
        )),
        opts: Arc::new(opts),
        metrics: Arc::new(HttpMetrics::default()),
    };
    let admin = state.opts.enable_admin;
    let router = Router::new()
        .route("/api/v1/write", post(write::remote_write))
        .route("/api/v1/read", post(read::remote_read))
        .route("/api/v1/series", get(api::series).post(api::series))
        .route("/api/v1/labels", get(api::labels).post(api::labels))
        .route("/api/v1/label/{name}/values", get(api::label_values))
        .route(
            "/api/v1/query",
            get(query_api::query).post(query_api::query),
        )
        .route(
            "/api/v1/query_range",
            get(query_api::query_range).post(query_api::query_range),
        )
        .route(
            "/api/v1/format_query",
            get(query_api::format_query).post(query_api::format_query),
        )
        .route(
            "/api/v1/metadata",
            get(status::metadata).post(status::metadata),
        )
        .route(
            "/api/v1/query_exemplars",
            get(status::query_exemplars).post(status::query_exemplars),
        )
        .route("/api/v1/targets", get(status::targets))
        .route("/api/v1/targets/metadata", get(status::targets_metadata))
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/api/v1/status/runtimeinfo", get(status::runtimeinfo))
        .route("/api/v1/status/flags", get(status::flags))
        .route("/api/v1/status/config", get(status::config))
        .route("/api/v1/status/tsdb", get(status::tsdb_status))
        .route("/metrics", get(metrics::metrics))
        .route("/-/healthy", get(|| async { "Healthy.\n" }))
        .route("/-/ready", get(|| async { "Ready.\n" }));
    let router = if admin {
        router
            .route(
                "/api/v1/admin/tsdb/snapshot",
                post(admin::snapshot).put(admin::snapshot),
            )
            .route(
                "/api/v1/admin/tsdb/delete_series",
                post(admin::delete_series).put(admin::delete_series),
            )
            .route(
                "/api/v1/admin/tsdb/clean_tombstones",
                post(admin::clean_tombstones).put(admin::clean_tombstones),
            )
    } else {
        router
    };
    router.layer(DefaultBodyLimit::max(limit)).with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
