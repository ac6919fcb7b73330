//! Memory and time of the kube-state collector holding 5,000 pods and 100 nodes listed from
//! a fake API server on 127.0.0.1: RSS growth, time to the first complete output, bytes
//! per cached object. `cargo bench -p kube-collector --bench memory`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use kube_collector::KubeState;
use serde_json::{json, Value};

const PODS: usize = 5_000;
const NODES: usize = 100;

/// Resident set size of this process in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// `n` copies of the first item of fixture `name`, each with its own name and UID.
fn list(name: &str, n: usize) -> String {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let mut o = v["items"][0].clone();
            o["metadata"]["name"] = format!("{name}-{i}").into();
            o["metadata"]["uid"] = format!("uid-{name}-{i}").into();
            if name == "pods" {
                o["spec"]["nodeName"] = format!("nodes-{}", i % NODES).into();
            }
            o
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})
        .to_string()
}

async fn handle(State(lists): State<Arc<(String, String)>>, req: Request) -> Response {
    if req.uri().query().unwrap_or("").contains("watch=") {
        let never = futures::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
        return axum::body::Body::from_stream(never).into_response();
    }
    match req.uri().path().rsplit('/').next() {
        Some("pods") => lists.0.clone().into_response(),
        Some("nodes") => lists.1.clone().into_response(),
        _ => r#"{"metadata":{"resourceVersion":"1"},"items":[]}"#.into_response(),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let lists = Arc::new((list("pods", PODS), list("nodes", NODES)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(handle).with_state(lists);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;

        let before = rss();
        let started = Instant::now();
        let state = KubeState::start(client);
        state.wait_synced().await;
        let mut set = expo::MetricSet::new();
        state.render(&mut set);
        let mut text = String::new();
        expo::render(&set, expo::Format::Text, &mut text);
        let first = started.elapsed();
        let objs = state.objects();
        assert_eq!((objs.pods.len(), objs.nodes.len()), (PODS, NODES));
        drop((set, text));
        let render_started = Instant::now();
        let mut set = expo::MetricSet::new();
        state.render(&mut set);
        let render = render_started.elapsed();
        let held = rss().saturating_sub(before);
        let samples: usize = set.families().map(|f| f.len()).sum();
        println!("pods {PODS}, nodes {NODES}: first complete output after {first:?}");
        println!("render again: {render:?}, {samples} samples");
        println!(
            "RSS growth {:.1} MiB, {:.1} KiB per object",
            held as f64 / (1 << 20) as f64,
            held as f64 / 1024.0 / (PODS + NODES) as f64
        );
    });
}
