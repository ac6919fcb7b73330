//! Golden request → response tests of `/api/v1/query`, `/api/v1/query_range` and
//! `/api/v1/format_query`: Prometheus' JSON envelope, value rendering, GET and form POST,
//! and every error path with its `errorType` and HTTP status.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use remote::prompb::WriteRequest;
use remote::prost::Message;
use serde_json::{json, Value};
use tower::ServiceExt;

use common::{get, post_form, series};

/// A store holding `up` (1 every 15 s) and two `http_requests_total` counters over 0–60 s.
async fn app_with(opts: query::ApiOptions) -> (tempfile::TempDir, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(tsdb::Db::open(dir.path(), tsdb::Options::default()).unwrap());
    let app = query::router(db, opts);
    let ticks: Vec<i64> = (0..=4).map(|i| i * 15_000).collect();
    let req = WriteRequest {
        timeseries: vec![
            series(
                "up",
                &[("job", "api"), ("instance", "a:9090")],
                &ticks.iter().map(|&t| (t, 1.0)).collect::<Vec<_>>(),
            ),
            series(
                "http_requests_total",
                &[("job", "api"), ("code", "200")],
                &ticks
                    .iter()
                    .map(|&t| (t, t as f64 / 1500.0))
                    .collect::<Vec<_>>(),
            ),
            series(
                "http_requests_total",
                &[("job", "api"), ("code", "500")],
                &ticks
                    .iter()
                    .map(|&t| (t, t as f64 / 15000.0))
                    .collect::<Vec<_>>(),
            ),
        ],
        ..Default::default()
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let (status, _) = call(
        &app,
        Request::post("/api/v1/write")
            .header("content-type", "application/x-protobuf")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    (dir, app)
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Asserts the response to `req` has `status` and a body equal (as JSON) to `want`.
async fn golden(app: &axum::Router, req: Request<Body>, status: StatusCode, want: Value) {
    let uri = req.uri().to_string();
    let (got_status, body) = call(app, req).await;
    let got: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{uri}: {e}: {body}"));
    assert_eq!((got_status, &got), (status, &want), "{uri}\n got: {body}");
}

fn ok(data: Value) -> Value {
    json!({"status": "success", "data": data})
}

fn err(kind: &str, msg: &str) -> Value {
    json!({"status": "error", "errorType": kind, "error": msg})
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn empty_store_answers_grafanas_health_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(tsdb::Db::open(dir.path(), tsdb::Options::default()).unwrap());
    let app = query::router(db, query::ApiOptions::default());
    // Byte for byte what Prometheus answers.
    let (status, body) = call(&app, get("/api/v1/query?query=1%2B1&time=4")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#
    );
    golden(
        &app,
        post_form("/api/v1/query", "query=1%2B1&time=4"),
        StatusCode::OK,
        ok(json!({"resultType": "scalar", "result": [4, "2"]})),
    )
    .await;
}

#[tokio::test]
async fn instant_queries() {
    let (_d, app) = app_with(query::ApiOptions::default()).await;
    let up = json!({"__name__": "up", "instance": "a:9090", "job": "api"});
    golden(
        &app,
        get("/api/v1/query?query=up&time=60"),
        StatusCode::OK,
        ok(json!({"resultType": "vector", "result": [{"metric": up, "value": [60, "1"]}]})),
    )
    .await;
    // Form POST, fractional time, and the 5m lookback: the sample at 60 s is visible at 100.5 s.
    golden(
        &app,
        post_form("/api/v1/query", "query=up&time=100.5"),
        StatusCode::OK,
        ok(json!({"resultType": "vector", "result": [{"metric": up, "value": [100.5, "1"]}]})),
    )
    .await;
    // Past the lookback (60 s + 5 m) nothing is left.
    golden(
        &app,
        get("/api/v1/query?query=up&time=360"),
        StatusCode::OK,
        ok(json!({"resultType": "vector", "result": []})),
    )
    .await;
    // RFC 3339 time.
    golden(
        &app,
        get("/api/v1/query?query=up&time=1970-01-01T00:00:30Z"),
        StatusCode::OK,
        ok(json!({"resultType": "vector", "result": [{"metric": up, "value": [30, "1"]}]})),
    )
    .await;
    golden(
        &app,
        get(&format!("/api/v1/query?query={}&time=60", enc("\"hello\""))),
        StatusCode::OK,
        ok(json!({"resultType": "string", "result": [60, "hello"]})),
    )
    .await;
    // A range vector: (30 s, 60 s] holds the samples at 45 and 60 s.
    golden(
        &app,
        get(&format!(
            "/api/v1/query?query={}&time=60",
            enc("http_requests_total{code=\"200\"}[30s]")
        )),
        StatusCode::OK,
        ok(json!({"resultType": "matrix", "result": [{
            "metric": {"__name__": "http_requests_total", "code": "200", "job": "api"},
            "values": [[45, "30"], [60, "40"]]
        }]})),
    )
    .await;
    // rate over (0, 60]: 30 over 45 s sampled, extrapolated by 15 s to the window start.
    golden(
        &app,
        get(&format!(
            "/api/v1/query?query={}&time=60",
            enc("sort_desc(sum by (code) (rate(http_requests_total[1m])))")
        )),
        StatusCode::OK,
        ok(json!({"resultType": "vector", "result": [
            {"metric": {"code": "200"}, "value": [60, "0.6666666666666666"]},
            {"metric": {"code": "500"}, "value": [60, "0.06666666666666665"]}
        ]})),
    )
    .await;
    // Special values are strings, as Prometheus renders them; `sort` puts NaN last.
    golden(
        &app,
        get(&format!("/api/v1/query?query={}&time=60", enc("sort(vector(0/0) or label_replace(vector(1/0), \"s\", \"p\", \"\", \"\") or label_replace(vector(-1/0), \"s\", \"n\", \"\", \"\"))"))),
        StatusCode::OK,
        ok(json!({"resultType": "vector", "result": [
            {"metric": {"s": "n"}, "value": [60, "-Inf"]},
            {"metric": {"s": "p"}, "value": [60, "+Inf"]},
            {"metric": {}, "value": [60, "NaN"]}
        ]})),
    )
    .await;
    // Annotations travel in "warnings" and "infos".
    golden(
        &app,
        get(&format!("/api/v1/query?query={}&time=60", enc("histogram_quantile(0.5, up)"))),
        StatusCode::OK,
        json!({"status": "success", "data": {"resultType": "vector", "result": []},
               "warnings": ["PromQL warning: bucket label \"le\" is missing or has a malformed value of \"\" for metric name \"up\""]}),
    )
    .await;
}

#[tokio::test]
async fn range_queries() {
    let (_d, app) = app_with(query::ApiOptions::default()).await;
    golden(
        &app,
        get("/api/v1/query_range?query=up&start=0&end=60&step=30"),
        StatusCode::OK,
        ok(json!({"resultType": "matrix", "result": [{
            "metric": {"__name__": "up", "instance": "a:9090", "job": "api"},
            "values": [[0, "1"], [30, "1"], [60, "1"]]
        }]})),
    )
    .await;
    // Form POST, a duration step, and series sorted by labels.
    golden(
        &app,
        post_form("/api/v1/query_range", &format!("query={}&start=15&end=45&step=15s", enc("http_requests_total"))),
        StatusCode::OK,
        ok(json!({"resultType": "matrix", "result": [
            {"metric": {"__name__": "http_requests_total", "code": "200", "job": "api"}, "values": [[15, "10"], [30, "20"], [45, "30"]]},
            {"metric": {"__name__": "http_requests_total", "code": "500", "job": "api"}, "values": [[15, "1"], [30, "2"], [45, "3"]]}
        ]})),
    )
    .await;
    // A scalar becomes one series without labels.
    golden(
        &app,
        get("/api/v1/query_range?query=time()&start=0&end=20&step=10"),
        StatusCode::OK,
        ok(json!({"resultType": "matrix", "result": [{"metric": {}, "values": [[0, "0"], [10, "10"], [20, "20"]]}]})),
    )
    .await;
}

#[tokio::test]
async fn format_query() {
    let (_d, app) = app_with(query::ApiOptions::default()).await;
    golden(
        &app,
        get(&format!(
            "/api/v1/format_query?query={}",
            enc("sum(rate(foo{a=\"b\"}[5m]))by(job)/ on(job)group_left bar offset 1h")
        )),
        StatusCode::OK,
        ok(json!(
            "sum by (job) (rate(foo{a=\"b\"}[5m])) / on (job) group_left () bar offset 1h"
        )),
    )
    .await;
    golden(
        &app,
        post_form("/api/v1/format_query", "query=1%2B"),
        StatusCode::BAD_REQUEST,
        err(
            "bad_data",
            "invalid parameter \"query\": 1:3: parse error: unexpected end of input",
        ),
    )
    .await;
}

#[tokio::test]
async fn errors() {
    let (_d, app) = app_with(query::ApiOptions::default()).await;
    let bad = StatusCode::BAD_REQUEST;
    golden(
        &app,
        get("/api/v1/query?query=sum(up"),
        bad,
        err(
            "bad_data",
            "invalid parameter \"query\": 1:7: parse error: unclosed left parenthesis",
        ),
    )
    .await;
    golden(
        &app,
        get("/api/v1/query?query=foo%7B"),
        bad,
        err(
            "bad_data",
            "invalid parameter \"query\": 1:5: parse error: unexpected end of input inside braces",
        ),
    )
    .await;
    golden(
        &app,
        get("/api/v1/query"),
        bad,
        err(
            "bad_data",
            "invalid parameter \"query\": 1:1: parse error: no expression found in input",
        ),
    )
    .await;
    golden(
        &app,
        get("/api/v1/query?query=up&time=abc"),
        bad,
        err(
            "bad_data",
            "invalid parameter \"time\": cannot parse \"abc\" to a valid timestamp",
        ),
    )
    .await;
    golden(
        &app,
        get("/api/v1/query?query=up&timeout=soon"),
        bad,
        err(
            "bad_data",
            "invalid parameter \"timeout\": cannot parse \"soon\" to a valid duration",
        ),
    )
    .await;
    golden(
        &app,
        get("/api/v1/query_range?query=up&start=10&end=0&step=1"),
        bad,
        err(
            "bad_data",
            "invalid parameter \"end\": end timestamp must not be before start time",
        ),
    )
    .await;
    golden(&app, get("/api/v1/query_range?query=up&start=0&end=10&step=0"), bad, err("bad_data", "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer")).await;
    golden(
        &app,
        get("/api/v1/query_range?query=up&start=0&end=10"),
        bad,
        err(
            "bad_data",
            "invalid parameter \"step\": cannot parse \"\" to a valid duration",
        ),
    )
    .await;
    golden(
        &app,
        get("/api/v1/query_range?query=up&end=10&step=1"),
        bad,
        err(
            "bad_data",
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp",
        ),
    )
    .await;
    golden(
        &app,
        get("/api/v1/query_range?query=up&start=0&end=100000&step=1"),
        bad,
        err("bad_data", "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"),
    )
    .await;
    golden(
        &app,
        get(&format!("/api/v1/query_range?query={}&start=0&end=10&step=1", enc("up[5m]"))),
        bad,
        err("bad_data", "invalid parameter \"query\": invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"),
    )
    .await;
    // info(): the second argument must be a label selector.
    for (q, msg) in [
        (
            "info(up, 1)",
            "expected type instant vector in call to function \"info\", got scalar",
        ),
        (
            "info(up[5m])",
            "expected type instant vector in call to function \"info\", got range vector",
        ),
        (
            "info(up, target_info{job=\"api\"})",
            "expected label selectors only as the second argument to \"info\"",
        ),
    ] {
        golden(
            &app,
            get(&format!("/api/v1/query?query={}", enc(q))),
            bad,
            err(
                "bad_data",
                &format!("invalid parameter \"query\": 1:1: parse error: {msg}"),
            ),
        )
        .await;
    }
    // Evaluation errors are 422 "execution".
    golden(
        &app,
        get(&format!(
            "/api/v1/query?query={}&time=60",
            enc("label_replace(http_requests_total, \"code\", \"x\", \"\", \"\")")
        )),
        StatusCode::UNPROCESSABLE_ENTITY,
        err(
            "execution",
            "vector cannot contain metrics with the same labelset",
        ),
    )
    .await;
}

#[tokio::test]
async fn limits() {
    let mut opts = query::ApiOptions::default();
    opts.engine.max_samples = 6;
    let (_d, app) = app_with(opts).await;
    // 5 samples of `up` fit; the 10 of http_requests_total do not.
    golden(&app, get(&format!("/api/v1/query?query={}&time=60", enc("count_over_time(up[1m])"))), StatusCode::OK, ok(json!({"resultType": "vector", "result": [{"metric": {"instance": "a:9090", "job": "api"}, "value": [60, "4"]}]}))).await;
    golden(
        &app,
        get(&format!(
            "/api/v1/query_range?query={}&start=0&end=60&step=15",
            enc("http_requests_total")
        )),
        StatusCode::UNPROCESSABLE_ENTITY,
        err(
            "execution",
            "query processing would load too many samples into memory in query execution",
        ),
    )
    .await;
    // A deadline already past when evaluation starts.
    let mut opts = query::ApiOptions::default();
    opts.engine.timeout = std::time::Duration::from_nanos(1);
    let (_d2, app) = app_with(opts).await;
    golden(
        &app,
        get("/api/v1/query?query=up&time=60"),
        StatusCode::SERVICE_UNAVAILABLE,
        err("timeout", "query timed out in query execution"),
    )
    .await;
}
