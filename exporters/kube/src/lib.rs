//! kube-state-metrics' `kube_*` metrics from watched Kubernetes objects: reflectors keep a
//! cache of each resource ([`watch`]), and rendering the cache is a pure function
//! ([`render`]) of the cached objects into an [`expo::MetricSet`].

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
pub mod lease;
mod node;
mod pod;
pub mod quantity;
pub mod volume;
pub mod watch;
mod workload;

pub use kube::Client;
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

/// Renders every resource's `kube_*` families into `set` (unsorted; call `set.sort()`).
pub fn render(objs: &Objects, set: &mut MetricSet) {
    objs.pods.iter().for_each(|p| pod::render(p, set));
    objs.nodes.iter().for_each(|n| node::render(n, set));
    objs.deployments
        .iter()
        .for_each(|d| workload::deployment(d, set));
    objs.daemonsets
        .iter()
        .for_each(|d| workload::daemonset(d, set));
    objs.statefulsets
        .iter()
        .for_each(|s| workload::statefulset(s, set));
    objs.replicasets
        .iter()
        .for_each(|r| workload::replicaset(r, set));
    objs.jobs.iter().for_each(|j| workload::job(j, set));
    objs.cronjobs.iter().for_each(|c| workload::cronjob(c, set));
    objs.hpas.iter().for_each(|h| workload::hpa(h, set));
    objs.pdbs.iter().for_each(|p| workload::pdb(p, set));
    objs.namespaces
        .iter()
        .for_each(|n| cluster::namespace(n, set));
    objs.pvcs.iter().for_each(|p| cluster::pvc(p, set));
    objs.pvs.iter().for_each(|p| cluster::pv(p, set));
    objs.services.iter().for_each(|s| cluster::service(s, set));
    objs.quotas
        .iter()
        .for_each(|q| cluster::resourcequota(q, set));
}

/// The family `name` as kube-state-metrics registers it: STABLE metrics' HELP carries the
/// `[STABLE] ` prefix, experimental ones none.
pub(crate) fn fam<'a>(set: &'a mut MetricSet, m: &Metric) -> &'a mut Family {
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
