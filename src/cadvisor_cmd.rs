//! The cgroup collector in the store: cAdvisor's `container_*` metrics of this machine,
//! stored as kubelet's `/metrics/cadvisor` endpoint would be scraped by kube-prometheus.

use std::sync::Arc;
use std::time::Duration;

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
