//! Init container metrics: `kube_pod_init_container_*`.

use expo::MetricType;
use k8s_openapi::api::core::v1::Pod;

use crate::{fam, gauge, gauge_exp, one_if, s, Metric, Out};

const INFO: Metric = gauge(
    "kube_pod_init_container_info",
    "Information about an init container in a pod.",
);
const READY: Metric = gauge(
    "kube_pod_init_container_status_ready",
    "Describes whether the init containers readiness check succeeded.",
);
const RESTARTS: Metric = Metric {
    name: "kube_pod_init_container_status_restarts_total",
    help: "The number of restarts for the init container.",
    kind: MetricType::Counter,
    stable: true,
};
const RUNNING: Metric = gauge(
    "kube_pod_init_container_status_running",
    "Describes whether the init container is currently in running state.",
);
const TERMINATED: Metric = gauge(
    "kube_pod_init_container_status_terminated",
    "Describes whether the init container is currently in terminated state.",
);
const TERMINATED_REASON: Metric = gauge_exp(
    "kube_pod_init_container_status_terminated_reason",
    "Describes the reason the init container is currently in terminated state.",
);
const WAITING: Metric = gauge(
    "kube_pod_init_container_status_waiting",
    "Describes whether the init container is currently in waiting state.",
);
const WAITING_REASON: Metric = gauge_exp(
    "kube_pod_init_container_status_waiting_reason",
    "Describes the reason the init container is currently in waiting state.",
);
const REQUESTS: Metric = gauge_exp(
    "kube_pod_init_container_resource_requests",
    "The number of requested request resource by an init container.",
);
const LIMITS: Metric = gauge_exp(
    "kube_pod_init_container_resource_limits",
    "The number of requested limit resource by an init container.",
);

/// Renders the init containers of `pod` with identifying labels `base` (namespace, pod,
/// uid) on `node`, as kube-state-metrics: info per spec'd container that has a status,
/// state series per status, reasons only in that state (even when empty).
pub(crate) fn render(pod: &Pod, base: &[(&str, &str)], node: &str, set: &mut Out) {
    let inits = pod
        .spec
        .as_ref()
        .and_then(|sp| sp.init_containers.as_deref())
        .unwrap_or_default();
    let statuses = pod
        .status
        .as_ref()
        .and_then(|st| st.init_container_statuses.as_deref())
        .unwrap_or_default();
    for c in inits {
        for cs in statuses.iter().filter(|cs| cs.name == c.name) {
            let mut l = base.to_vec();
            l.extend([
                ("container", cs.name.as_str()),
                ("image_spec", s(&c.image)),
                ("image", cs.image.as_str()),
                ("image_id", cs.image_id.as_str()),
                ("container_id", s(&cs.container_id)),
                ("restart_policy", s(&c.restart_policy)),
            ]);
            fam(set, &INFO).add(&l, 1.0);
        }
    }
    for cs in statuses {
        let mut l = base.to_vec();
        l.push(("container", cs.name.as_str()));
        let state = cs.state.as_ref();
        let waiting = state.and_then(|st| st.waiting.as_ref());
        let terminated = state.and_then(|st| st.terminated.as_ref());
        fam(set, &READY).add(&l, one_if(cs.ready));
        fam(set, &RESTARTS).add(&l, cs.restart_count as f64);
        fam(set, &RUNNING).add(&l, one_if(state.is_some_and(|st| st.running.is_some())));
        fam(set, &TERMINATED).add(&l, one_if(terminated.is_some()));
        fam(set, &WAITING).add(&l, one_if(waiting.is_some()));
        for (metric, reason) in [
            (&WAITING_REASON, waiting.map(|w| s(&w.reason))),
            (&TERMINATED_REASON, terminated.map(|t| s(&t.reason))),
        ] {
            if let Some(reason) = reason {
                let mut l = l.clone();
                l.push(("reason", reason));
                fam(set, metric).add(&l, 1.0);
            }
        }
    }
    crate::pod::resources(set, base, node, inits, [&REQUESTS, &LIMITS]);
}
