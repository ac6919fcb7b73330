//! `vitals node-exporter`: node_exporter-compatible `/metrics` over HTTP.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Args;
use node_collector::{Config, NodeCollector};

/// node_exporter's `--path.*` flags: where the host's procfs, sysfs and `/` are mounted
/// (`/host/proc`, … in a DaemonSet). Shared by the exporter subcommands.
#[derive(Args, Debug, Clone)]
pub struct HostPaths {
    /// procfs mountpoint.
    #[arg(long = "path.procfs", default_value = "/proc")]
    pub procfs: PathBuf,
    /// sysfs mountpoint.
    #[arg(long = "path.sysfs", default_value = "/sys")]
    pub sysfs: PathBuf,
    /// rootfs mountpoint.
    #[arg(long = "path.rootfs", default_value = "/")]
    pub rootfs: PathBuf,
}

impl HostPaths {
    /// Options of the cgroup collector for the host mounted at these paths (cgroups under
    /// `<sysfs>/fs/cgroup`).
    pub fn cgroup_options(&self) -> cgroup_collector::Options {
        cgroup_collector::Options {
            cgroup_root: self.sysfs.join("fs/cgroup"),
            sysfs: self.sysfs.clone(),
            procfs: self.procfs.clone(),
            rootfs: self.rootfs.clone(),
            ..Default::default()
        }
    }
}

/// Flags of `vitals node-exporter` (node_exporter's names).
#[derive(Args, Debug, Clone)]
pub struct NodeExporterArgs {
    /// Address on which to expose metrics.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,
    /// Where the host's filesystems are mounted.
    #[command(flatten)]
    pub paths: HostPaths,
    /// udev data path.
    #[arg(long = "path.udev.data", default_value = "/run/udev/data")]
    pub udev_data: PathBuf,
    /// Directory to read text files with metrics from.
    #[arg(long = "collector.textfile.directory")]
    pub textfile_dir: Option<PathBuf>,
    /// Regexp of mount points to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.mount-points-exclude")]
    pub fs_mount_points_exclude: Option<String>,
    /// Regexp of filesystem types to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.fs-types-exclude")]
    pub fs_types_exclude: Option<String>,
    /// Regexp of net devices to exclude (netdev collector; empty: none).
    #[arg(long = "collector.netdev.device-exclude")]
    pub netdev_device_exclude: Option<String>,
    /// Regexp of diskstats devices to exclude.
    #[arg(long = "collector.diskstats.device-exclude")]
    pub diskstats_device_exclude: Option<String>,
    /// Enable the interrupts collector (off by default).
    #[arg(long = "collector.interrupts")]
    pub interrupts: bool,
    /// Enable the processes collector (off by default).
    #[arg(long = "collector.processes")]
    pub processes: bool,
    /// Enable the tcpstat collector (off by default).
    #[arg(long = "collector.tcpstat")]
    pub tcpstat: bool,
}

impl NodeExporterArgs {
    /// The collector configuration these flags describe.
    pub fn config(&self) -> Config {
        let mut cfg = Config {
            procfs: self.paths.procfs.clone(),
            sysfs: self.paths.sysfs.clone(),
            rootfs: self.paths.rootfs.clone(),
            udev_data: self.udev_data.clone(),
            textfile_dir: self.textfile_dir.clone(),
            interrupts: self.interrupts,
            processes: self.processes,
            tcpstat: self.tcpstat,
            ..Config::default()
        };
        let set = |dst: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                dst.clone_from(v);
            }
        };
        set(
            &mut cfg.fs_mount_points_exclude,
            &self.fs_mount_points_exclude,
        );
        set(&mut cfg.fs_types_exclude, &self.fs_types_exclude);
        set(&mut cfg.netdev_device_exclude, &self.netdev_device_exclude);
        set(
            &mut cfg.diskstats_device_exclude,
            &self.diskstats_device_exclude,
        );
        cfg
    }
}

/// Serves `/metrics` until interrupted.
pub fn run(args: NodeExporterArgs) -> Result<()> {
    let collector = NodeCollector::new(args.config()).context("configuring collectors")?;
    let state = Arc::new(Mutex::new(collector));
    let app = axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(index))
        .with_state(state);
    serve(args.listen, app, "node exporter")
}

/// Serves `app` on `listen` (a small runtime of its own) until interrupted; `what` names
/// the exporter in the log.
pub fn serve(listen: SocketAddr, app: axum::Router, what: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        tracing::info!(address = %listen, "{what} listening");
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<html><head><title>Vitals node exporter</title></head><body><a href=\"/metrics\">Metrics</a></body></html>\n",
    )
}

async fn metrics(State(state): State<Arc<Mutex<NodeCollector>>>, headers: HeaderMap) -> Response {
    exposition(&headers, move |format, body| {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        let set = c.collect();
        expo::render(set, format, body);
        for (name, err) in c.errors() {
            tracing::debug!(collector = name, error = %err, "collector failed");
        }
    })
    .await
}

/// Answers a scrape: `render` writes the exposition on a blocking thread in the format
/// `headers` ask for (text 0.0.4 or OpenMetrics), gzipped when `Accept-Encoding` allows.
pub async fn exposition<F>(headers: &HeaderMap, render: F) -> Response
where
    F: FnOnce(expo::Format, &mut String) + Send + 'static,
{
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = expo::Format::negotiate(accept);
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let res = tokio::task::spawn_blocking(move || {
        let mut body = String::with_capacity(64 * 1024);
        render(format, &mut body);
        body
    })
    .await;
    let body = match res {
        Ok(b) => b,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let mut resp = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        match enc.write_all(body.as_bytes()).and_then(|_| enc.finish()) {
            Ok(bytes) => {
                let mut r = bytes.into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    } else {
        body.into_response()
    };
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    resp
}

/// True when an `Accept-Encoding` value allows gzip (q > 0).
fn accepts_gzip(v: &str) -> bool {
    v.split(',').any(|part| {
        let mut it = part.split(';').map(str::trim);
        let enc = it.next().unwrap_or("");
        let q = it
            .find_map(|p| p.strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        (enc.eq_ignore_ascii_case("gzip") || enc == "*") && q > 0.0
    })
}

/// The `instance` label of node metrics stored in all-in-one mode: the host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The target labels of node metrics stored in all-in-one mode.
pub fn target_labels(instance: &str) -> Vec<(String, String)> {
    vec![
        ("instance".to_string(), instance.to_string()),
        ("job".to_string(), "node-exporter".to_string()),
    ]
}

/// Collects every `interval` into `db` with `job="node-exporter"`, `instance`, stamped on
/// the tick, with `up` and `scrape_*` (see [`crate::local_collect::collect_loop`]). Runs
/// until the task is dropped.
pub async fn store_loop<S: crate::local_collect::Sink + ?Sized>(
    db: Arc<S>,
    cfg: Config,
    interval: Duration,
    instance: String,
) {
    let mut collector = match NodeCollector::new(cfg) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "node collector disabled");
            return;
        }
    };
    let collect = move |target: &[(String, String)]| {
        Ok(crate::local_collect::set_to_series(
            collector.collect(),
            target,
        ))
    };
    crate::local_collect::collect_loop(db, collect, interval, target_labels(&instance)).await
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }
}
