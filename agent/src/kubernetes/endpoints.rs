//! The `endpoints` and `endpointslice` roles: one target per address and port, joined with
//! the Service of the same name and the Pod each address points at, plus a target for every
//! other declared container port of those pods (as Prometheus does).

use serde_json::Value;

use super::{
    container_labels, join_host_port, key, object_meta, pod_labels, s, sanitize, service_labels,
    set, State,
};
use crate::relabel::LabelSet;
use crate::target::TargetGroup;

/// The targets of one group so far, and the pods they point at with the ports already
/// covered (first-seen order).
#[derive(Default)]
struct Targets<'a> {
    targets: Vec<LabelSet>,
    pods: Vec<(&'a Value, Vec<u64>)>,
}

impl<'a> Targets<'a> {
    /// Adds the target `ls` on `port`, with the labels of `pod` when it points at one.
    fn push(&mut self, mut ls: LabelSet, pod: Option<&'a Value>, port: Option<u64>) {
        if let Some(p) = pod {
            add_pod(&mut ls, p, port);
            self.saw(p, port);
        }
        self.targets.push(ls);
    }

    /// The group: the targets, then one per uncovered container port.
    fn group(mut self, source: String, labels: LabelSet) -> TargetGroup {
        let extra = self.uncovered();
        self.targets.extend(extra);
        TargetGroup {
            source,
            targets: self.targets,
            labels,
        }
    }

    fn saw(&mut self, pod: &'a Value, port: Option<u64>) {
        let i = match self.pods.iter().position(|(p, _)| std::ptr::eq(*p, pod)) {
            Some(i) => i,
            None => {
                self.pods.push((pod, Vec::new()));
                self.pods.len() - 1
            }
        };
        self.pods[i].1.extend(port);
    }

    /// A target for every container port of a seen pod that no address covered (pods
    /// without an IP skipped).
    fn uncovered(&self) -> Vec<LabelSet> {
        let mut out = Vec::new();
        for (p, covered) in &self.pods {
            let ip = s(&p["status"]["podIP"]);
            if ip.is_empty() {
                continue;
            }
            for c in p["spec"]["containers"].as_array().into_iter().flatten() {
                for cp in c["ports"].as_array().into_iter().flatten() {
                    let n = cp["containerPort"].as_u64().unwrap_or(0);
                    if covered.contains(&n) {
                        continue;
                    }
                    let mut ls = LabelSet::new();
                    ls.insert("__address__".into(), join_host_port(&ip, n));
                    ls.extend(pod_labels(p));
                    ls.extend(container_labels(p, c, false, Some(cp)));
                    out.push(ls);
                }
            }
        }
        out
    }
}

/// The pod `target_ref` names (namespace `ns` unless it says otherwise), when known.
fn pod_of<'a>(target_ref: &Value, ns: &str, st: &'a State) -> Option<&'a Value> {
    if target_ref["kind"] != "Pod" {
        return None;
    }
    let ns = target_ref["namespace"].as_str().unwrap_or(ns);
    st.get("pods")?
        .get(&format!("{ns}/{}", s(&target_ref["name"])))
}

/// Pod and container labels of a target on `pod` whose port is `port`.
fn add_pod(ls: &mut LabelSet, pod: &Value, port: Option<u64>) {
    ls.extend(pod_labels(pod));
    if let Some(n) = port {
        let found = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|c| {
                c["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|cp| cp["containerPort"].as_u64() == Some(n))
                    .map(|cp| (c, cp))
            });
        if let Some((c, cp)) = found {
            ls.extend(container_labels(pod, c, false, Some(cp)));
        }
    }
}

/// The group of one v1 Endpoints object.
pub(super) fn endpoints(ep: &Value, st: &State) -> TargetGroup {
    let m = &ep["metadata"];
    let ns = s(&m["namespace"]);
    let mut labels = LabelSet::new();
    set(&mut labels, "namespace", ns.clone());
    set(&mut labels, "endpoints_name", s(&m["name"]));
    object_meta(&mut labels, "endpoints", m);
    if let Some(svc) = st.get("services").and_then(|x| x.get(&key(ep))) {
        labels.extend(service_labels(svc));
    }
    let mut out = Targets::default();
    for subset in ep["subsets"].as_array().into_iter().flatten() {
        for (field, ready) in [("addresses", "true"), ("notReadyAddresses", "false")] {
            for addr in subset[field].as_array().into_iter().flatten() {
                for port in subset["ports"].as_array().into_iter().flatten() {
                    let mut ls = LabelSet::new();
                    let n = port["port"].as_u64().unwrap_or(0);
                    ls.insert("__address__".into(), join_host_port(&s(&addr["ip"]), n));
                    set(&mut ls, "endpoint_ready", ready);
                    set(&mut ls, "endpoint_port_name", s(&port["name"]));
                    set(&mut ls, "endpoint_port_protocol", s(&port["protocol"]));
                    set(&mut ls, "endpoint_hostname", s(&addr["hostname"]));
                    set(&mut ls, "endpoint_node_name", s(&addr["nodeName"]));
                    let tr = &addr["targetRef"];
                    set(&mut ls, "endpoint_address_target_kind", s(&tr["kind"]));
                    set(&mut ls, "endpoint_address_target_name", s(&tr["name"]));
                    out.push(ls, pod_of(tr, &ns, st), Some(n));
                }
            }
        }
    }
    out.group(format!("endpoints/{}", key(ep)), labels)
}

/// The group of one discovery.k8s.io/v1 EndpointSlice.
pub(super) fn endpointslice(eps: &Value, st: &State) -> TargetGroup {
    let m = &eps["metadata"];
    let ns = s(&m["namespace"]);
    let mut labels = LabelSet::new();
    set(&mut labels, "namespace", ns.clone());
    set(&mut labels, "endpointslice_name", s(&m["name"]));
    set(
        &mut labels,
        "endpointslice_address_type",
        s(&eps["addressType"]),
    );
    object_meta(&mut labels, "endpointslice", m);
    // A slice names its Service in the kubernetes.io/service-name label.
    if let Some(svc) = m["labels"]["kubernetes.io/service-name"]
        .as_str()
        .and_then(|name| st.get("services")?.get(&format!("{ns}/{name}")))
    {
        labels.extend(service_labels(svc));
    }
    let mut out = Targets::default();
    let ports = eps["ports"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for ep in eps["endpoints"].as_array().into_iter().flatten() {
        for port in ports {
            for addr in ep["addresses"].as_array().into_iter().flatten() {
                let addr = s(addr);
                let n = port["port"].as_u64();
                let mut ls = LabelSet::new();
                let address = match n {
                    Some(n) => join_host_port(&addr, n),
                    None => addr,
                };
                ls.insert("__address__".into(), address);
                for (field, label) in [
                    ("name", "endpointslice_port_name"),
                    ("protocol", "endpointslice_port_protocol"),
                    ("port", "endpointslice_port"),
                    ("appProtocol", "endpointslice_port_app_protocol"),
                ] {
                    if !port[field].is_null() {
                        set(&mut ls, label, s(&port[field]));
                    }
                }
                for cond in ["ready", "serving", "terminating"] {
                    if let Some(b) = ep["conditions"][cond].as_bool() {
                        set(
                            &mut ls,
                            &format!("endpointslice_endpoint_conditions_{cond}"),
                            b.to_string(),
                        );
                    }
                }
                for (field, label) in [
                    ("hostname", "endpointslice_endpoint_hostname"),
                    ("nodeName", "endpointslice_endpoint_node_name"),
                    ("zone", "endpointslice_endpoint_zone"),
                ] {
                    if !ep[field].is_null() {
                        set(&mut ls, label, s(&ep[field]));
                    }
                }
                let tr = &ep["targetRef"];
                if tr.is_object() {
                    set(&mut ls, "endpointslice_address_target_kind", s(&tr["kind"]));
                    set(&mut ls, "endpointslice_address_target_name", s(&tr["name"]));
                }
                if let Some(topology) = ep["deprecatedTopology"].as_object() {
                    for (k, v) in topology {
                        let k = sanitize(k);
                        set(
                            &mut ls,
                            &format!("endpointslice_endpoint_topology_{k}"),
                            s(v),
                        );
                        set(
                            &mut ls,
                            &format!("endpointslice_endpoint_topology_present_{k}"),
                            "true",
                        );
                    }
                }
                out.push(ls, pod_of(tr, &ns, st), n);
            }
        }
    }
    out.group(format!("endpointslice/{}", key(eps)), labels)
}
