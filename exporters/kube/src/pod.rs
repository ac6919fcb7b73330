//! Pod metrics: `kube_pod_*` and `kube_pod_container_*`.

use expo::MetricType;
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::{
    add_condition, add_owners, bool_str, fam, gauge, gauge_exp, one_if, quantity, s, Metric, Out,
};

const INFO: Metric = gauge("kube_pod_info", "Information about pod.");
const OWNER: Metric = gauge("kube_pod_owner", "Information about the Pod's owner.");
const PHASE: Metric = gauge("kube_pod_status_phase", "The pods current phase.");
const READY: Metric = gauge(
    "kube_pod_status_ready",
    "Describes whether the pod is ready to serve requests.",
);
const SCHEDULED: Metric = gauge(
    "kube_pod_status_scheduled",
    "Describes the status of the scheduling process for the pod.",
);
const REASON: Metric = gauge_exp("kube_pod_status_reason", "The pod status reasons");
const START: Metric = gauge(
    "kube_pod_start_time",
    "Start time in unix timestamp for a pod.",
);
const CREATED: Metric = gauge("kube_pod_created", "Unix creation timestamp");
const RESTARTS: Metric = Metric {
    name: "kube_pod_container_status_restarts_total",
    help: "The number of container restarts per container.",
    kind: MetricType::Counter,
    stable: true,
};
const WAITING: Metric = gauge(
    "kube_pod_container_status_waiting",
    "Describes whether the container is currently in waiting state.",
);
const WAITING_REASON: Metric = gauge(
    "kube_pod_container_status_waiting_reason",
    "Describes the reason the container is currently in waiting state.",
);
const RUNNING: Metric = gauge(
    "kube_pod_container_status_running",
    "Describes whether the container is currently in running state.",
);
const TERMINATED: Metric = gauge(
    "kube_pod_container_status_terminated",
    "Describes whether the container is currently in terminated state.",
);
const CREADY: Metric = gauge(
    "kube_pod_container_status_ready",
    "Describes whether the containers readiness check succeeded.",
);
const CINFO: Metric = gauge(
    "kube_pod_container_info",
    "Information about a container in a pod.",
);
const REQUESTS: Metric = gauge(
    "kube_pod_container_resource_requests",
    "The number of requested request resource by a container. It is recommended to use the kube_pod_resource_requests metric exposed by kube-scheduler instead, as it is more precise.",
);
const LIMITS: Metric = gauge(
    "kube_pod_container_resource_limits",
    "The number of requested limit resource by a container. It is recommended to use the kube_pod_resource_limits metric exposed by kube-scheduler instead, as it is more precise.",
);

/// The phases kube-state-metrics reports, one series each.
const PHASES: [&str; 5] = ["Pending", "Succeeded", "Failed", "Unknown", "Running"];
/// The pod status reasons kube-state-metrics recognises; others are `Other`.
const REASONS: [&str; 5] = [
    "Evicted",
    "NodeAffinity",
    "NodeLost",
    "Shutdown",
    "UnexpectedAdmissionError",
];

/// Renders one pod.
pub(crate) fn render(pod: &Pod, set: &mut Out) {
    let m = &pod.metadata;
    let (ns, name, uid) = (s(&m.namespace), s(&m.name), s(&m.uid));
    let base = [("namespace", ns), ("pod", name), ("uid", uid)];
    crate::meta::render(set, "pods", &base, m);
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let node = spec.map(|sp| s(&sp.node_name)).unwrap_or("");

    let controller = m
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    let mut l = base.to_vec();
    l.extend([
        ("host_ip", status.map(|st| s(&st.host_ip)).unwrap_or("")),
        ("pod_ip", status.map(|st| s(&st.pod_ip)).unwrap_or("")),
        ("node", node),
        (
            "created_by_kind",
            controller.map(|o| o.kind.as_str()).unwrap_or("<none>"),
        ),
        (
            "created_by_name",
            controller.map(|o| o.name.as_str()).unwrap_or("<none>"),
        ),
        (
            "priority_class",
            spec.map(|sp| s(&sp.priority_class_name)).unwrap_or(""),
        ),
        (
            "host_network",
            bool_str(spec.and_then(|sp| sp.host_network).unwrap_or(false)),
        ),
    ]);
    fam(set, &INFO).add(&l, 1.0);
    add_owners(fam(set, &OWNER), &base, m.owner_references.as_ref());
    if let Some(t) = &m.creation_timestamp {
        fam(set, &CREATED).add(&base, crate::secs(t));
    }

    if let Some(st) = status {
        if let Some(phase) = st.phase.as_deref().filter(|p| !p.is_empty()) {
            let f = fam(set, &PHASE);
            for p in PHASES {
                let mut l = base.to_vec();
                l.push(("phase", p));
                f.add(&l, one_if(p == phase));
            }
        }
        for c in st.conditions.iter().flatten() {
            let metric = match c.type_.as_str() {
                "Ready" => &READY,
                "PodScheduled" => &SCHEDULED,
                _ => continue,
            };
            add_condition(fam(set, metric), &base, "condition", &c.status);
        }
        if let Some(reason) = st.reason.as_deref().filter(|r| !r.is_empty()) {
            let reason = REASONS
                .iter()
                .find(|r| **r == reason)
                .copied()
                .unwrap_or("Other");
            let mut l = base.to_vec();
            l.push(("reason", reason));
            fam(set, &REASON).add(&l, 1.0);
        }
        if let Some(t) = &st.start_time {
            fam(set, &START).add(&base, crate::secs(t));
        }
        for cs in st.container_statuses.iter().flatten() {
            let mut l = base.to_vec();
            l.push(("container", cs.name.as_str()));
            fam(set, &RESTARTS).add(&l, cs.restart_count as f64);
            fam(set, &CREADY).add(&l, one_if(cs.ready));
            let state = cs.state.as_ref();
            let waiting = state.and_then(|s| s.waiting.as_ref());
            fam(set, &WAITING).add(&l, one_if(waiting.is_some()));
            fam(set, &RUNNING).add(&l, one_if(state.is_some_and(|s| s.running.is_some())));
            fam(set, &TERMINATED).add(&l, one_if(state.is_some_and(|s| s.terminated.is_some())));
            if let Some(reason) = waiting
                .and_then(|w| w.reason.as_deref())
                .filter(|r| !r.is_empty())
            {
                let mut l = l.clone();
                l.push(("reason", reason));
                fam(set, &WAITING_REASON).add(&l, 1.0);
            }
            let mut l = l.clone();
            l.extend([
                ("image_spec", spec_image(pod, &cs.name)),
                ("image", cs.image.as_str()),
                ("image_id", cs.image_id.as_str()),
                ("container_id", s(&cs.container_id)),
            ]);
            fam(set, &CINFO).add(&l, 1.0);
        }
    }

    let containers = spec.map(|sp| sp.containers.as_slice()).unwrap_or_default();
    resources(set, &base, node, containers, [&REQUESTS, &LIMITS]);
    crate::pod_init::render(pod, &base, node, set);
}

/// `*_resource_requests` / `*_resource_limits` `{container,node,resource,unit}` of
/// `containers` into `metrics` (requests, limits).
pub(crate) fn resources(
    set: &mut Out,
    base: &[(&str, &str)],
    node: &str,
    containers: &[Container],
    metrics: [&Metric; 2],
) {
    for c in containers {
        let Some(res) = &c.resources else { continue };
        for (metric, list) in metrics.into_iter().zip([&res.requests, &res.limits]) {
            for (rname, q) in list.iter().flatten() {
                let Some((resource, unit, v)) = quantity::resource(rname, &q.0) else {
                    continue;
                };
                let mut l = base.to_vec();
                l.extend([
                    ("container", c.name.as_str()),
                    ("node", node),
                    ("resource", resource.as_str()),
                    ("unit", unit),
                ]);
                fam(set, metric).add(&l, v);
            }
        }
    }
}

/// The image a container's spec asks for.
fn spec_image<'a>(pod: &'a Pod, container: &str) -> &'a str {
    pod.spec
        .iter()
        .flat_map(|sp| &sp.containers)
        .find(|c| c.name == container)
        .map(|c| s(&c.image))
        .unwrap_or("")
}
