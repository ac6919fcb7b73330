//! kube-state-metrics' `kube_*` metrics from watched Kubernetes objects: reflectors keep a
//! cache of each resource ([`watch`]), and rendering the cache is a pure function
//! ([`render`]) of the cached objects into an [`expo::MetricSet`].

use std::collections::HashMap;
use std::sync::Arc;

use expo::{Family, MetricSet, MetricType};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ResourceQuota, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};

mod cluster;
pub mod cron;
mod cronjob;
pub mod lease;
pub mod meta;
mod node;
pub mod options;
mod pod;
mod pod_init;
pub mod quantity;
pub mod volume;
pub mod watch;
mod workload;

pub use jiff;
pub use kube::Client;
pub use options::{Flags, Options};
pub use watch::{KubeState, PodNames};

/// Errors of the Kubernetes client, watchers and leader election.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No kubeconfig or in-cluster configuration could be loaded.
    #[error("kubernetes configuration: {0}")]
    Config(String),
    /// A request to the API server failed.
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
    /// A resource name that kube-state-metrics does not know.
    #[error("resource {0} does not exist")]
    UnknownResource(String),
    /// A labels or annotations allowlist that is not `resource=[key,…],…`.
    #[error("invalid allowlist {0:?}: want resource=[key,...],...")]
    AllowListFormat(String),
    /// An allowlist key with more than one `*`.
    #[error("invalid allowlist {0:?}: at most one '*' per key")]
    AllowListWildcards(String),
    /// Both `--metric-allowlist` and `--metric-denylist` given.
    #[error("metric allowlist and denylist are mutually exclusive")]
    AllowAndDeny,
    /// A metric allow- or denylist entry that is not a regular expression.
    #[error("metric allow/denylist: {0}")]
    MetricRegex(String),
    /// `--namespaces-denylist` removes every namespace `--namespaces` names.
    #[error("--namespaces-denylist leaves none of --namespaces to watch")]
    NoNamespaces,
}

/// A client from the kubeconfig at `kubeconfig`, else the in-cluster service account,
/// else `$KUBECONFIG` / `~/.kube/config`.
pub async fn client(kubeconfig: Option<&std::path::Path>) -> Result<Client, Error> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| Error::Config(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| Error::Config(e.to_string()))?,
    };
    Ok(Client::try_from(config)?)
}

/// The cached objects of every watched resource.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    /// Pods.
    pub pods: Vec<Arc<Pod>>,
    /// Nodes.
    pub nodes: Vec<Arc<Node>>,
    /// Deployments.
    pub deployments: Vec<Arc<Deployment>>,
    /// DaemonSets.
    pub daemonsets: Vec<Arc<DaemonSet>>,
    /// StatefulSets.
    pub statefulsets: Vec<Arc<StatefulSet>>,
    /// ReplicaSets.
    pub replicasets: Vec<Arc<ReplicaSet>>,
    /// Jobs.
    pub jobs: Vec<Arc<Job>>,
    /// CronJobs.
    pub cronjobs: Vec<Arc<CronJob>>,
    /// Namespaces.
    pub namespaces: Vec<Arc<Namespace>>,
    /// PersistentVolumeClaims.
    pub pvcs: Vec<Arc<PersistentVolumeClaim>>,
    /// PersistentVolumes.
    pub pvs: Vec<Arc<PersistentVolume>>,
    /// Services.
    pub services: Vec<Arc<Service>>,
    /// HorizontalPodAutoscalers (autoscaling/v2).
    pub hpas: Vec<Arc<HorizontalPodAutoscaler>>,
    /// PodDisruptionBudgets (policy/v1).
    pub pdbs: Vec<Arc<PodDisruptionBudget>>,
    /// ResourceQuotas.
    pub quotas: Vec<Arc<ResourceQuota>>,
}

/// Renders every resource's `kube_*` families into `set` (unsorted; call `set.sort()`)
/// with the default [`Options`].
pub fn render(objs: &Objects, set: &mut MetricSet) {
    render_with(objs, &Options::default(), set);
}

/// Renders the `kube_*` families of the resources `opts` enables, with its labels and
/// annotations allowlists, keeping only the families its metric filter admits.
pub fn render_with(objs: &Objects, opts: &Options, set: &mut MetricSet) {
    let mut out = Out::new(set, opts);
    let o = &mut out;
    let on = |r: &str| opts.enabled(r);
    macro_rules! each {
        ($field:ident, $resource:literal, $f:path) => {
            if on($resource) {
                objs.$field.iter().for_each(|x| $f(x, o));
            }
        };
    }
    each!(pods, "pods", pod::render);
    each!(nodes, "nodes", node::render);
    each!(deployments, "deployments", workload::deployment);
    each!(daemonsets, "daemonsets", workload::daemonset);
    each!(statefulsets, "statefulsets", workload::statefulset);
    each!(replicasets, "replicasets", workload::replicaset);
    each!(jobs, "jobs", workload::job);
    each!(cronjobs, "cronjobs", cronjob::render);
    each!(hpas, "horizontalpodautoscalers", workload::hpa);
    each!(pdbs, "poddisruptionbudgets", workload::pdb);
    each!(namespaces, "namespaces", cluster::namespace);
    each!(pvcs, "persistentvolumeclaims", cluster::pvc);
    each!(pvs, "persistentvolumes", cluster::pv);
    each!(services, "services", cluster::service);
    each!(quotas, "resourcequotas", cluster::resourcequota);
}

/// Where resources render: the output set, the options, and a throw-away set for the
/// families the metric filter drops (decided once per family name).
pub(crate) struct Out<'a> {
    set: &'a mut MetricSet,
    pub(crate) options: &'a Options,
    kept: HashMap<&'static str, bool>,
    dropped: MetricSet,
}

impl<'a> Out<'a> {
    fn new(set: &'a mut MetricSet, options: &'a Options) -> Out<'a> {
        Out {
            set,
            options,
            kept: HashMap::new(),
            dropped: MetricSet::new(),
        }
    }
}

/// The family `name` as kube-state-metrics registers it: STABLE metrics' HELP carries the
/// `[STABLE] ` prefix, experimental ones none.
pub(crate) fn fam<'a>(out: &'a mut Out<'_>, m: &Metric) -> &'a mut Family {
    let filter = &out.options.metrics;
    let keep = filter.is_empty()
        || *out
            .kept
            .entry(m.name)
            .or_insert_with(|| filter.includes(m.name));
    let set = if keep {
        &mut *out.set
    } else {
        &mut out.dropped
    };
    if m.stable {
        let help = format!("[STABLE] {}", m.help);
        set.family(m.name, &help, m.kind)
    } else {
        set.family(m.name, m.help, m.kind)
    }
}

/// One metric's registration: name, HELP (without stability prefix), type, stability.
pub(crate) struct Metric {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricType,
    pub stable: bool,
}

/// A stable gauge.
pub(crate) const fn gauge(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        help,
        kind: MetricType::Gauge,
        stable: true,
    }
}

/// An experimental gauge.
pub(crate) const fn gauge_exp(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        help,
        kind: MetricType::Gauge,
        stable: false,
    }
}

/// `"true"`/`"false"`.
pub(crate) fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// `1.0` when `b`.
pub(crate) fn one_if(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Seconds since the epoch of a Kubernetes time.
pub(crate) fn secs(t: &Time) -> f64 {
    t.0.as_second() as f64
}

/// Adds kube-state-metrics' three condition series (`true`, `false`, `unknown`, one of
/// them 1) with the condition label `label` and extra labels `base`.
pub(crate) fn add_condition(f: &mut Family, base: &[(&str, &str)], label: &str, status: &str) {
    let status = status.to_ascii_lowercase();
    for s in ["true", "false", "unknown"] {
        let mut l = base.to_vec();
        l.push((label, s));
        f.add(&l, one_if(status == s));
    }
}

/// Adds one `*_owner` series per owner reference (`<none>` for all three owner labels when
/// there is none), as kube-state-metrics does.
pub(crate) fn add_owners(
    f: &mut Family,
    base: &[(&str, &str)],
    owners: Option<&Vec<OwnerReference>>,
) {
    let owners = owners.map(Vec::as_slice).unwrap_or_default();
    if owners.is_empty() {
        let mut l = base.to_vec();
        l.extend([
            ("owner_kind", "<none>"),
            ("owner_name", "<none>"),
            ("owner_is_controller", "<none>"),
        ]);
        f.add(&l, 1.0);
    }
    for o in owners {
        let mut l = base.to_vec();
        l.extend([
            ("owner_kind", o.kind.as_str()),
            ("owner_name", o.name.as_str()),
            (
                "owner_is_controller",
                bool_str(o.controller.unwrap_or(false)),
            ),
        ]);
        f.add(&l, 1.0);
    }
}

/// A label value from an optional string (empty when absent).
pub(crate) fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}
