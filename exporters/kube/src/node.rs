//! Node metrics: `kube_node_*`.

use k8s_openapi::api::core::v1::Node;

use crate::{add_condition, fam, gauge, gauge_exp, one_if, quantity, s, Metric, Out};

const INFO: Metric = gauge("kube_node_info", "Information about a cluster node.");
const ROLE: Metric = gauge_exp("kube_node_role", "The role of a cluster node.");
const TAINT: Metric = gauge("kube_node_spec_taint", "The taint of a cluster node.");
const UNSCHEDULABLE: Metric = gauge(
    "kube_node_spec_unschedulable",
    "Whether a node can schedule new pods.",
);
const CONDITION: Metric = gauge(
    "kube_node_status_condition",
    "The condition of a cluster node.",
);
const CAPACITY: Metric = gauge(
    "kube_node_status_capacity",
    "The capacity for different resources of a node.",
);
const ALLOCATABLE: Metric = gauge(
    "kube_node_status_allocatable",
    "The allocatable for different resources of a node that are available for scheduling.",
);
const CREATED: Metric = gauge("kube_node_created", "Unix creation timestamp");

/// The label prefix of node roles.
const ROLE_PREFIX: &str = "node-role.kubernetes.io/";

/// Renders one node.
pub(crate) fn render(node: &Node, set: &mut Out) {
    let name = s(&node.metadata.name);
    let base = [("node", name)];
    crate::meta::render(set, "nodes", &base, &node.metadata);
    let status = node.status.as_ref();
    let info = status.and_then(|st| st.node_info.as_ref());
    let spec = node.spec.as_ref();
    let internal_ip = status
        .and_then(|st| st.addresses.as_ref())
        .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
        .map(|a| a.address.as_str())
        .unwrap_or("");
    let field =
        |f: fn(&k8s_openapi::api::core::v1::NodeSystemInfo) -> &str| info.map(f).unwrap_or("");
    fam(set, &INFO).add(
        &[
            ("node", name),
            ("kernel_version", field(|i| i.kernel_version.as_str())),
            ("os_image", field(|i| i.os_image.as_str())),
            (
                "container_runtime_version",
                field(|i| i.container_runtime_version.as_str()),
            ),
            ("kubelet_version", field(|i| i.kubelet_version.as_str())),
            (
                "kubeproxy_version",
                field(|i| i.kube_proxy_version.as_str()),
            ),
            (
                "provider_id",
                spec.map(|sp| s(&sp.provider_id)).unwrap_or(""),
            ),
            ("pod_cidr", spec.map(|sp| s(&sp.pod_cidr)).unwrap_or("")),
            ("system_uuid", field(|i| i.system_uuid.as_str())),
            ("internal_ip", internal_ip),
        ],
        1.0,
    );
    if let Some(t) = &node.metadata.creation_timestamp {
        fam(set, &CREATED).add(&base, crate::secs(t));
    }
    for (k, v) in node.metadata.labels.iter().flatten() {
        let role = match k.strip_prefix(ROLE_PREFIX) {
            Some(r) => r,
            None if k == "kubernetes.io/role" => v.as_str(),
            None => continue,
        };
        if !role.is_empty() {
            fam(set, &ROLE).add(&[("node", name), ("role", role)], 1.0);
        }
    }
    for t in spec.and_then(|sp| sp.taints.as_ref()).into_iter().flatten() {
        fam(set, &TAINT).add(
            &[
                ("node", name),
                ("key", t.key.as_str()),
                ("value", s(&t.value)),
                ("effect", t.effect.as_str()),
            ],
            1.0,
        );
    }
    let unschedulable = spec.and_then(|sp| sp.unschedulable).unwrap_or(false);
    fam(set, &UNSCHEDULABLE).add(&base, one_if(unschedulable));
    for c in status
        .and_then(|st| st.conditions.as_ref())
        .into_iter()
        .flatten()
    {
        let mut l = base.to_vec();
        l.push(("condition", c.type_.as_str()));
        add_condition(fam(set, &CONDITION), &l, "status", &c.status);
    }
    for (metric, list) in [
        (&CAPACITY, status.and_then(|st| st.capacity.as_ref())),
        (&ALLOCATABLE, status.and_then(|st| st.allocatable.as_ref())),
    ] {
        for (rname, q) in list.into_iter().flatten() {
            if let Some((resource, unit, v)) = quantity::resource(rname, &q.0) {
                fam(set, metric).add(
                    &[
                        ("node", name),
                        ("resource", resource.as_str()),
                        ("unit", unit),
                    ],
                    v,
                );
            }
        }
    }
}
