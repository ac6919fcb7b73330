//! Shared by the tests: List fixtures, serving a router on 127.0.0.1 and a plain-HTTP
//! client for it.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

/// The text of fixture `tests/fixtures/<name>.json`.
pub fn fixture(name: &str) -> String {
    try_fixture(name).unwrap_or_else(|| panic!("no fixture {name}"))
}

/// The text of fixture `tests/fixtures/<name>.json`, if there is one.
pub fn try_fixture(name: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    std::fs::read_to_string(path).ok()
}

/// The items of the List fixture `name`.
pub fn load<K: serde::de::DeserializeOwned>(name: &str) -> Vec<Arc<K>> {
    let list: serde_json::Value = serde_json::from_str(&fixture(name)).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| Arc::new(serde_json::from_value(i.clone()).unwrap()))
        .collect()
}

/// Serves `app` on a free port of 127.0.0.1; returns its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A client of the API server at `url`.
pub fn client(url: &str) -> kube::Client {
    kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap()
}
