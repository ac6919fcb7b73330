//! kube-state-metrics in Vitals: `vitals kube-state-metrics` serving `/metrics`, and the
//! store's built-in collector (`--kube.scrape-interval`) writing with
//! `job="kube-state-metrics"`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Args;
use kube_collector::lease::LeaseLock;
use kube_collector::{volume, KubeState, PodNames};

use crate::local_collect::{self, Collection};

/// Flags of `vitals kube-state-metrics` (kube-state-metrics' names where one exists).
#[derive(Args, Debug, Clone)]
pub struct KubeStateArgs {
    /// Address on which to expose metrics.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Absolute path to the kubeconfig file (default: in-cluster, then ~/.kube/config).
    #[arg(long = "kubeconfig")]
    pub kubeconfig: Option<PathBuf>,
    /// Serve kube_* metrics only while holding a coordination.k8s.io/v1 Lease.
    #[arg(long = "leader-elect")]
    pub leader_elect: bool,
    /// Namespace of the leader-election Lease.
    #[arg(long = "leader-elect.namespace", default_value = "monitoring")]
    pub lease_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(
        long = "leader-elect.lease-name",
        default_value = "vitals-kube-state-metrics"
    )]
    pub lease_name: String,
    /// How long a Lease holds without renewal.
    #[arg(long = "leader-elect.lease-duration", default_value = "15s")]
    pub lease_duration: String,
}

/// The store's kube-state caches once started, shared with the cgroup collector for pod
/// and container names.
pub type PodCache = Arc<RwLock<Option<Arc<KubeState>>>>;

/// Pod names from `cache`, if the kube-state collector runs.
pub fn pod_names(cache: &PodCache) -> Option<PodNames> {
    let guard = cache.read().unwrap_or_else(|p| p.into_inner());
    guard.as_ref().map(|s| s.pod_names())
}

/// The target labels of kube-state metrics stored by the store.
pub fn target_labels(instance: &str) -> Vec<(String, String)> {
    vec![
        ("instance".to_string(), instance.to_string()),
        ("job".to_string(), "kube-state-metrics".to_string()),
    ]
}

/// Starts the watches and a task that flags the first complete list of every resource.
fn start(client: kube_collector::Client) -> (Arc<KubeState>, Arc<AtomicBool>) {
    let state = Arc::new(KubeState::start(client));
    let synced = Arc::new(AtomicBool::new(false));
    let (s, f) = (state.clone(), synced.clone());
    tokio::spawn(async move {
        s.wait_synced().await;
        f.store(true, Ordering::SeqCst);
        tracing::info!("kubernetes caches synced");
    });
    (state, synced)
}

/// A collection function rendering the caches (an error until every resource listed once).
fn collector(
    state: Arc<KubeState>,
    synced: Arc<AtomicBool>,
) -> impl FnMut(&[(String, String)]) -> Result<Collection, String> + Send + 'static {
    move |target| {
        if !synced.load(Ordering::SeqCst) {
            return Err("kubernetes caches not synced yet".into());
        }
        let mut set = expo::MetricSet::new();
        state.render(&mut set);
        Ok(local_collect::set_to_series(&set, target))
    }
}

/// The kubelet's root directory, where pods' volumes are mounted.
const KUBELET_ROOT: &str = "/var/lib/kubelet";

/// A collection function measuring the claims mounted by pods on `node`
/// (`kubelet_volume_stats_*`).
fn volume_collector(
    state: Arc<KubeState>,
    node: String,
) -> impl FnMut(&[(String, String)]) -> Result<Collection, String> + Send + 'static {
    move |target| {
        let mounts = volume::claim_mounts(&state.objects(), &node, Path::new(KUBELET_ROOT));
        let mut set = expo::MetricSet::new();
        volume::render_volume_stats(&mounts, volume::statfs, &mut set);
        Ok(local_collect::set_to_series(&set, target))
    }
}

/// Watches the cluster and writes kube-state metrics into `db` every `interval`, and this
/// node's claim volume statistics as kubelet's `/metrics` (`job="kubelet"`).
pub async fn store_loop(
    db: Arc<tsdb::Db>,
    interval: Duration,
    kubeconfig: Option<PathBuf>,
    instance: String,
    cache: PodCache,
) {
    let client = match kube_collector::client(kubeconfig.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "kube-state collector disabled");
            return;
        }
    };
    let (state, synced) = start(client);
    *cache.write().unwrap_or_else(|p| p.into_inner()) = Some(state.clone());
    let kubelet: Vec<(String, String)> = [
        ("instance", instance.as_str()),
        ("job", "kubelet"),
        ("metrics_path", "/metrics"),
        ("node", instance.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let volumes = volume_collector(state.clone(), instance.clone());
    let kube = collector(state, synced);
    tokio::join!(
        local_collect::collect_loop(db.clone(), kube, interval, target_labels(&instance)),
        local_collect::collect_loop(db, volumes, interval, kubelet),
    );
}

/// What `/metrics` serves from.
struct Served {
    state: Arc<KubeState>,
    leader: Arc<AtomicBool>,
}

/// Serves `/metrics` until interrupted.
pub fn run(args: KubeStateArgs) -> Result<()> {
    let lease_ms =
        crate::parse_duration_ms(&args.lease_duration).context("--leader-elect.lease-duration")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client = kube_collector::client(args.kubeconfig.as_deref()).await?;
        let (state, _synced) = start(client.clone());
        let leader = Arc::new(AtomicBool::new(!args.leader_elect));
        if args.leader_elect {
            let identity = crate::node_cmd::hostname();
            let lock = LeaseLock::new(
                client,
                &args.lease_namespace,
                &args.lease_name,
                &identity,
                Duration::from_millis(lease_ms.max(1000) as u64),
            );
            tokio::spawn(lock.run(leader.clone()));
        }
        let app = axum::Router::new()
            .route("/metrics", get(metrics))
            .with_state(Arc::new(Served { state, leader }));
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        tracing::info!(address = %args.listen, "kube-state-metrics listening");
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}

/// `/metrics`: every kube_* family while leader, nothing otherwise.
async fn metrics(State(s): State<Arc<Served>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = expo::Format::negotiate(accept);
    let mut body = String::new();
    if s.leader.load(Ordering::SeqCst) {
        let mut set = expo::MetricSet::new();
        s.state.render(&mut set);
        expo::render(&set, format, &mut body);
    } else {
        expo::render(&expo::MetricSet::new(), format, &mut body);
    }
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    resp
}
