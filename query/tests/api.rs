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
    // The series was known by its label bytes: its name comes from the head.
    assert!(
        String::from_utf8_lossy(&b).contains("too_old")
            && String::from_utf8_lossy(&b).contains("for series m{}"),
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

/// Appends a length-delimited protobuf field.
fn ld(out: &mut Vec<u8>, tag: u8, data: &[u8]) {
    out.push((tag << 3) | 2);
    let mut n = data.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(data);
}

/// A snappy-compressed WriteRequest of `series`, each already encoded as a TimeSeries.
fn body(series: &[Vec<u8>]) -> Vec<u8> {
    let mut req = Vec::new();
    for ts in series {
        ld(&mut req, 1, ts);
    }
    snap::raw::Encoder::new().compress_vec(&req).unwrap()
}

/// A TimeSeries of `labels` (each a Label message body) and one sample.
fn time_series(labels: &[Vec<u8>], t: i64, v: f64) -> Vec<u8> {
    let mut ts = Vec::new();
    for l in labels {
        ld(&mut ts, 1, l);
    }
    let mut smp = vec![0x09];
    smp.extend_from_slice(&v.to_le_bytes());
    smp.push(0x10);
    let mut t = t as u64;
    while t >= 0x80 {
        smp.push((t as u8) | 0x80);
        t >>= 7;
    }
    smp.push(t as u8);
    ld(&mut ts, 2, &smp);
    ts
}

/// A Label message body, name field first unless `value_first`.
fn label(name: &str, value: &str, value_first: bool) -> Vec<u8> {
    let mut l = Vec::new();
    if value_first {
        ld(&mut l, 2, value.as_bytes());
        ld(&mut l, 1, name.as_bytes());
    } else {
        ld(&mut l, 1, name.as_bytes());
        ld(&mut l, 2, value.as_bytes());
    }
    l
}

#[tokio::test]
async fn series_are_found_by_their_label_bytes_however_encoded() {
    let (_d, app) = setup(query::ApiOptions::default());
    let write = |b: Vec<u8>| {
        let app = app.clone();
        async move { call(&app, post("/api/v1/write", b)).await }
    };
    // As encoders write it, then the same labels written differently (fields swapped, an
    // empty-valued label, which counts as absent): one series.
    let canonical = [label("__name__", "up", false), label("job", "a", false)];
    assert_eq!(
        write(body(&[time_series(&canonical, 1000, 1.0)])).await.0,
        StatusCode::NO_CONTENT
    );
    let odd = [
        label("__name__", "up", true),
        label("empty", "", false),
        label("job", "a", false),
    ];
    assert_eq!(
        write(body(&[time_series(&odd, 2000, 2.0)])).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        write(body(&[time_series(&canonical, 3000, 3.0)])).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, b) = call(&app, get("/api/v1/series?match[]=up")).await;
    assert_eq!(
        json(&b)["data"],
        serde_json::json!([{"__name__": "up", "job": "a"}])
    );
    let (_, b) = call(&app, get("/metrics")).await;
    let text = String::from_utf8(b).unwrap();
    assert!(
        text.contains("vitals_remote_write_samples_total 3"),
        "{text}"
    );
    assert!(text.contains("vitals_tsdb_head_series 1"), "{text}");
    // A known series beside a new one with bad labels, or beside a sample-less series with
    // bad labels: refused whole, the known series' sample not stored.
    let unsorted = [label("job", "b", false), label("__name__", "up", false)];
    for other in [time_series(&unsorted, 4000, 4.0), {
        let mut ts = Vec::new();
        for l in &unsorted {
            ld(&mut ts, 1, l);
        }
        ts
    }] {
        let (s, b) = write(body(&[time_series(&canonical, 4000, 4.0), other])).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            String::from_utf8_lossy(&b).contains("sort"),
            "{}",
            String::from_utf8_lossy(&b)
        );
    }
    let (_, b) = call(&app, get("/metrics")).await;
    let text = String::from_utf8(b).unwrap();
    assert!(
        text.contains("vitals_remote_write_samples_total 3"),
        "{text}"
    );
    let (_, b) = call(&app, get("/api/v1/query?query=up&time=4")).await;
    assert_eq!(json(&b)["data"]["result"][0]["value"][1], "3");
}

#[test]
fn prometheus_label_bytes_are_the_fingerprint_encoding() {
    // A body Prometheus 2.42 sent: every series' label bytes hash to the fingerprint of its
    // parsed labels, so its series are found without parsing labels.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../remote/testdata/prometheus-2.42-write-samples.snappy"
    );
    let mut buf = Vec::new();
    remote::decompress(&std::fs::read(path).unwrap(), 1 << 24, &mut buf).unwrap();
    let mut req = remote::WriteRequestRef::new();
    remote::parse_write_request_lazy(&buf, &mut req).unwrap();
    assert!(req.len() > 10);
    for i in 0..req.len() {
        let span = req.unparsed_labels(i).expect("contiguous label fields");
        let mut labels = Vec::new();
        remote::parse_labels(&buf, span, i, &mut labels).unwrap();
        assert_eq!(
            tsdb::labels::fingerprint_wire(&buf[span.0..span.1]),
            tsdb::labels::fingerprint_refs(&labels),
            "series {i}: {labels:?}"
        );
    }
}
