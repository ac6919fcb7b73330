//! Kubernetes SD against a fake API server serving list and watch JSON.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc::channel;

use serde_json::json;

use super::*;
use crate::config::{Namespaces, TlsConfig};

fn pod_json(name: &str, ip: &str, ports: Value) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
            "labels": {"app": "web", "app.kubernetes.io/name": "w"},
            "annotations": {"prometheus.io/scrape": "true"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc", "controller": true}]},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "img:1", "ports": ports}]},
        "status": {"podIP": ip, "hostIP": "192.168.0.1", "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "containerID": "containerd://abc"}]}
    })
}

/// Serves `GET path` lists and watch streams; records the Authorization headers.
fn fake_api(routes: Vec<(&'static str, Value, Vec<Value>)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", l.local_addr().unwrap());
    let auth = Arc::new(Mutex::new(Vec::new()));
    let a2 = auth.clone();
    std::thread::spawn(move || {
        let mut watched = std::collections::HashSet::new();
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut first = String::new();
            r.read_line(&mut first).unwrap();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.strip_prefix("Authorization: ") {
                    a2.lock().push(v.trim().to_string());
                }
            }
            let target = first.split(' ').nth(1).unwrap_or("").to_string();
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let Some((_, list, events)) = routes.iter().find(|r| r.0 == path) else {
                let _ = write!(
                    c,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                continue;
            };
            if !query.contains("watch=1") {
                let body = list.to_string();
                let _ = write!(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                continue;
            }
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
            );
            if watched.insert(path.to_string()) {
                for e in events {
                    let _ = writeln!(c, "{e}");
                }
            }
            // Hold the stream open like a real watch.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(30));
                drop(c);
            });
        }
    });
    (addr, auth)
}

fn list(items: Vec<Value>) -> Value {
    json!({"kind": "List", "metadata": {"resourceVersion": "7"}, "items": items})
}

fn run_role(role: Role, api: &str, want: impl Fn(&[TargetGroup]) -> bool) -> Vec<TargetGroup> {
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("token");
    std::fs::write(&tok, "s3cret\n").unwrap();
    let cfg = KubernetesSdConfig {
        role,
        api_server: Some(api.to_string()),
        namespaces: Namespaces::default(),
        http: HttpClientConfig {
            bearer_token_file: Some(tok),
            tls_config: TlsConfig::default(),
            ..Default::default()
        },
    };
    let sd = Discovery::new(cfg).unwrap();
    let (tx, rx) = channel();
    let stop = Stop::new();
    let s2 = stop.clone();
    let tx = Mutex::new(tx);
    let send: Send = Arc::new(move |g| drop(tx.lock().send(g)));
    std::thread::spawn(move || sd.run(send, &s2));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let g: Vec<TargetGroup> = rx.recv_timeout(Duration::from_secs(20)).expect("groups");
        if want(&g) {
            stop.stop();
            return g;
        }
        assert!(std::time::Instant::now() < deadline, "never reached: {g:?}");
    }
}

fn meta<'a>(ls: &'a LabelSet, g: &'a TargetGroup, name: &str) -> &'a str {
    let n = format!("__meta_kubernetes_{name}");
    ls.get(&n)
        .or_else(|| g.labels.get(&n))
        .map(String::as_str)
        .unwrap_or("")
}

#[test]
fn pods_list_then_watch() {
    let ports = json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"name": "m", "containerPort": 9090, "protocol": "TCP"}]);
    let (api, auth) = fake_api(vec![(
        "/api/v1/pods",
        list(vec![pod_json("a", "10.0.0.1", ports.clone())]),
        vec![
            json!({"type": "ADDED", "object": pod_json("b", "10.0.0.2", json!([]))}),
            json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}),
        ],
    )]);
    let g = run_role(Role::Pod, &api, |g| g.len() == 2);
    let a = g.iter().find(|x| x.source == "pod/default/a").unwrap();
    assert_eq!(a.targets.len(), 2);
    let t = &a.targets[0];
    assert_eq!(t["__address__"], "10.0.0.1:8080");
    assert_eq!(meta(t, a, "pod_container_port_name"), "http");
    assert_eq!(meta(t, a, "pod_container_port_number"), "8080");
    assert_eq!(meta(t, a, "pod_container_id"), "containerd://abc");
    assert_eq!(meta(t, a, "pod_name"), "a");
    assert_eq!(meta(t, a, "namespace"), "default");
    assert_eq!(meta(t, a, "pod_ready"), "true");
    assert_eq!(meta(t, a, "pod_controller_kind"), "ReplicaSet");
    assert_eq!(meta(t, a, "pod_label_app_kubernetes_io_name"), "w");
    assert_eq!(meta(t, a, "pod_labelpresent_app"), "true");
    assert_eq!(meta(t, a, "pod_annotation_prometheus_io_scrape"), "true");
    let b = g.iter().find(|x| x.source == "pod/default/b").unwrap();
    assert_eq!(
        b.targets[0]["__address__"], "10.0.0.2",
        "a container without ports"
    );
    assert!(auth.lock().iter().all(|a| a == "Bearer s3cret"));
    assert!(!auth.lock().is_empty());
}

#[test]
fn nodes_and_deletion() {
    let node = |name: &str, ip: &str| {
        json!({"metadata": {"name": name, "labels": {"kubernetes.io/arch": "amd64"}},
            "spec": {"providerID": "kind://x"},
            "status": {"addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}})
    };
    let (api, _) = fake_api(vec![(
        "/api/v1/nodes",
        list(vec![node("n1", "10.1.0.1"), node("n2", "10.1.0.2")]),
        vec![json!({"type": "DELETED", "object": node("n2", "10.1.0.2")})],
    )]);
    let g = run_role(Role::Node, &api, |g| g.len() == 1);
    let t = &g[0].targets[0];
    assert_eq!(t["__address__"], "10.1.0.1:10250");
    assert_eq!(t["instance"], "n1");
    assert_eq!(g[0].labels["__meta_kubernetes_node_name"], "n1");
    assert_eq!(
        g[0].labels["__meta_kubernetes_node_label_kubernetes_io_arch"],
        "amd64"
    );
    assert_eq!(
        g[0].labels["__meta_kubernetes_node_address_InternalIP"],
        "10.1.0.1"
    );
}

#[test]
fn services_and_endpoints_join_pods() {
    let svc = json!({"metadata": {"name": "web", "namespace": "default", "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.5", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}});
    let ep = json!({"metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1", "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "a"}}],
            "notReadyAddresses": [{"ip": "10.0.0.9"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]});
    let ports = json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"}]);
    let routes = vec![
        ("/api/v1/services", list(vec![svc]), vec![]),
        ("/api/v1/endpoints", list(vec![ep]), vec![]),
        (
            "/api/v1/pods",
            list(vec![pod_json("a", "10.0.0.1", ports)]),
            vec![],
        ),
    ];
    let (api, _) = fake_api(routes.clone());
    let g = run_role(Role::Service, &api, |g| !g.is_empty());
    let t = &g[0].targets[0];
    assert_eq!(t["__address__"], "web.default.svc:80");
    assert_eq!(meta(t, &g[0], "service_cluster_ip"), "10.96.0.5");
    assert_eq!(
        meta(t, &g[0], "service_annotation_prometheus_io_scrape"),
        "true"
    );
    let (api, _) = fake_api(routes);
    let g = run_role(Role::Endpoints, &api, |g| {
        g.len() == 1
            && g[0].labels.contains_key("__meta_kubernetes_service_name")
            && g[0]
                .targets
                .first()
                .is_some_and(|t| t.contains_key("__meta_kubernetes_pod_name"))
    });
    let (ready, not_ready) = (&g[0].targets[0], &g[0].targets[1]);
    assert_eq!(ready["__address__"], "10.0.0.1:8080");
    assert_eq!(meta(ready, &g[0], "endpoint_ready"), "true");
    assert_eq!(meta(ready, &g[0], "endpoint_node_name"), "n1");
    assert_eq!(meta(ready, &g[0], "pod_container_name"), "c");
    assert_eq!(
        meta(ready, &g[0], "service_annotation_prometheus_io_scrape"),
        "true"
    );
    assert_eq!(meta(not_ready, &g[0], "endpoint_ready"), "false");
}

#[test]
fn endpointslices_join_services_and_pods_and_add_uncovered_ports() {
    let svc = json!({"metadata": {"name": "web", "namespace": "default", "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.5", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}});
    let slice = json!({"metadata": {"name": "web-x7k2p", "namespace": "default",
            "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": true, "serving": true, "terminating": false},
             "nodeName": "n1", "zone": "z1", "targetRef": {"kind": "Pod", "name": "a", "namespace": "default"}},
            {"addresses": ["10.0.0.9"], "conditions": {"ready": false}, "hostname": "h9"}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]});
    // The pod also declares a metrics port no slice port covers.
    let ports = json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]);
    let routes = vec![
        ("/api/v1/services", list(vec![svc]), vec![]),
        (
            "/apis/discovery.k8s.io/v1/endpointslices",
            list(vec![slice]),
            vec![],
        ),
        (
            "/api/v1/pods",
            list(vec![pod_json("a", "10.0.0.1", ports)]),
            vec![],
        ),
    ];
    let (api, _) = fake_api(routes);
    let g = run_role(Role::Endpointslice, &api, |g| {
        g.len() == 1
            && g[0].labels.contains_key("__meta_kubernetes_service_name")
            && g[0].targets.len() == 3
    });
    let g = &g[0];
    assert_eq!(g.source, "endpointslice/default/web-x7k2p");
    assert_eq!(meta(&g.labels, g, "endpointslice_name"), "web-x7k2p");
    assert_eq!(meta(&g.labels, g, "endpointslice_address_type"), "IPv4");
    assert_eq!(
        meta(
            &g.labels,
            g,
            "endpointslice_label_kubernetes_io_service_name"
        ),
        "web"
    );
    assert_eq!(
        meta(&g.labels, g, "service_annotation_prometheus_io_scrape"),
        "true"
    );
    let (ready, not_ready, extra) = (&g.targets[0], &g.targets[1], &g.targets[2]);
    assert_eq!(ready["__address__"], "10.0.0.1:8080");
    for (name, want) in [
        ("endpointslice_port", "8080"),
        ("endpointslice_port_name", "http"),
        ("endpointslice_port_protocol", "TCP"),
        ("endpointslice_port_app_protocol", "http"),
        ("endpointslice_endpoint_conditions_ready", "true"),
        ("endpointslice_endpoint_conditions_serving", "true"),
        ("endpointslice_endpoint_conditions_terminating", "false"),
        ("endpointslice_endpoint_node_name", "n1"),
        ("endpointslice_endpoint_zone", "z1"),
        ("endpointslice_address_target_kind", "Pod"),
        ("endpointslice_address_target_name", "a"),
        ("pod_name", "a"),
        ("pod_container_name", "c"),
        ("pod_container_port_name", "http"),
    ] {
        assert_eq!(meta(ready, g, name), want, "{name}");
    }
    assert_eq!(not_ready["__address__"], "10.0.0.9:8080");
    assert_eq!(
        meta(not_ready, g, "endpointslice_endpoint_conditions_ready"),
        "false"
    );
    assert_eq!(meta(not_ready, g, "endpointslice_endpoint_hostname"), "h9");
    // Conditions a slice leaves out get no label; no pod, no pod labels.
    assert!(!not_ready.contains_key("__meta_kubernetes_endpointslice_endpoint_conditions_serving"));
    assert!(!not_ready.contains_key("__meta_kubernetes_pod_name"));
    // The uncovered container port: pod and container labels, no endpoint labels.
    assert_eq!(extra["__address__"], "10.0.0.1:9100");
    assert_eq!(meta(extra, g, "pod_container_port_name"), "metrics");
    assert_eq!(meta(extra, g, "pod_name"), "a");
    assert!(!extra.contains_key("__meta_kubernetes_endpointslice_port"));
}

#[test]
fn endpoints_add_uncovered_container_ports() {
    let ep = json!({"metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1", "targetRef": {"kind": "Pod", "name": "a"}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]});
    let ports = json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]);
    let routes = vec![
        ("/api/v1/services", list(vec![]), vec![]),
        ("/api/v1/endpoints", list(vec![ep]), vec![]),
        (
            "/api/v1/pods",
            list(vec![pod_json("a", "10.0.0.1", ports)]),
            vec![],
        ),
    ];
    let (api, _) = fake_api(routes);
    let g = run_role(Role::Endpoints, &api, |g| {
        g.len() == 1 && g[0].targets.len() == 2
    });
    let extra = &g[0].targets[1];
    assert_eq!(extra["__address__"], "10.0.0.1:9100");
    assert_eq!(meta(extra, &g[0], "pod_container_port_number"), "9100");
    assert!(!extra.contains_key("__meta_kubernetes_endpoint_ready"));
}

#[test]
fn in_cluster_needs_the_environment() {
    let cfg = KubernetesSdConfig {
        role: Role::Pod,
        api_server: None,
        namespaces: Namespaces::default(),
        http: HttpClientConfig::default(),
    };
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() {
        assert!(Discovery::new(cfg).is_err());
    }
    assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
    assert_eq!(sanitize("1a"), "_a");
}
