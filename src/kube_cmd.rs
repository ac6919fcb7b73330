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
use kube_collector::{volume, Flags, KubeState, Options, PodNames};

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
    /// Comma-separated resources to watch (kube-state-metrics' plural names; default: all).
    #[arg(long = "resources", default_value = "")]
    pub resources: String,
    /// Kubernetes labels per resource as label_* of kube_<resource>_labels, e.g.
    /// `pods=[app,team],namespaces=[*]` (default: no labels metrics).
    #[arg(long = "metric-labels-allowlist", default_value = "")]
    pub labels_allowlist: String,
    /// Kubernetes annotations per resource as annotation_* of kube_<resource>_annotations.
    #[arg(long = "metric-annotations-allowlist", default_value = "")]
    pub annotations_allowlist: String,
    /// Comma-separated regular expressions: expose only matching metric names.
    #[arg(long = "metric-allowlist", default_value = "")]
    pub metric_allowlist: String,
    /// Comma-separated regular expressions: hide matching metric names.
    #[arg(long = "metric-denylist", default_value = "")]
    pub metric_denylist: String,
    /// Comma-separated namespaces whose objects are watched (default: all).
    #[arg(long = "namespaces", default_value = "")]
    pub namespaces: String,
    /// Comma-separated namespaces whose objects are not watched.
    #[arg(long = "namespaces-denylist", default_value = "")]
    pub namespaces_denylist: String,
}

/// The kube-state-metrics selection [`Flags`] of an args struct with fields of the same
/// names (the standalone's and the store's `kube.`-prefixed flags).
macro_rules! selection_flags {
    ($a:expr) => {
        Flags {
            resources: $a.resources.clone(),
            labels_allowlist: $a.labels_allowlist.clone(),
            annotations_allowlist: $a.annotations_allowlist.clone(),
            metric_allowlist: $a.metric_allowlist.clone(),
            metric_denylist: $a.metric_denylist.clone(),
            namespaces: $a.namespaces.clone(),
            namespaces_denylist: $a.namespaces_denylist.clone(),
        }
    };
}

impl KubeStateArgs {
    /// The collector options these flags select.
    fn options(&self) -> Result<Options> {
        Ok(Options::from_flags(&selection_flags!(self))?)
    }
}

/// The store's kube-state collector flags (the standalone's, prefixed `kube.`).
#[derive(Args, Debug, Clone, Default)]
pub struct StoreKubeArgs {
    /// Interval of the built-in kube-state collector writing into this store (0s: off).
    #[arg(long = "kube.scrape-interval", default_value = "0s")]
    pub interval: String,
    /// Kubeconfig of the kube-state collector (default: in-cluster, then ~/.kube/config).
    #[arg(long = "kubeconfig")]
    pub kubeconfig: Option<PathBuf>,
    /// Write kube_* only while holding a coordination.k8s.io/v1 Lease (several replicas).
    #[arg(long = "kube.leader-elect")]
    pub leader_elect: bool,
    /// Namespace of the leader-election Lease.
    #[arg(long = "kube.leader-elect.namespace", default_value = "monitoring")]
    pub lease_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(
        long = "kube.leader-elect.lease-name",
        default_value = "vitals-store-kube-state"
    )]
    pub lease_name: String,
    /// How long a Lease holds without renewal.
    #[arg(long = "kube.leader-elect.lease-duration", default_value = "15s")]
    pub lease_duration: String,
    /// Comma-separated resources to watch (default: all).
    #[arg(long = "kube.resources", default_value = "")]
    pub resources: String,
    /// As kube-state-metrics' --metric-labels-allowlist.
    #[arg(long = "kube.metric-labels-allowlist", default_value = "")]
    pub labels_allowlist: String,
    /// As kube-state-metrics' --metric-annotations-allowlist.
    #[arg(long = "kube.metric-annotations-allowlist", default_value = "")]
    pub annotations_allowlist: String,
    /// As kube-state-metrics' --metric-allowlist.
    #[arg(long = "kube.metric-allowlist", default_value = "")]
    pub metric_allowlist: String,
    /// As kube-state-metrics' --metric-denylist.
    #[arg(long = "kube.metric-denylist", default_value = "")]
    pub metric_denylist: String,
    /// As kube-state-metrics' --namespaces.
    #[arg(long = "kube.namespaces", default_value = "")]
    pub namespaces: String,
    /// As kube-state-metrics' --namespaces-denylist.
    #[arg(long = "kube.namespaces-denylist", default_value = "")]
    pub namespaces_denylist: String,
}

impl StoreKubeArgs {
    /// The collector options these flags select.
    pub fn options(&self) -> Result<Options> {
        Ok(Options::from_flags(&selection_flags!(self))?)
    }

    /// `(flag, value)` pairs for /api/v1/status/flags.
    pub fn status_flags(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kube.scrape-interval", self.interval.clone()),
            (
                "kubeconfig",
                self.kubeconfig
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("kube.leader-elect", self.leader_elect.to_string()),
            ("kube.leader-elect.namespace", self.lease_namespace.clone()),
            ("kube.leader-elect.lease-name", self.lease_name.clone()),
            (
                "kube.leader-elect.lease-duration",
                self.lease_duration.clone(),
            ),
            ("kube.resources", self.resources.clone()),
            (
                "kube.metric-labels-allowlist",
                self.labels_allowlist.clone(),
            ),
            (
                "kube.metric-annotations-allowlist",
                self.annotations_allowlist.clone(),
            ),
            ("kube.metric-allowlist", self.metric_allowlist.clone()),
            ("kube.metric-denylist", self.metric_denylist.clone()),
            ("kube.namespaces", self.namespaces.clone()),
            ("kube.namespaces-denylist", self.namespaces_denylist.clone()),
        ]
    }
}

/// Starts competing for the Lease `namespace/name` (held `duration` per renewal) as this
/// host; the returned flag is true while this process holds it.
fn elect(
    client: kube_collector::Client,
    namespace: &str,
    name: &str,
    duration: &str,
) -> Result<Arc<AtomicBool>> {
    let ms = crate::parse_duration_ms(duration).context("lease duration")?;
    let leader = Arc::new(AtomicBool::new(false));
    // Unique per process, as client-go's `<hostname>_<uuid>`: replicas sharing a host
    // (and a restarted holder) are distinct candidates.
    let identity = format!("{}_{}", crate::node_cmd::hostname(), std::process::id());
    let lock = LeaseLock::new(
        client,
        namespace,
        name,
        &identity,
        Duration::from_millis(ms.max(1000) as u64),
    );
    tokio::spawn(lock.run(leader.clone()));
    Ok(leader)
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
fn start(client: kube_collector::Client, options: Options) -> (Arc<KubeState>, Arc<AtomicBool>) {
    let state = Arc::new(KubeState::start_with(client, options));
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

/// Watches the cluster and writes kube-state metrics into `db` every `interval` (with
/// `--kube.leader-elect`, only while this replica holds the Lease), and this node's claim
/// volume statistics as kubelet's `/metrics` (`job="kubelet"`).
pub async fn store_loop(
    db: Arc<tsdb::Db>,
    args: StoreKubeArgs,
    options: Options,
    interval: Duration,
    instance: String,
    cache: PodCache,
) {
    let client = match kube_collector::client(args.kubeconfig.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "kube-state collector disabled");
            return;
        }
    };
    let leader = if args.leader_elect {
        let lease = (&args.lease_namespace, &args.lease_name);
        match elect(client.clone(), lease.0, lease.1, &args.lease_duration) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "kube-state collector disabled");
                return;
            }
        }
    } else {
        Arc::new(AtomicBool::new(true))
    };
    let (state, synced) = start(client, options);
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
    let target = target_labels(&instance);
    let kube = async {
        // A follower writes nothing for the job, not even `up`.
        loop {
            while !leader.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let collect = collector(state.clone(), synced.clone());
            let task = tokio::spawn(local_collect::collect_loop(
                db.clone(),
                collect,
                interval,
                target.clone(),
            ));
            while leader.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            task.abort();
            tracing::info!("kube-state collection stopped: lease lost");
        }
    };
    tokio::join!(
        kube,
        local_collect::collect_loop(db.clone(), volumes, interval, kubelet)
    );
}

/// What `/metrics` serves from.
struct Served {
    state: Arc<KubeState>,
    leader: Arc<AtomicBool>,
}

/// Serves `/metrics` until interrupted.
pub fn run(args: KubeStateArgs) -> Result<()> {
    crate::parse_duration_ms(&args.lease_duration).context("--leader-elect.lease-duration")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let options = args.options()?;
    rt.block_on(async move {
        let client = kube_collector::client(args.kubeconfig.as_deref()).await?;
        let (state, _synced) = start(client.clone(), options);
        let leader = if args.leader_elect {
            elect(
                client,
                &args.lease_namespace,
                &args.lease_name,
                &args.lease_duration,
            )?
        } else {
            Arc::new(AtomicBool::new(true))
        };
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
