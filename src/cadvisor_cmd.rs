//! cAdvisor's `container_*` metrics of this machine: `vitals cadvisor` serves them on
//! `/metrics` (and kubelet's `/metrics/cadvisor`); the store and the agent collect them as
//! kube-prometheus scrapes kubelet's endpoint.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cgroup_collector::{CgroupCollector, NoNames, Options};

use crate::kube_cmd::PodCache;
use crate::local_collect::{self, Collection};

/// The target labels of container metrics: `job="kubelet"`,
/// `metrics_path="/metrics/cadvisor"`, `instance` and `node` = this machine.
pub fn target_labels(node: &str) -> Vec<(String, String)> {
    [
        ("instance", node),
        ("job", "kubelet"),
        ("metrics_path", "/metrics/cadvisor"),
        ("node", node),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A collection function reading every cgroup under `opts` on each call; containers are
/// named from `pods` once the kube-state collector has filled it.
pub fn collector(
    opts: Options,
    pods: PodCache,
) -> impl FnMut(&[(String, String)]) -> Result<Collection, String> + Send + 'static {
    let mut c = CgroupCollector::new(opts);
    let mut set = expo::MetricSet::new();
    move |target| {
        set.clear();
        let containers = match crate::kube_cmd::pod_names(&pods) {
            Some(names) => c.collect(&names),
            None => c.collect(&NoNames),
        }
        .map_err(|e| e.to_string())?;
        let now = local_collect::now_ms() as f64 / 1000.0;
        cgroup_collector::render(&mut c, &containers, now, &mut set);
        Ok(local_collect::set_to_series(&set, target))
    }
}

/// Collects every `interval` into `db` until the task is dropped.
pub async fn store_loop(db: Arc<tsdb::Db>, interval: Duration, node: String, pods: PodCache) {
    local_collect::collect_loop(
        db,
        collector(Options::default(), pods),
        interval,
        target_labels(&node),
    )
    .await
}

/// Collects the cgroups under `opts` every `interval` into `sink` (without pod names) until
/// the task is dropped.
pub async fn collect_into<S: local_collect::Sink + ?Sized>(
    sink: Arc<S>,
    opts: Options,
    interval: Duration,
    node: String,
) {
    let c = collector(opts, PodCache::default());
    local_collect::collect_loop(sink, c, interval, target_labels(&node)).await
}

/// Flags of `vitals cadvisor` (node_exporter's path flag names, as `vitals node-exporter`).
#[derive(clap::Args, Debug, Clone)]
pub struct CadvisorArgs {
    /// Address on which to expose metrics.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the host's filesystems are mounted: procfs (network namespaces, thread states,
    /// mounts), sysfs (cgroups under `fs/cgroup`), rootfs (the root cgroup's filesystems).
    #[command(flatten)]
    pub paths: crate::node_cmd::HostPaths,
    /// Leave out `container_tasks_state` (it reads one procfs file per thread).
    #[arg(long = "no-collector.tasks-state")]
    pub no_tasks_state: bool,
}

impl CadvisorArgs {
    /// The collector options these flags describe.
    pub fn options(&self) -> Options {
        Options {
            task_states: !self.no_tasks_state,
            ..self.paths.cgroup_options()
        }
    }
}

/// Serves `/metrics` and `/metrics/cadvisor` until interrupted. Containers carry only `id`
/// here: names come from the kube collector's pod cache, which this command does not run.
pub fn run(args: CadvisorArgs) -> Result<()> {
    let state = Arc::new(Mutex::new(CgroupCollector::new(args.options())));
    let app = axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/metrics/cadvisor", get(metrics))
        .route("/", get(index))
        .with_state(state);
    crate::node_cmd::serve(args.listen, app, "cadvisor")
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<html><head><title>Vitals cAdvisor</title></head><body><a href=\"/metrics\">Metrics</a></body></html>\n",
    )
}

async fn metrics(State(state): State<Arc<Mutex<CgroupCollector>>>, headers: HeaderMap) -> Response {
    crate::node_cmd::exposition(&headers, move |format, body| {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        let mut set = expo::MetricSet::new();
        match c.collect(&NoNames) {
            Ok(containers) => {
                let now = local_collect::now_ms() as f64 / 1000.0;
                cgroup_collector::render(&mut c, &containers, now, &mut set);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cgroup collection failed");
                set.family(
                    "container_scrape_error",
                    "1 if there was an error while getting container metrics, 0 otherwise",
                    expo::MetricType::Gauge,
                )
                .add(&[], 1.0);
            }
        }
        expo::render(&set, format, body);
    })
    .await
}
