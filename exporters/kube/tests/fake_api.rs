//! End-to-end test of the watchers against a fake API server on 127.0.0.1: it serves each
//! resource's List fixture, answers the first pod watch with a 410 Gone (the watcher must
//! relist), then streams chunked watch events that the test sends; the rendered metrics
//! follow (a pod goes Running → Failed, a deployment scales).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use expo::{Format, MetricSet};
use kube_collector::KubeState;
use tokio::sync::broadcast;

/// The fake server's state: watch event channels per collection path and counters.
struct Fake {
    events: HashMap<&'static str, broadcast::Sender<String>>,
    pod_lists: AtomicUsize,
    pod_watches: AtomicUsize,
}

/// Collection path → fixture name.
const PATHS: [(&str, &str); 15] = [
    ("/api/v1/pods", "pods"),
    ("/api/v1/nodes", "nodes"),
    ("/apis/apps/v1/deployments", "deployments"),
    ("/apis/apps/v1/daemonsets", "daemonsets"),
    ("/apis/apps/v1/statefulsets", "statefulsets"),
    ("/apis/apps/v1/replicasets", "replicasets"),
    ("/apis/batch/v1/jobs", "jobs"),
    ("/apis/batch/v1/cronjobs", "cronjobs"),
    ("/api/v1/namespaces", "namespaces"),
    ("/api/v1/persistentvolumeclaims", "persistentvolumeclaims"),
    ("/api/v1/persistentvolumes", "persistentvolumes"),
    ("/api/v1/services", "services"),
    (
        "/apis/autoscaling/v2/horizontalpodautoscalers",
        "horizontalpodautoscalers",
    ),
    (
        "/apis/policy/v1/poddisruptionbudgets",
        "poddisruptionbudgets",
    ),
    ("/api/v1/resourcequotas", "resourcequotas"),
];

const GONE: &str = r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version","reason":"Expired","code":410}}"#;

async fn handle(State(fake): State<Arc<Fake>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let watch = req.uri().query().unwrap_or("").contains("watch=true")
        || req.uri().query().unwrap_or("").contains("watch=1");
    let Some((path, name)) = PATHS.iter().find(|(p, _)| *p == path) else {
        return (StatusCode::NOT_FOUND, "{}").into_response();
    };
    if !watch {
        if *name == "pods" {
            fake.pod_lists.fetch_add(1, Ordering::SeqCst);
        }
        return (
            [("content-type", "application/json")],
            common::fixture(name),
        )
            .into_response();
    }
    if *name == "pods" && fake.pod_watches.fetch_add(1, Ordering::SeqCst) == 0 {
        return ([("content-type", "application/json")], format!("{GONE}\n")).into_response();
    }
    let rx = fake.events[path].subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(line) => return Some((Ok::<_, std::io::Error>(Bytes::from(line + "\n")), rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    (
        [("content-type", "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The rendered `kube_*` families of `state`, without the watch counters.
fn objects_text(state: &KubeState) -> String {
    let mut set = MetricSet::new();
    kube_collector::render(&state.objects(), &mut set);
    set.sort();
    let mut out = String::new();
    expo::render(&set, Format::Text, &mut out);
    out
}

/// The same from every fixture read directly.
fn fixtures_text() -> String {
    let objs = kube_collector::Objects {
        pods: common::load("pods"),
        nodes: common::load("nodes"),
        deployments: common::load("deployments"),
        daemonsets: common::load("daemonsets"),
        statefulsets: common::load("statefulsets"),
        replicasets: common::load("replicasets"),
        jobs: common::load("jobs"),
        cronjobs: common::load("cronjobs"),
        namespaces: common::load("namespaces"),
        pvcs: common::load("persistentvolumeclaims"),
        pvs: common::load("persistentvolumes"),
        services: common::load("services"),
        hpas: common::load("horizontalpodautoscalers"),
        pdbs: common::load("poddisruptionbudgets"),
        quotas: common::load("resourcequotas"),
    };
    let mut set = MetricSet::new();
    kube_collector::render(&objs, &mut set);
    set.sort();
    let mut out = String::new();
    expo::render(&set, Format::Text, &mut out);
    out
}

/// Polls `cond` on the full rendering until it holds or 20 s pass.
async fn eventually(state: &KubeState, what: &str, cond: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut set = MetricSet::new();
        state.render(&mut set);
        let mut text = String::new();
        expo::render(&set, Format::Text, &mut text);
        if cond(&text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; got:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first item of fixture `name`, changed by `edit`, as a MODIFIED watch event.
fn modified(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let v: serde_json::Value = serde_json::from_str(&common::fixture(name)).unwrap();
    let mut obj = v["items"][0].clone();
    obj["metadata"]["resourceVersion"] = "101".into();
    edit(&mut obj);
    serde_json::json!({"type": "MODIFIED", "object": obj}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_follow_the_api_server() {
    let fake = Arc::new(Fake {
        events: PATHS
            .iter()
            .map(|(p, _)| (*p, broadcast::channel(16).0))
            .collect(),
        pod_lists: AtomicUsize::new(0),
        pod_watches: AtomicUsize::new(0),
    });
    let url = common::serve(
        axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone()),
    )
    .await;
    let client = common::client(&url);
    let state = KubeState::start(client);
    tokio::time::timeout(Duration::from_secs(20), state.wait_synced())
        .await
        .expect("every resource lists");
    assert_eq!(objects_text(&state), fixtures_text());

    // The first pod watch got 410 Gone: the watcher relists and watches again.
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.events["/api/v1/pods"].receiver_count() == 0 {
        assert!(Instant::now() < deadline, "no pod watch after 410 Gone");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        fake.pod_lists.load(Ordering::SeqCst) >= 2,
        "relisted after 410"
    );
    while fake.events["/apis/apps/v1/deployments"].receiver_count() == 0 {
        assert!(Instant::now() < deadline, "no deployment watch");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let running = r#"kube_pod_status_phase{namespace="shop",phase="Running",pod="web-7d9f8-abcde",uid="0f0e6a4d-0000-4e2b-9a8c-000000000001"} 1"#;
    assert!(objects_text(&state).contains(running));
    let pod = modified("pods", |p| p["status"]["phase"] = "Failed".into());
    fake.events["/api/v1/pods"].send(pod).unwrap();
    let dep = modified("deployments", |d| d["spec"]["replicas"] = 5.into());
    fake.events["/apis/apps/v1/deployments"].send(dep).unwrap();
    eventually(&state, "pod Failed and deployment scaled", |t| {
        t.contains(r#"kube_pod_status_phase{namespace="shop",phase="Failed",pod="web-7d9f8-abcde",uid="0f0e6a4d-0000-4e2b-9a8c-000000000001"} 1"#)
            && t.contains(r#"kube_deployment_spec_replicas{deployment="web",namespace="shop"} 5"#)
    })
    .await;
    eventually(&state, "list and watch counters", |t| {
        t.contains(r#"kube_state_metrics_list_total{resource="*v1.Pod",result="success"} 2"#)
            && t.contains(r#"kube_state_metrics_watch_total{resource="*v1.Pod",result="error"} 1"#)
            && t.contains("kube_state_metrics_total_shards 1")
    })
    .await;
}
