//! Leader election against a fake Lease API on 127.0.0.1 (get, create, replace with
//! resource-version conflicts): one holder at a time, take-over after expiry.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kube_collector::lease::LeaseLock;
use serde_json::{json, Value};

const ITEM: &str = "/apis/coordination.k8s.io/v1/namespaces/monitoring/leases/ksm";
const COLLECTION: &str = "/apis/coordination.k8s.io/v1/namespaces/monitoring/leases";

/// The stored lease and its resource version.
#[derive(Default)]
struct Fake {
    lease: Option<Value>,
    rv: u64,
    /// Someone else writes right after each read (the reader's replace must conflict).
    race: bool,
}

fn status(code: u16, reason: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": reason, "reason": reason, "code": code});
    (StatusCode::from_u16(code).unwrap(), body.to_string()).into_response()
}

async fn handle(State(fake): State<Arc<Mutex<Fake>>>, req: Request) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let mut f = fake.lock().unwrap();
    match (method, path.as_str()) {
        (Method::GET, ITEM) => match f.lease.clone() {
            Some(l) => {
                if f.race {
                    f.rv += 1;
                    let rv = f.rv.to_string();
                    f.lease.as_mut().unwrap()["metadata"]["resourceVersion"] = rv.into();
                }
                l.to_string().into_response()
            }
            None => status(404, "NotFound"),
        },
        (Method::POST, COLLECTION) => {
            if f.lease.is_some() {
                return status(409, "AlreadyExists");
            }
            let mut l: Value = serde_json::from_slice(&body).unwrap();
            f.rv += 1;
            l["metadata"]["resourceVersion"] = f.rv.to_string().into();
            f.lease = Some(l.clone());
            (StatusCode::CREATED, l.to_string()).into_response()
        }
        (Method::PUT, ITEM) => {
            let mut l: Value = serde_json::from_slice(&body).unwrap();
            if l["metadata"]["resourceVersion"].as_str() != Some(f.rv.to_string().as_str()) {
                return status(409, "Conflict");
            }
            f.rv += 1;
            l["metadata"]["resourceVersion"] = f.rv.to_string().into();
            f.lease = Some(l.clone());
            l.to_string().into_response()
        }
        _ => status(404, "NotFound"),
    }
}

#[tokio::test]
async fn one_leader_and_take_over_after_expiry() {
    let fake = Arc::new(Mutex::new(Fake::default()));
    let url = common::serve(
        axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone()),
    )
    .await;
    let client = || common::client(&url);
    let ttl = Duration::from_secs(1);
    let a = LeaseLock::new(client(), "monitoring", "ksm", "a", ttl);
    let b = LeaseLock::new(client(), "monitoring", "ksm", "b", ttl);

    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "a creates the lease"
    );
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "b follows a live lease"
    );
    assert!(a.try_acquire_or_renew().await.unwrap(), "a renews");
    let holder = |f: &Fake| f.lease.as_ref().unwrap()["spec"]["holderIdentity"].clone();
    assert_eq!(holder(&fake.lock().unwrap()), "a");

    fake.lock().unwrap().race = true;
    assert!(
        !a.try_acquire_or_renew().await.unwrap(),
        "a lost a write race (409)"
    );
    fake.lock().unwrap().race = false;

    // a stops renewing: its last renewal is long past.
    fake.lock().unwrap().lease.as_mut().unwrap()["spec"]["renewTime"] =
        "2000-01-01T00:00:00.000000Z".into();
    assert!(
        b.try_acquire_or_renew().await.unwrap(),
        "b takes over an expired lease"
    );
    assert!(!a.try_acquire_or_renew().await.unwrap(), "a now follows");
    let f = fake.lock().unwrap();
    assert_eq!(holder(&f), "b");
    assert_eq!(f.lease.as_ref().unwrap()["spec"]["leaseTransitions"], 1);
}

#[tokio::test]
async fn a_server_error_is_an_error_not_leadership() {
    let app = axum::Router::new().fallback(|| async { status(500, "InternalError") });
    let url = common::serve(app).await;
    let lock = LeaseLock::new(
        common::client(&url),
        "monitoring",
        "ksm",
        "a",
        Duration::from_secs(1),
    );
    assert!(lock.try_acquire_or_renew().await.is_err());
}
