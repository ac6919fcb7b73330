//! Kubernetes SD: list + watch of nodes, pods, services, endpoints and endpoint slices over the API
//! server's JSON API, turned into target groups with Prometheus' `__meta_kubernetes_*`
//! labels. In-cluster (service account token and CA) or `api_server` with credentials.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;

use crate::config::{HttpClientConfig, KubernetesSdConfig, Role};
use crate::discovery::Stop;
use crate::http::Client;
use crate::relabel::LabelSet;
use crate::target::TargetGroup;
use crate::Error;

/// Where a pod finds its service account.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The callback providers send their whole group set to.
pub type Send = Arc<dyn Fn(Vec<TargetGroup>) + std::marker::Send + Sync>;

/// Objects by kind (`pods`, …) then `namespace/name`.
type State = HashMap<&'static str, BTreeMap<String, Value>>;

/// One `kubernetes_sd_configs` entry, ready to run.
pub struct Discovery {
    role: Role,
    base: String,
    client: Client,
    namespaces: Vec<Option<String>>,
}

impl Discovery {
    /// Resolves the API server (in-cluster from the environment when `api_server` is unset).
    pub fn new(cfg: KubernetesSdConfig) -> Result<Discovery, Error> {
        let (base, http) = match &cfg.api_server {
            Some(s) => (s.trim_end_matches('/').to_string(), cfg.http.clone()),
            None => {
                let host = std::env::var("KUBERNETES_SERVICE_HOST").unwrap_or_default();
                let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_default();
                if host.is_empty() || port.is_empty() {
                    return Err(Error::Discovery(
                        "no api_server and not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)"
                            .into(),
                    ));
                }
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                let mut http = HttpClientConfig::default();
                http.tls_config.ca_file = Some(format!("{SERVICE_ACCOUNT_DIR}/ca.crt").into());
                http.bearer_token_file = Some(format!("{SERVICE_ACCOUNT_DIR}/token").into());
                (format!("https://{host}:{port}"), http)
            }
        };
        let mut namespaces: Vec<Option<String>> =
            cfg.namespaces.names.iter().cloned().map(Some).collect();
        if cfg.namespaces.own_namespace {
            let p = format!("{SERVICE_ACCOUNT_DIR}/namespace");
            let ns = std::fs::read_to_string(&p).map_err(|source| Error::Io { path: p, source })?;
            namespaces.push(Some(ns.trim().to_string()));
        }
        if namespaces.is_empty() {
            namespaces.push(None);
        }
        Ok(Discovery {
            role: cfg.role,
            base,
            client: Client::new(&http, Duration::from_secs(90))?,
            namespaces,
        })
    }

    fn kinds(&self) -> &'static [&'static str] {
        match self.role {
            Role::Node => &["nodes"],
            Role::Pod => &["pods"],
            Role::Service => &["services"],
            Role::Endpoints => &["endpoints", "pods", "services"],
            Role::Endpointslice => &["endpointslices", "pods", "services"],
        }
    }

    /// Lists and watches until stopped, sending the groups after every change.
    pub fn run(self, send: Send, stop: &Stop) {
        let state: Arc<Mutex<State>> = Arc::default();
        let me = Arc::new(self);
        for &kind in me.kinds() {
            let namespaces = if kind == "nodes" {
                vec![None]
            } else {
                me.namespaces.clone()
            };
            for ns in namespaces {
                let (me, state, send, stop) =
                    (me.clone(), state.clone(), send.clone(), stop.clone());
                let spawned = std::thread::Builder::new()
                    .name("k8s-watch".into())
                    .spawn(move || me.list_watch(kind, ns, &state, &send, &stop));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "starting a Kubernetes watch failed");
                }
            }
        }
        while stop.sleep(Duration::from_secs(3600)) {}
    }

    fn url(&self, kind: &str, ns: &Option<String>) -> String {
        let api = match kind {
            "endpointslices" => "apis/discovery.k8s.io/v1",
            _ => "api/v1",
        };
        match ns {
            Some(ns) => format!("{}/{api}/namespaces/{ns}/{kind}", self.base),
            None => format!("{}/{api}/{kind}", self.base),
        }
    }

    fn list_watch(
        &self,
        kind: &'static str,
        ns: Option<String>,
        state: &Mutex<State>,
        send: &Send,
        stop: &Stop,
    ) {
        let url = self.url(kind, &ns);
        let prefix = ns.as_ref().map(|n| format!("{n}/"));
        let publish = |st: &State| send(groups(self.role, st));
        while !stop.stopped() {
            let list = self
                .client
                .get(&url)
                .and_then(|r| r.call().map_err(|e| Error::Http(e.to_string())));
            let body: Result<Value, Error> = list.and_then(|r| {
                r.into_json()
                    .map_err(|e| Error::Discovery(format!("{url}: {e}")))
            });
            let body = match body {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(url = %url, error = %e, "Kubernetes list failed");
                    stop.sleep(Duration::from_secs(5));
                    continue;
                }
            };
            {
                let mut st = state.lock();
                let objs = st.entry(kind).or_default();
                objs.retain(|k, _| prefix.as_ref().is_some_and(|p| !k.starts_with(p.as_str())));
                for item in body["items"].as_array().into_iter().flatten() {
                    objs.insert(key(item), item.clone());
                }
                publish(&st);
            }
            let rv = body["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if let Err(e) = self.watch(&url, &rv, kind, state, &publish, stop) {
                tracing::warn!(url = %url, error = %e, "Kubernetes watch ended");
                stop.sleep(Duration::from_secs(1));
            }
        }
    }

    /// Applies watch events until the stream ends (then the caller lists again).
    fn watch(
        &self,
        url: &str,
        rv: &str,
        kind: &'static str,
        state: &Mutex<State>,
        publish: &dyn Fn(&State),
        stop: &Stop,
    ) -> Result<(), Error> {
        let url = format!(
            "{url}?watch=1&allowWatchBookmarks=true&timeoutSeconds=60&resourceVersion={rv}"
        );
        let resp = self
            .client
            .get(&url)?
            .call()
            .map_err(|e| Error::Http(e.to_string()))?;
        let reader = std::io::BufReader::new(resp.into_reader());
        for line in reader.lines() {
            if stop.stopped() {
                return Ok(());
            }
            let line = line.map_err(|e| Error::Http(e.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            let ev: Value = serde_json::from_str(&line)
                .map_err(|e| Error::Discovery(format!("watch event: {e}")))?;
            let obj = &ev["object"];
            let mut st = state.lock();
            let objs = st.entry(kind).or_default();
            match ev["type"].as_str().unwrap_or("") {
                "ADDED" | "MODIFIED" => {
                    objs.insert(key(obj), obj.clone());
                }
                "DELETED" => {
                    objs.remove(&key(obj));
                }
                "ERROR" => {
                    return Err(Error::Discovery(format!("watch error: {}", obj["message"])))
                }
                _ => continue,
            }
            publish(&st);
        }
        Ok(())
    }
}

fn key(obj: &Value) -> String {
    let m = &obj["metadata"];
    format!(
        "{}/{}",
        m["namespace"].as_str().unwrap_or(""),
        m["name"].as_str().unwrap_or("")
    )
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Replaces characters invalid in label names with `_` (Prometheus' `SanitizeLabelName`).
pub fn sanitize(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `__meta_kubernetes_<kind>_label_*`, `_labelpresent_*`, `_annotation_*`, `_annotationpresent_*`.
fn object_meta(ls: &mut LabelSet, kind: &str, meta: &Value) {
    for (what, field) in [("label", "labels"), ("annotation", "annotations")] {
        if let Some(m) = meta[field].as_object() {
            for (k, v) in m {
                let n = sanitize(k);
                ls.insert(format!("__meta_kubernetes_{kind}_{what}_{n}"), s(v));
                ls.insert(
                    format!("__meta_kubernetes_{kind}_{what}present_{n}"),
                    "true".into(),
                );
            }
        }
    }
}

fn set(ls: &mut LabelSet, name: &str, v: impl Into<String>) {
    ls.insert(format!("__meta_kubernetes_{name}"), v.into());
}

/// The groups of a role from the current objects.
fn groups(role: Role, st: &State) -> Vec<TargetGroup> {
    let objs = |k: &str| st.get(k).into_iter().flat_map(|m| m.values());
    match role {
        Role::Node => objs("nodes").map(node).collect(),
        Role::Pod => objs("pods").map(pod).collect(),
        Role::Service => objs("services").map(service).collect(),
        Role::Endpoints => objs("endpoints")
            .map(|e| endpoints::endpoints(e, st))
            .collect(),
        Role::Endpointslice => objs("endpointslices")
            .map(|e| endpoints::endpointslice(e, st))
            .collect(),
    }
}

fn node(n: &Value) -> TargetGroup {
    let name = s(&n["metadata"]["name"]);
    let mut labels = LabelSet::new();
    set(&mut labels, "node_name", name.clone());
    set(&mut labels, "node_provider_id", s(&n["spec"]["providerID"]));
    object_meta(&mut labels, "node", &n["metadata"]);
    let addrs = n["status"]["addresses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut by_type: BTreeMap<String, String> = BTreeMap::new();
    for a in &addrs {
        by_type
            .entry(s(&a["type"]))
            .or_insert_with(|| s(&a["address"]));
    }
    for (t, a) in &by_type {
        set(
            &mut labels,
            &format!("node_address_{}", sanitize(t)),
            a.clone(),
        );
    }
    let addr = [
        "InternalIP",
        "InternalDNS",
        "ExternalIP",
        "ExternalDNS",
        "LegacyHostIP",
        "Hostname",
    ]
    .iter()
    .find_map(|t| by_type.get(*t));
    let port = n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .unwrap_or(10250);
    let targets = addr
        .map(|a| {
            LabelSet::from([
                ("__address__".to_string(), join_host_port(a, port)),
                ("instance".to_string(), name.clone()),
            ])
        })
        .into_iter()
        .collect();
    TargetGroup {
        source: format!("node/{name}"),
        targets,
        labels,
    }
}

fn join_host_port(host: &str, port: u64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn pod_labels(p: &Value) -> LabelSet {
    let m = &p["metadata"];
    let mut ls = LabelSet::new();
    set(&mut ls, "namespace", s(&m["namespace"]));
    set(&mut ls, "pod_name", s(&m["name"]));
    set(&mut ls, "pod_ip", s(&p["status"]["podIP"]));
    set(&mut ls, "pod_node_name", s(&p["spec"]["nodeName"]));
    set(&mut ls, "pod_host_ip", s(&p["status"]["hostIP"]));
    set(&mut ls, "pod_uid", s(&m["uid"]));
    set(&mut ls, "pod_phase", s(&p["status"]["phase"]));
    let ready = p["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .map_or("unknown".to_string(), |c| s(&c["status"]).to_lowercase());
    set(&mut ls, "pod_ready", ready);
    if let Some(owner) = m["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["controller"] == true)
    {
        set(&mut ls, "pod_controller_kind", s(&owner["kind"]));
        set(&mut ls, "pod_controller_name", s(&owner["name"]));
    }
    object_meta(&mut ls, "pod", m);
    ls
}

/// Container-level labels of one container (and one of its ports).
fn container_labels(p: &Value, c: &Value, init: bool, port: Option<&Value>) -> LabelSet {
    let mut ls = LabelSet::new();
    let name = s(&c["name"]);
    set(&mut ls, "pod_container_name", name.clone());
    set(&mut ls, "pod_container_image", s(&c["image"]));
    set(&mut ls, "pod_container_init", init.to_string());
    let statuses = if init {
        "initContainerStatuses"
    } else {
        "containerStatuses"
    };
    if let Some(st) = p["status"][statuses]
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| s(&x["name"]) == name)
    {
        set(&mut ls, "pod_container_id", s(&st["containerID"]));
    }
    if let Some(port) = port {
        set(&mut ls, "pod_container_port_name", s(&port["name"]));
        set(
            &mut ls,
            "pod_container_port_number",
            s(&port["containerPort"]),
        );
        set(&mut ls, "pod_container_port_protocol", s(&port["protocol"]));
    }
    ls
}

fn pod(p: &Value) -> TargetGroup {
    let source = format!("pod/{}", key(p));
    let ip = s(&p["status"]["podIP"]);
    let mut targets = Vec::new();
    if !ip.is_empty() {
        for (field, init) in [("containers", false), ("initContainers", true)] {
            for c in p["spec"][field].as_array().into_iter().flatten() {
                let ports = c["ports"].as_array().cloned().unwrap_or_default();
                if ports.is_empty() {
                    let mut ls = container_labels(p, c, init, None);
                    ls.insert("__address__".into(), ip.clone());
                    targets.push(ls);
                }
                for port in &ports {
                    let mut ls = container_labels(p, c, init, Some(port));
                    let n = port["containerPort"].as_u64().unwrap_or(0);
                    ls.insert("__address__".into(), join_host_port(&ip, n));
                    targets.push(ls);
                }
            }
        }
    }
    TargetGroup {
        source,
        targets,
        labels: pod_labels(p),
    }
}

fn service_labels(svc: &Value) -> LabelSet {
    let m = &svc["metadata"];
    let mut ls = LabelSet::new();
    set(&mut ls, "namespace", s(&m["namespace"]));
    set(&mut ls, "service_name", s(&m["name"]));
    object_meta(&mut ls, "service", m);
    ls
}

fn service(svc: &Value) -> TargetGroup {
    let m = &svc["metadata"];
    let host = format!("{}.{}.svc", s(&m["name"]), s(&m["namespace"]));
    let mut targets = Vec::new();
    for port in svc["spec"]["ports"].as_array().into_iter().flatten() {
        let mut ls = LabelSet::new();
        ls.insert(
            "__address__".into(),
            join_host_port(&host, port["port"].as_u64().unwrap_or(0)),
        );
        set(&mut ls, "service_port_name", s(&port["name"]));
        set(&mut ls, "service_port_number", s(&port["port"]));
        set(&mut ls, "service_port_protocol", s(&port["protocol"]));
        set(&mut ls, "service_type", s(&svc["spec"]["type"]));
        if svc["spec"]["type"] == "ExternalName" {
            set(
                &mut ls,
                "service_external_name",
                s(&svc["spec"]["externalName"]),
            );
        } else {
            set(&mut ls, "service_cluster_ip", s(&svc["spec"]["clusterIP"]));
        }
        targets.push(ls);
    }
    TargetGroup {
        source: format!("svc/{}", key(svc)),
        targets,
        labels: service_labels(svc),
    }
}

mod endpoints;
#[cfg(test)]
mod tests;
