//! `--namespaces` and `--namespaces-denylist` against a fake API server that answers
//! namespaced collection paths and `metadata.namespace!=` field selectors from the List
//! fixtures: only the chosen namespaces' objects are watched and reported; cluster-scoped
//! resources are unaffected.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use expo::{Format, MetricSet};
use kube_collector::{Flags, KubeState, Options};

/// Requests seen: (path, fieldSelector).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

async fn handle(State(seen): State<Seen>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let Query(query) = Query::<HashMap<String, String>>::try_from_uri(req.uri()).unwrap();
    let fields = query.get("fieldSelector").cloned().unwrap_or_default();
    if query.contains_key("watch") {
        // Watches stay open without events.
        let never = futures::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
        return axum::body::Body::from_stream(never).into_response();
    }
    seen.lock().unwrap().push((path.clone(), fields.clone()));
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // …/namespaces/<ns>/<plural> or …/<plural>
    let (ns, plural) = match parts.iter().position(|p| *p == "namespaces") {
        Some(i) if i + 2 < parts.len() => (Some(parts[i + 1]), parts[i + 2]),
        _ => (None, *parts.last().unwrap()),
    };
    let denied: Vec<&str> = fields
        .split(',')
        .filter_map(|f| f.strip_prefix("metadata.namespace!="))
        .collect();
    let Ok(mut list) =
        serde_json::from_str::<serde_json::Value>(&common::try_fixture(plural).unwrap_or_default())
    else {
        return (StatusCode::NOT_FOUND, "{}").into_response();
    };
    list["items"].as_array_mut().unwrap().retain(|o| {
        let on = o["metadata"]["namespace"].as_str().unwrap_or("");
        ns.is_none_or(|n| n == on) && !denied.contains(&on)
    });
    ([("content-type", "application/json")], list.to_string()).into_response()
}

/// Watches pods and nodes with these namespace flags; the rendered text and the lists seen.
async fn run(namespaces: &str, denylist: &str) -> (String, Vec<(String, String)>) {
    let seen = Seen::default();
    let url = common::serve(
        axum::Router::new()
            .fallback(handle)
            .with_state(seen.clone()),
    )
    .await;
    let options = Options::from_flags(&Flags {
        resources: "pods,nodes".into(),
        namespaces: namespaces.into(),
        namespaces_denylist: denylist.into(),
        ..Flags::default()
    })
    .unwrap();
    let state = KubeState::start_with(common::client(&url), options);
    tokio::time::timeout(Duration::from_secs(20), state.wait_synced())
        .await
        .expect("lists complete");
    let mut set = MetricSet::new();
    state.render(&mut set);
    let mut text = String::new();
    expo::render(&set, Format::Text, &mut text);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    (text, seen)
}

/// The namespaces of the `kube_pod_info` series in `text`.
fn pod_namespaces(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("kube_pod_info{"))
        .map(|l| {
            let i = l.find("namespace=\"").unwrap() + 11;
            l[i..i + l[i..].find('"').unwrap()].to_string()
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_watched_one_by_one() {
    let (text, seen) = run("shop,data", "").await;
    assert_eq!(pod_namespaces(&text), ["data", "shop"]);
    assert_eq!(
        seen,
        [
            ("/api/v1/namespaces/data/pods".to_string(), String::new()),
            ("/api/v1/namespaces/shop/pods".to_string(), String::new()),
            ("/api/v1/nodes".to_string(), String::new()),
        ]
    );
    assert!(text.contains("kube_node_info{"), "nodes stay cluster-wide");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denylist_is_a_field_selector() {
    let (text, seen) = run("", "shop").await;
    assert_eq!(pod_namespaces(&text), ["data", "ops"]);
    assert_eq!(
        seen,
        [
            ("/api/v1/nodes".to_string(), String::new()),
            (
                "/api/v1/pods".to_string(),
                "metadata.namespace!=shop".to_string()
            ),
        ]
    );
}

#[test]
fn listed_minus_denied() {
    let o = |ns: &str, deny: &str| {
        Options::from_flags(&Flags {
            namespaces: ns.into(),
            namespaces_denylist: deny.into(),
            ..Flags::default()
        })
    };
    let both = o("a, b,c", "b").unwrap();
    assert_eq!(both.namespaces, ["a", "c"]);
    assert!(both.namespaces_denylist.is_empty());
    assert_eq!(o("", "x,x").unwrap().namespaces_denylist, ["x"]);
    assert_eq!(
        o("a", "a").unwrap_err().to_string(),
        "--namespaces-denylist leaves none of --namespaces to watch"
    );
}
