//! GPU metrics (dcgm-exporter's `DCGM_FI_*` names) through NVML: `vitals dcgm-exporter`
//! serving `/metrics`, and the store's built-in collector (`--gpu.scrape-interval`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Args;
use gpu_collector::podresources::{self, PodSource};
use gpu_collector::{GpuCollector, Options};

use crate::local_collect::{self, Collection};

/// Flags of `vitals dcgm-exporter` (dcgm-exporter's address flag).
#[derive(Args, Debug, Clone)]
pub struct DcgmExporterArgs {
    /// Address on which to expose metrics.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:9400")]
    pub listen: SocketAddr,
    /// The NVML library to load (default: the driver's libnvidia-ml.so.1).
    #[arg(long = "nvml.library")]
    pub nvml_library: Option<PathBuf>,
    /// kubelet's pod-resources socket: `pod`, `namespace`, `container` labels while it exists.
    #[arg(long = "pod-resources-kubelet-socket", default_value = podresources::DEFAULT_SOCKET)]
    pub pod_resources_socket: PathBuf,
}

/// The `Hostname` label: `$NODE_NAME` when set (as dcgm-exporter), else the host name.
pub fn hostname() -> String {
    std::env::var("NODE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(crate::node_cmd::hostname)
}

fn options(lib: Option<PathBuf>) -> Options {
    Options {
        lib_path: lib,
        hostname: hostname(),
    }
}

/// Serves `/metrics` until interrupted; fails when NVML cannot be loaded.
pub fn run(args: DcgmExporterArgs) -> Result<()> {
    let collector = GpuCollector::open(&options(args.nvml_library.clone()))
        .context("starting the GPU collector")?;
    let state = Arc::new(Mutex::new((
        collector,
        PodSource::new(args.pod_resources_socket),
    )));
    let app = axum::Router::new()
        .route("/metrics", get(metrics))
        .with_state(state);
    crate::node_cmd::serve(args.listen, app, "dcgm exporter")
}

/// Text 0.0.4, as dcgm-exporter serves it.
async fn metrics(State(state): State<Arc<Mutex<(GpuCollector, PodSource)>>>) -> Response {
    let res = tokio::task::spawn_blocking(move || {
        let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
        let (c, pods) = &mut *guard;
        let mut set = expo::MetricSet::new();
        c.collect(&pods.pods(), &mut set)?;
        let mut body = String::with_capacity(16 * 1024);
        expo::render(&set, expo::Format::Text, &mut body);
        Ok::<_, gpu_collector::Error>(body)
    })
    .await;
    match res {
        Ok(Ok(body)) => (
            [(header::CONTENT_TYPE, expo::Format::Text.content_type())],
            body,
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The target labels of GPU metrics in the store: `job="dcgm-exporter"`, `instance` = this
/// machine.
pub fn target_labels(instance: &str) -> Vec<(String, String)> {
    vec![
        ("instance".to_string(), instance.to_string()),
        ("job".to_string(), "dcgm-exporter".to_string()),
    ]
}

/// Collects every `interval` into `db` (with pod labels while kubelet's pod-resources socket
/// exists) until the task is dropped; returns at once, after one log line, when NVML cannot
/// be loaded.
pub async fn store_loop<S: crate::local_collect::Sink + ?Sized>(
    db: Arc<S>,
    interval: Duration,
    lib: Option<PathBuf>,
) {
    let opts = options(lib);
    let Some(mut c) = GpuCollector::open_or_log(&opts) else {
        return;
    };
    tracing::info!(driver = c.driver_version(), "GPU collector on");
    let mut set = expo::MetricSet::new();
    let mut pods = PodSource::new(podresources::DEFAULT_SOCKET);
    let collect = move |target: &[(String, String)]| -> Result<Collection, String> {
        set.clear();
        c.collect(&pods.pods(), &mut set)
            .map_err(|e| e.to_string())?;
        Ok(local_collect::set_to_series(&set, target))
    };
    let target = target_labels(&crate::node_cmd::hostname());
    local_collect::collect_loop(db, collect, interval, target).await
}
