//! The HTTP API against a real TSDB in a temporary directory: remote-write in, reads out,
//! and every error path answering with Prometheus' shapes.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use remote::prompb::{Label, WriteRequest};
use remote::prost::Message;
use tower::ServiceExt;

use common::series;

fn setup(opts: query::ApiOptions) -> (tempfile::TempDir, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(tsdb::Db::open(dir.path(), tsdb::Options::default()).unwrap());
    (dir, query::router(db, opts))
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    (
        status,
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

fn post(uri: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/x-protobuf")
        .body(Body::from(body))
        .unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
}

#[tokio::test]
async fn write_then_read_back() {
    let (_d, app) = setup(query::ApiOptions::default());
    let req = WriteRequest {
        timeseries: vec![
            series(
                "up",
                &[("job", "node"), ("instance", "a:9100")],
                &[(1000, 1.0), (16000, 1.0)],
            ),
            series(
                "up",
                &[("job", "node"), ("instance", "b:9100")],
                &[(1000, 0.0)],
            ),
            series(
                "node_load1",
                &[("job", "node"), ("instance", "a:9100")],
                &[(1000, 0.5)],
            ),
        ],
        ..Default::default()
    };
    let (s, _) = call(
        &app,
        post("/api/v1/write", remote::encode_write_request(&req)),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    let (s, b) = call(&app, get("/api/v1/series?match[]=up&start=0&end=100")).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["instance"], "a:9100");

    let (_, b) = call(
        &app,
        get("/api/v1/series?match[]=%7Bjob%3D%22node%22%2Cinstance%3D~%22a.*%22%7D"),
    )
    .await;
    assert_eq!(json(&b)["data"].as_array().unwrap().len(), 2);

    let (_, b) = call(&app, get("/api/v1/labels")).await;
    assert_eq!(
        json(&b)["data"],
        serde_json::json!(["__name__", "instance", "job"])
    );
    let (_, b) = call(&app, get("/api/v1/label/__name__/values")).await;
    assert_eq!(json(&b)["data"], serde_json::json!(["node_load1", "up"]));
    let (_, b) = call(
        &app,
        get("/api/v1/label/instance/values?match[]=node_load1"),
    )
    .await;
    assert_eq!(json(&b)["data"], serde_json::json!(["a:9100"]));
    let form = Request::post("/api/v1/series")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("match[]=node_load1"))
        .unwrap();
    let (_, b) = call(&app, form).await;
    assert_eq!(json(&b)["data"].as_array().unwrap().len(), 1);

    // Remote-read, SAMPLES.
    let rr = remote::prompb::ReadRequest {
        queries: vec![remote::prompb::Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 20_000,
            matchers: vec![remote::prompb::LabelMatcher {
                r#type: 0,
                name: "__name__".into(),
                value: "up".into(),
            }],
            hints: None,
        }],
        accepted_response_types: vec![0],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&rr.encode_to_vec())
        .unwrap();
    let (s, b) = call(&app, post("/api/v1/read", body)).await;
    assert_eq!(s, StatusCode::OK);
    let resp = remote::prompb::ReadResponse::decode(
        &snap::raw::Decoder::new().decompress_vec(&b).unwrap()[..],
    )
    .unwrap();
    let ts = &resp.results[0].timeseries;
    assert_eq!(ts.len(), 2);
    assert_eq!(
        ts[0]
            .samples
            .iter()
            .map(|s| s.timestamp)
            .collect::<Vec<_>>(),
        vec![1000, 16000]
    );

    let (s, b) = call(&app, get("/metrics")).await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(b).unwrap();
    assert!(
        text.contains("vitals_remote_write_samples_total 4"),
        "{text}"
    );
    assert!(text.contains("vitals_tsdb_head_series 3"));
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let (_d, app) = setup(query::ApiOptions {
        max_request_bytes: 4096,
        ..Default::default()
    });
    let (s, b) = call(&app, post("/api/v1/write", b"not snappy at all".to_vec())).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&b)
    );
    let (s, _) = call(
        &app,
        post(
            "/api/v1/write",
            snap::raw::Encoder::new()
                .compress_vec(b"\xff\xff\xff")
                .unwrap(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Unsorted labels in the second series: the whole request is refused.
    let mut bad = series("up", &[("job", "x")], &[(1, 1.0)]);
    bad.labels.reverse();
    let req = WriteRequest {
        timeseries: vec![series("ok_metric", &[], &[(1, 1.0)]), bad],
        ..Default::default()
    };
    let (s, b) = call(
        &app,
        post("/api/v1/write", remote::encode_write_request(&req)),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&b).to_lowercase().contains("sort"),
        "{}",
        String::from_utf8_lossy(&b)
    );
    let (_, b) = call(&app, get("/api/v1/label/__name__/values")).await;
    assert_eq!(
        json(&b)["data"],
        serde_json::json!([]),
        "a rejected request stores nothing"
    );
    // Empty label name.
    let mut e = series("up", &[], &[(1, 1.0)]);
    e.labels.insert(
        0,
        Label {
            name: "".into(),
            value: "v".into(),
        },
    );
    let (s, _) = call(
        &app,
        post(
            "/api/v1/write",
            remote::encode_write_request(&WriteRequest {
                timeseries: vec![e],
                ..Default::default()
            }),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Over the body limit.
    let (s, _) = call(&app, post("/api/v1/write", vec![0u8; 10_000])).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // Out-of-order sample: 400 naming it, the good sample of the same request is kept.
    let ok = WriteRequest {
        timeseries: vec![series("m", &[], &[(10_000, 1.0)])],
        ..Default::default()
    };
    assert_eq!(
        call(
            &app,
            post("/api/v1/write", remote::encode_write_request(&ok))
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let mixed = WriteRequest {
        timeseries: vec![
            series("m", &[], &[(5_000, 2.0)]),
            series("n", &[], &[(5_000, 2.0)]),
        ],
        ..Default::default()
    };
    let (s, b) = call(
        &app,
        post("/api/v1/write", remote::encode_write_request(&mixed)),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&b).contains("too_old"),
        "{}",
        String::from_utf8_lossy(&b)
    );
    let (_, b) = call(&app, get("/api/v1/series?match[]=n")).await;
    assert_eq!(json(&b)["data"].as_array().unwrap().len(), 1);
    // Read-side errors in Prometheus' JSON shape.
    for uri in [
        "/api/v1/series",
        "/api/v1/series?match[]=up%7B",
        "/api/v1/series?match[]=up&start=yesterday",
        "/api/v1/series?match[]=%7Ba%3D%22%22%7D",
        "/api/v1/labels?end=1&start=5",
    ] {
        let (s, b) = call(&app, get(uri)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}");
        let v = json(&b);
        assert_eq!(
            (v["status"].as_str(), v["errorType"].as_str()),
            (Some("error"), Some("bad_data")),
            "{uri}"
        );
    }
    let (s, _) = call(&app, get("/-/ready")).await;
    assert_eq!(s, StatusCode::OK);
}
