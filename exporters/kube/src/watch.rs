//! Reflectors that keep a cache of every watched resource, kube-state-metrics' own
//! `kube_state_metrics_*` counters, and pod names for the cgroup collector.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use expo::{MetricSet, MetricType};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use crate::{s, Objects, Options};

/// List and watch outcomes per resource: `(resource, "list"|"watch", result) → count`.
#[derive(Default)]
struct Counters(Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>);

impl Counters {
    fn bump(&self, resource: &'static str, what: &'static str, result: &'static str) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((resource, what, result)).or_default() += 1;
    }

    /// Counts one watcher item: a completed initial list is a successful list followed by
    /// a started watch; a failed initial list or watch counts as an error of its kind.
    fn record<K>(&self, resource: &'static str, item: &Result<watcher::Event<K>, watcher::Error>) {
        match item {
            Ok(watcher::Event::InitDone) => {
                self.bump(resource, "list", "success");
                self.bump(resource, "watch", "success");
            }
            Ok(_) => {}
            Err(watcher::Error::InitialListFailed(_)) => self.bump(resource, "list", "error"),
            Err(_) => self.bump(resource, "watch", "error"),
        }
    }
}

/// The reflector caches of every resource; dropping it stops the watches.
pub struct KubeState {
    pods: Option<Stores<Pod>>,
    nodes: Option<Stores<k8s_openapi::api::core::v1::Node>>,
    deployments: Option<Stores<k8s_openapi::api::apps::v1::Deployment>>,
    daemonsets: Option<Stores<k8s_openapi::api::apps::v1::DaemonSet>>,
    statefulsets: Option<Stores<k8s_openapi::api::apps::v1::StatefulSet>>,
    replicasets: Option<Stores<k8s_openapi::api::apps::v1::ReplicaSet>>,
    jobs: Option<Stores<k8s_openapi::api::batch::v1::Job>>,
    cronjobs: Option<Stores<k8s_openapi::api::batch::v1::CronJob>>,
    namespaces: Option<Stores<k8s_openapi::api::core::v1::Namespace>>,
    pvcs: Option<Stores<k8s_openapi::api::core::v1::PersistentVolumeClaim>>,
    pvs: Option<Stores<k8s_openapi::api::core::v1::PersistentVolume>>,
    services: Option<Stores<k8s_openapi::api::core::v1::Service>>,
    hpas: Option<Stores<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>>,
    pdbs: Option<Stores<k8s_openapi::api::policy::v1::PodDisruptionBudget>>,
    quotas: Option<Stores<k8s_openapi::api::core::v1::ResourceQuota>>,
    options: Options,
    counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
}

/// The caches of one resource: one per watched namespace, or one for all.
type Stores<K> = Vec<Store<K>>;

/// Waits for the first complete list of every cache of `stores`, if its resource is
/// watched (a dropped writer, i.e. an ended task, also ends the wait).
async fn ready<K: Resource<DynamicType = ()> + Clone>(stores: &Option<Stores<K>>) {
    for s in stores.iter().flatten() {
        let _ = s.wait_until_ready().await;
    }
}

/// The cached objects of `stores` (none when its resource is not watched).
fn state<K: Resource<DynamicType = ()> + Clone>(stores: &Option<Stores<K>>) -> Vec<Arc<K>> {
    stores.iter().flatten().flat_map(Store::state).collect()
}

/// Starts reflectors of a namespaced resource `K` when `opts` enables `plural`: one per
/// namespace of `--namespaces`, else one for all namespaces but those of
/// `--namespaces-denylist`.
fn reflect<K>(
    client: &Client,
    opts: &Options,
    plural: &'static str,
    resource: &'static str,
    counters: &Arc<Counters>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Option<Stores<K>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    if !opts.enabled(plural) {
        return None;
    }
    if !opts.namespaces.is_empty() {
        let apis = opts
            .namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns));
        return Some(
            apis.map(|api| spawn(api, opts, plural, resource, None, counters, tasks))
                .collect(),
        );
    }
    let fields = (!opts.namespaces_denylist.is_empty()).then(|| {
        opts.namespaces_denylist
            .iter()
            .map(|ns| format!("metadata.namespace!={ns}"))
            .collect::<Vec<_>>()
            .join(",")
    });
    let api = Api::all(client.clone());
    Some(vec![spawn(
        api, opts, plural, resource, fields, counters, tasks,
    )])
}

/// Starts the reflector of a cluster-scoped resource `K` when `opts` enables `plural`.
fn reflect_cluster<K>(
    client: &Client,
    opts: &Options,
    plural: &'static str,
    resource: &'static str,
    counters: &Arc<Counters>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Option<Stores<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    if !opts.enabled(plural) {
        return None;
    }
    let api = Api::all(client.clone());
    Some(vec![spawn(
        api, opts, plural, resource, None, counters, tasks,
    )])
}

/// Starts one reflector over `api` (with the field selector `fields`) on the current tokio
/// runtime; returns its cache.
fn spawn<K>(
    api: Api<K>,
    opts: &Options,
    plural: &'static str,
    resource: &'static str,
    fields: Option<String>,
    counters: &Arc<Counters>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let annotations = opts.annotations.get(plural).cloned();
    let (reader, writer) = reflector::store();
    let mut config = watcher::Config::default();
    if let Some(f) = &fields {
        config = config.fields(f);
    }
    // Managed fields and annotations (last-applied configurations) other than allowlisted
    // ones are never reported: dropping them before caching saves most of a large
    // object's memory.
    let objects = watcher(api, config).modify(move |o: &mut K| {
        o.managed_fields_mut().clear();
        o.annotations_mut()
            .retain(|k, _| crate::meta::keep_key(annotations.as_ref(), k));
    });
    let stream = reflector::reflector(writer, objects).default_backoff();
    let counters = counters.clone();
    tasks.push(tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if let Err(e) = &item {
                tracing::warn!(resource, error = %e, "kubernetes watch failed");
            }
            counters.record(resource, &item);
        }
    }));
    reader
}

impl KubeState {
    /// Starts watching every resource through `client` (call inside a tokio runtime).
    pub fn start(client: Client) -> KubeState {
        KubeState::start_with(client, Options::default())
    }

    /// Starts watching the resources `options` enables; [`KubeState::render`] applies its
    /// allowlists and metric filter.
    pub fn start_with(client: Client, options: Options) -> KubeState {
        let counters = Arc::new(Counters::default());
        let mut t = Vec::new();
        let (c, o) = (&client, &options);
        KubeState {
            pods: reflect(c, o, "pods", "*v1.Pod", &counters, &mut t),
            nodes: reflect_cluster(c, o, "nodes", "*v1.Node", &counters, &mut t),
            deployments: reflect(c, o, "deployments", "*v1.Deployment", &counters, &mut t),
            daemonsets: reflect(c, o, "daemonsets", "*v1.DaemonSet", &counters, &mut t),
            statefulsets: reflect(c, o, "statefulsets", "*v1.StatefulSet", &counters, &mut t),
            replicasets: reflect(c, o, "replicasets", "*v1.ReplicaSet", &counters, &mut t),
            jobs: reflect(c, o, "jobs", "*v1.Job", &counters, &mut t),
            cronjobs: reflect(c, o, "cronjobs", "*v1.CronJob", &counters, &mut t),
            namespaces: reflect_cluster(c, o, "namespaces", "*v1.Namespace", &counters, &mut t),
            pvcs: reflect(
                c,
                o,
                "persistentvolumeclaims",
                "*v1.PersistentVolumeClaim",
                &counters,
                &mut t,
            ),
            pvs: reflect_cluster(
                c,
                o,
                "persistentvolumes",
                "*v1.PersistentVolume",
                &counters,
                &mut t,
            ),
            services: reflect(c, o, "services", "*v1.Service", &counters, &mut t),
            hpas: reflect(
                c,
                o,
                "horizontalpodautoscalers",
                "*v2.HorizontalPodAutoscaler",
                &counters,
                &mut t,
            ),
            pdbs: reflect(
                c,
                o,
                "poddisruptionbudgets",
                "*v1.PodDisruptionBudget",
                &counters,
                &mut t,
            ),
            quotas: reflect(
                c,
                o,
                "resourcequotas",
                "*v1.ResourceQuota",
                &counters,
                &mut t,
            ),
            counters,
            tasks: t,
            options,
        }
    }

    /// Waits until every resource has completed its first list.
    pub async fn wait_synced(&self) {
        ready(&self.pods).await;
        ready(&self.nodes).await;
        ready(&self.deployments).await;
        ready(&self.daemonsets).await;
        ready(&self.statefulsets).await;
        ready(&self.replicasets).await;
        ready(&self.jobs).await;
        ready(&self.cronjobs).await;
        ready(&self.namespaces).await;
        ready(&self.pvcs).await;
        ready(&self.pvs).await;
        ready(&self.services).await;
        ready(&self.hpas).await;
        ready(&self.pdbs).await;
        ready(&self.quotas).await;
    }

    /// The cached objects now.
    pub fn objects(&self) -> Objects {
        Objects {
            pods: state(&self.pods),
            nodes: state(&self.nodes),
            deployments: state(&self.deployments),
            daemonsets: state(&self.daemonsets),
            statefulsets: state(&self.statefulsets),
            replicasets: state(&self.replicasets),
            jobs: state(&self.jobs),
            cronjobs: state(&self.cronjobs),
            namespaces: state(&self.namespaces),
            pvcs: state(&self.pvcs),
            pvs: state(&self.pvs),
            services: state(&self.services),
            hpas: state(&self.hpas),
            pdbs: state(&self.pdbs),
            quotas: state(&self.quotas),
        }
    }

    /// Renders every `kube_*` family of the cached objects and the watch counters into
    /// `set`, sorted.
    pub fn render(&self, set: &mut MetricSet) {
        crate::render_with(&self.objects(), &self.options, set);
        self.render_self(set);
        set.sort();
    }

    /// `kube_state_metrics_{list,watch}_total{resource,result}` and the (single) shard.
    fn render_self(&self, set: &mut MetricSet) {
        let m = self.counters.0.lock().unwrap_or_else(|p| p.into_inner());
        for ((resource, what, result), n) in m.iter() {
            let (name, help) = if *what == "list" {
                (
                    "kube_state_metrics_list_total",
                    "Number of total resource list in kube-state-metrics",
                )
            } else {
                (
                    "kube_state_metrics_watch_total",
                    "Number of total resource watches in kube-state-metrics",
                )
            };
            set.family(name, help, MetricType::Counter)
                .add(&[("resource", resource), ("result", result)], *n as f64);
        }
        set.family(
            "kube_state_metrics_shard_ordinal",
            "Current sharding ordinal/index of this instance",
            MetricType::Gauge,
        )
        .add(&[("shard_ordinal", "0")], 0.0);
        set.family(
            "kube_state_metrics_total_shards",
            "Number of total shards this instance is aware of",
            MetricType::Gauge,
        )
        .add(&[], 1.0);
    }

    /// Pod and container names by pod UID, for the cgroup collector.
    pub fn pod_names(&self) -> PodNames {
        PodNames::new(&state(&self.pods))
    }
}

impl Drop for KubeState {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

/// Pods by UID: names containers for `cgroup_collector` as kubelet labels them.
#[derive(Default)]
pub struct PodNames(HashMap<String, Arc<Pod>>);

impl PodNames {
    /// Indexes `pods` by UID.
    pub fn new(pods: &[Arc<Pod>]) -> PodNames {
        PodNames(
            pods.iter()
                .filter_map(|p| Some((p.metadata.uid.clone()?, p.clone())))
                .collect(),
        )
    }
}

impl cgroup_collector::PodResolver for PodNames {
    fn resolve(
        &self,
        pod_uid: &str,
        container_id: &str,
    ) -> Option<cgroup_collector::ContainerMeta> {
        let pod = self.0.get(pod_uid)?;
        let mut meta = cgroup_collector::ContainerMeta {
            namespace: s(&pod.metadata.namespace).to_string(),
            pod: s(&pod.metadata.name).to_string(),
            container: String::new(),
            image: String::new(),
            name: String::new(),
        };
        if container_id.is_empty() {
            return Some(meta);
        }
        let st = pod.status.as_ref()?;
        let cs = [&st.container_statuses, &st.init_container_statuses]
            .into_iter()
            .flatten()
            .flatten()
            .find(|cs| {
                let id = s(&cs.container_id);
                id.rsplit_once("://").map_or(id, |(_, id)| id) == container_id
            })?;
        meta.container = cs.name.clone();
        meta.image = cs.image.clone();
        meta.name = container_id.to_string();
        Some(meta)
    }
}
