//! The store's built-in kube-state collector (`--kube.scrape-interval`, `--kubeconfig`)
//! against a fake API server serving the kube-collector fixtures: every kube_* name of
//! TARGETS.md tiers P0 and P1 lands in the TSDB with `job="kube-state-metrics"` and `up`.
//! `vitals kube-state-metrics` serves the same on `/metrics`, and nothing while it does not
//! hold its Lease.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use common::{free_port, label, read, series_count, Server};

/// The kube_* names of TARGETS.md tiers P0 and P1.
const P0_P1: [&str; 16] = [
    "kube_deployment_spec_replicas",
    "kube_deployment_status_replicas_available",
    "kube_pod_container_status_restarts_total",
    "kube_pod_status_ready",
    "kube_job_owner",
    "kube_namespace_status_phase",
    "kube_node_info",
    "kube_node_status_allocatable",
    "kube_node_status_capacity",
    "kube_pod_container_resource_limits",
    "kube_pod_container_resource_requests",
    "kube_pod_info",
    "kube_pod_owner",
    "kube_pod_status_phase",
    "kube_replicaset_owner",
    "kube_resourcequota",
];

/// The fake's Lease API: `None` answers every Lease request 404 (never acquired),
/// `Some(lease)` stores one Lease (get, create, replace; no conflicts).
type Leases = Arc<Mutex<Option<Option<serde_json::Value>>>>;

/// Lists come from `exporters/kube/tests/fixtures/<resource>.json`; watches stay open
/// without events; Leases as `leases` says.
async fn fake_api(State(leases): State<Leases>, req: Request) -> Response {
    if req.uri().path().contains("/leases") {
        return lease_api(&leases, req).await;
    }
    let resource = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    if req.uri().query().unwrap_or("").contains("watch=") {
        let never = futures::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
        return axum::body::Body::from_stream(never).into_response();
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("exporters/kube/tests/fixtures")
        .join(format!("{resource}.json"));
    match std::fs::read_to_string(path) {
        Ok(body) => ([("content-type", "application/json")], body).into_response(),
        Err(_) => (axum::http::StatusCode::NOT_FOUND, "{}").into_response(),
    }
}

/// One Lease in memory, when `leases` holds one.
async fn lease_api(leases: &Leases, req: Request) -> Response {
    let (method, is_item) = (req.method().clone(), !req.uri().path().ends_with("/leases"));
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let mut guard = leases.lock().unwrap();
    let not_found = (
        axum::http::StatusCode::NOT_FOUND,
        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#,
    );
    let Some(stored) = guard.as_mut() else {
        return not_found.into_response();
    };
    match (method, is_item) {
        (axum::http::Method::GET, true) => match stored {
            Some(l) => l.to_string().into_response(),
            None => not_found.into_response(),
        },
        (axum::http::Method::POST, false) | (axum::http::Method::PUT, true) => {
            let mut l: serde_json::Value = serde_json::from_slice(&body).unwrap();
            l["metadata"]["resourceVersion"] = "1".into();
            *stored = Some(l.clone());
            (axum::http::StatusCode::CREATED, l.to_string()).into_response()
        }
        _ => not_found.into_response(),
    }
}

/// Serves `fake_api` without Leases; returns its URL.
fn start_fake_api() -> String {
    start_fake_api_with(Arc::new(Mutex::new(None)))
}

/// Serves `fake_api` on a free port from a background thread; returns its URL.
fn start_fake_api_with(leases: Leases) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().fallback(fake_api).with_state(leases);
            axum::serve(listener, app).await.unwrap();
        });
    });
    url
}

/// Writes a kubeconfig for the API server at `api` into `dir`; returns its path.
fn write_kubeconfig(dir: &Path, api: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {api}\n\
         contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n\
         current-context: fake\nusers:\n- name: fake\n  user: {{}}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `vitals kube-state-metrics` with `extra` flags until dropped.
struct Standalone(std::process::Child, String);

impl Standalone {
    fn start(kubeconfig: &Path, extra: &[&str]) -> Standalone {
        let port = free_port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_vitals"))
            .args(["kube-state-metrics", "--web.listen-address"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(extra)
            .env("RUST_LOG", "error")
            .spawn()
            .unwrap();
        Standalone(child, format!("http://127.0.0.1:{port}/metrics"))
    }

    /// `/metrics` once it answers and `until` holds on it (60 s at most).
    fn metrics_until(&self, until: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = ureq::get(&self.1).call() {
                let body = r.into_string().unwrap();
                if until(&body) {
                    return body;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no expected /metrics from {}",
                self.1
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn standalone_serves_kube_state_metrics() {
    let api = start_fake_api();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api);
    let ksm = Standalone::start(&kubeconfig, &[]);
    let body = ksm.metrics_until(|b| b.contains("kube_pod_info{"));
    for name in P0_P1 {
        assert!(body.contains(&format!("\n{name}{{")), "{name} missing");
    }
    assert!(body.contains("# HELP kube_pod_info [STABLE] Information about pod."));
}

#[test]
fn standalone_without_the_lease_serves_no_kube_metrics() {
    // The fake API server has no Lease resource: the lease is never acquired.
    let api = start_fake_api();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api);
    let ksm = Standalone::start(&kubeconfig, &["--leader-elect"]);
    std::thread::sleep(Duration::from_secs(2));
    let body = ksm.metrics_until(|_| true);
    assert!(!body.contains("kube_"), "a follower served:\n{body}");
}

#[test]
fn kube_state_metrics_land_in_the_store() {
    let api = start_fake_api();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api);
    let data = dir.path().join("data");
    let cfg = format!("--kubeconfig={}", kubeconfig.display());
    let (s, _) = Server::start(&data, free_port(), &["--kube.scrape-interval=1s", &cfg]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while series_count(
        &s.url,
        "{__name__=\"kube_pod_info\",job=\"kube-state-metrics\"}",
    ) == 0
    {
        assert!(Instant::now() < deadline, "no kube-state metrics stored");
        std::thread::sleep(Duration::from_millis(200));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for name in P0_P1.iter().chain(&["up"]) {
        let resp = read(&s.url, name, now - 60_000, now + 60_000);
        let series = &resp.results[0].timeseries;
        let series: Vec<_> = series
            .iter()
            .filter(|ts| label(ts, "job") == Some("kube-state-metrics"))
            .collect();
        assert!(!series.is_empty(), "{name} not stored");
        if *name == "up" {
            assert!(series
                .iter()
                .all(|ts| ts.samples.iter().any(|x| x.value == 1.0)));
        }
    }
    // The pod's own `namespace` label stays: kube-state-metrics' labels are not target labels.
    let resp = read(&s.url, "kube_pod_status_phase", now - 60_000, now + 60_000);
    let running = resp.results[0]
        .timeseries
        .iter()
        .find(|ts| {
            label(ts, "pod") == Some("web-7d9f8-abcde") && label(ts, "phase") == Some("Running")
        })
        .expect("web pod phase");
    assert_eq!(label(running, "namespace"), Some("shop"));
    assert_eq!(running.samples.last().unwrap().value, 1.0);
}

/// Stored `kube_pod_info` series of `job="kube-state-metrics"` in the store at `url`.
fn kube_series(url: &str) -> usize {
    series_count(
        url,
        "{__name__=~\"kube_pod_info|up\",job=\"kube-state-metrics\"}",
    )
}

#[test]
fn one_store_replica_holds_the_lease() {
    let leases: Leases = Arc::new(Mutex::new(Some(None)));
    let api = start_fake_api_with(leases.clone());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api);
    let cfg = format!("--kubeconfig={}", kubeconfig.display());
    let flags = [
        "--kube.scrape-interval=500ms",
        "--kube.leader-elect",
        "--kube.leader-elect.lease-duration=2s",
        "--kube.resources=pods",
        "--kube.metric-labels-allowlist=pods=[app]",
        &cfg,
    ];
    let (a, _) = Server::start(&dir.path().join("a"), free_port(), &flags);
    let (b, _) = Server::start(&dir.path().join("b"), free_port(), &flags);
    let deadline = Instant::now() + Duration::from_secs(60);
    while kube_series(&a.url) + kube_series(&b.url) == 0 {
        assert!(
            Instant::now() < deadline,
            "no replica wrote kube-state metrics"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    let (na, nb) = (kube_series(&a.url), kube_series(&b.url));
    assert!(
        na == 0 || nb == 0,
        "both replicas wrote kube_*: {na} and {nb}"
    );
    let (leader, follower) = if na > 0 { (a, b) } else { (b, a) };
    // The allowlist and resource selection apply to the store's collector.
    assert_eq!(
        series_count(
            &leader.url,
            "{__name__=\"kube_pod_labels\",label_app=\"web\"}"
        ),
        1
    );
    assert_eq!(
        series_count(&leader.url, "{__name__=\"kube_node_info\"}"),
        0
    );
    let holder = leases.lock().unwrap().clone().unwrap().unwrap();
    assert!(holder["spec"]["holderIdentity"].as_str().is_some());
    // The leader stops renewing: the follower takes over once the Lease expires.
    drop(leader);
    let deadline = Instant::now() + Duration::from_secs(30);
    while kube_series(&follower.url) == 0 {
        assert!(Instant::now() < deadline, "the follower never took over");
        std::thread::sleep(Duration::from_millis(200));
    }
}
