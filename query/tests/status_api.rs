//! Golden request → response tests of the status and metadata endpoints: full JSON bodies
//! in Prometheus' shapes, volatile fields (times, host, counts of the runtime) by format.

mod common;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use common::{get, post_form};

fn setup_with(
    opts: query::ApiOptions,
    db_opts: tsdb::Options,
) -> (tempfile::TempDir, Arc<tsdb::Db>, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(tsdb::Db::open(dir.path(), db_opts).unwrap());
    let app = query::router(db.clone(), opts);
    (dir, db, app)
}

fn setup() -> (tempfile::TempDir, Arc<tsdb::Db>, axum::Router) {
    setup_with(query::ApiOptions::default(), tsdb::Options::default())
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let b = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&b)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&b)));
    assert_eq!(ct.as_deref(), Some("application/json"));
    (status, v)
}

fn ok(data: Value) -> Value {
    json!({"status": "success", "data": data})
}

fn bad_data(msg: &str) -> Value {
    json!({"status": "error", "errorType": "bad_data", "error": msg})
}

/// Asserts `s` is an RFC 3339 UTC time as Go prints it (optional trimmed fraction).
fn assert_rfc3339(s: &Value) {
    let s = s.as_str().unwrap_or_else(|| panic!("not a string: {s}"));
    let b = s.as_bytes();
    assert!(s.len() >= 20 && s.ends_with('Z'), "{s}");
    for (i, c) in b[..19].iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(*c, b'-', "{s}"),
            10 => assert_eq!(*c, b'T', "{s}"),
            13 | 16 => assert_eq!(*c, b':', "{s}"),
            _ => assert!(c.is_ascii_digit(), "{s}"),
        }
    }
    let frac = &s[19..s.len() - 1];
    if !frac.is_empty() {
        let digits = frac.strip_prefix('.').unwrap_or_else(|| panic!("{s}"));
        assert!((1..=9).contains(&digits.len()), "{s}");
        assert!(digits.bytes().all(|c| c.is_ascii_digit()), "{s}");
        assert!(!digits.ends_with('0'), "{s}");
    }
}

#[tokio::test]
async fn buildinfo() {
    let (_d, _db, app) = setup();
    let (s, v) = call(&app, get("/api/v1/status/buildinfo")).await;
    assert_eq!(s, StatusCode::OK);
    let data = v["data"].as_object().unwrap();
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "version",
            "revision",
            "branch",
            "buildUser",
            "buildDate",
            "goVersion"
        ]
    );
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(data
        .values()
        .all(|x| x.as_str().is_some_and(|s| !s.is_empty())));
    assert!(v["data"]["goVersion"]
        .as_str()
        .unwrap()
        .starts_with("rustc"));
    // No `features`: Grafana would detect Mimir.
    assert!(v["data"].get("features").is_none());
}

#[tokio::test]
async fn runtimeinfo() {
    let start = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
    let (_d, _db, app) = setup_with(
        query::ApiOptions {
            start_time: start,
            ..Default::default()
        },
        tsdb::Options::default(),
    );
    let (s, mut v) = call(&app, get("/api/v1/status/runtimeinfo")).await;
    assert_eq!(s, StatusCode::OK);
    let data = v["data"].as_object_mut().unwrap();
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "startTime",
            "CWD",
            "hostname",
            "serverTime",
            "reloadConfigSuccess",
            "lastConfigTime",
            "corruptionCount",
            "goroutineCount",
            "GOMAXPROCS",
            "GOMEMLIMIT",
            "GOGC",
            "GODEBUG",
            "storageRetention"
        ]
    );
    assert_eq!(data["startTime"], "2023-11-14T22:13:20.123456789Z");
    assert_eq!(data["lastConfigTime"], "2023-11-14T22:13:20Z");
    assert_rfc3339(&data["serverTime"]);
    assert_eq!(
        data["CWD"],
        std::env::current_dir().unwrap().display().to_string()
    );
    assert!(data["hostname"].is_string());
    assert!(data["goroutineCount"].as_u64().is_some());
    assert!(data["GOMAXPROCS"].as_u64().unwrap() >= 1);
    assert!(data["GOGC"].is_string() && data["GODEBUG"].is_string());
    for k in [
        "serverTime",
        "hostname",
        "goroutineCount",
        "GOMAXPROCS",
        "GOGC",
        "GODEBUG",
        "CWD",
    ] {
        data.remove(k);
    }
    assert_eq!(
        v,
        ok(json!({
            "startTime": "2023-11-14T22:13:20.123456789Z",
            "reloadConfigSuccess": true,
            "lastConfigTime": "2023-11-14T22:13:20Z",
            "corruptionCount": 0,
            "GOMEMLIMIT": i64::MAX,
            "storageRetention": "15d",
        }))
    );
}

#[tokio::test]
async fn runtimeinfo_retention_variants() {
    for (time_ms, size, want) in [
        (15 * 86_400_000, 512u64 << 20, "15d or 512MiB"),
        (0, 1 << 30, "1GiB"),
        (0, 0, ""),
        (14 * 86_400_000, 0, "2w"),
    ] {
        let (_d, _db, app) = setup_with(
            query::ApiOptions::default(),
            tsdb::Options {
                retention_time_ms: time_ms,
                retention_size_bytes: size,
                ..Default::default()
            },
        );
        let (_, v) = call(&app, get("/api/v1/status/runtimeinfo")).await;
        assert_eq!(v["data"]["storageRetention"], want);
    }
}

#[tokio::test]
async fn flags_sorted_by_name() {
    let flags = vec![
        (
            "web.listen-address".to_string(),
            "127.0.0.1:9090".to_string(),
        ),
        ("storage.tsdb.path".to_string(), "data".to_string()),
        ("storage.tsdb.retention.time".to_string(), "15d".to_string()),
    ];
    let (_d, _db, app) = setup_with(
        query::ApiOptions {
            flags,
            ..Default::default()
        },
        tsdb::Options::default(),
    );
    let (s, v) = call(&app, get("/api/v1/status/flags")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        ok(json!({
            "storage.tsdb.path": "data",
            "storage.tsdb.retention.time": "15d",
            "web.listen-address": "127.0.0.1:9090",
        }))
    );
    let keys: Vec<&String> = v["data"].as_object().unwrap().keys().collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));

    let (_d, _db, app) = setup();
    assert_eq!(
        call(&app, get("/api/v1/status/flags")).await,
        (StatusCode::OK, ok(json!({})))
    );
}

#[tokio::test]
async fn config_yaml() {
    let (_d, _db, app) = setup();
    let (s, v) = call(&app, get("/api/v1/status/config")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        ok(
            json!({"yaml": "global:\n  scrape_interval: 1m\n  scrape_timeout: 10s\n  evaluation_interval: 1m\n"})
        )
    );

    let (_d, _db, app) = setup_with(
        query::ApiOptions::default(),
        tsdb::Options {
            out_of_order_window_ms: 600_000,
            ..Default::default()
        },
    );
    let (_, v) = call(&app, get("/api/v1/status/config")).await;
    assert_eq!(
        v["data"]["yaml"],
        "global:\n  scrape_interval: 1m\n  scrape_timeout: 10s\n  evaluation_interval: 1m\n\
         storage:\n  tsdb:\n    out_of_order_time_window: 10m\n"
    );
}

#[tokio::test]
async fn tsdb_status_empty_head() {
    let (_d, _db, app) = setup();
    let (s, v) = call(&app, get("/api/v1/status/tsdb")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        ok(json!({
            "headStats": {
                "numSeries": 0,
                "numLabelPairs": 0,
                "chunkCount": 0,
                "minTime": i64::MAX,
                "maxTime": i64::MIN,
            },
            "seriesCountByMetricName": [],
            "labelValueCountByLabelName": [],
            "memoryInBytesByLabelName": [],
            "seriesCountByLabelValuePair": [],
        }))
    );
}

fn load(db: &tsdb::Db) {
    let series: Vec<Vec<(&str, &str)>> = vec![
        vec![("__name__", "up"), ("instance", "a:9100"), ("job", "node")],
        vec![("__name__", "up"), ("instance", "b:9100"), ("job", "node")],
        vec![("__name__", "up"), ("instance", "c:9090"), ("job", "prom")],
        vec![
            ("__name__", "node_load1"),
            ("instance", "a:9100"),
            ("job", "node"),
        ],
    ];
    let samples: &[(i64, f64)] = &[(1000, 1.0), (2000, 1.0)];
    let batch: Vec<_> = series.iter().map(|s| (s.as_slice(), samples)).collect();
    db.append_batch(&batch).unwrap();
}

#[tokio::test]
async fn tsdb_status_counts_and_limit() {
    let (_d, db, app) = setup();
    load(&db);
    let (s, v) = call(&app, get("/api/v1/status/tsdb")).await;
    assert_eq!(s, StatusCode::OK);
    let nv = |n: &str, v: u64| json!({"name": n, "value": v});
    assert_eq!(
        v,
        ok(json!({
            "headStats": {
                "numSeries": 4,
                "numLabelPairs": 7,
                "chunkCount": 4,
                "minTime": 1000,
                "maxTime": 2000,
            },
            "seriesCountByMetricName": [nv("up", 3), nv("node_load1", 1)],
            "labelValueCountByLabelName": [nv("instance", 3), nv("__name__", 2), nv("job", 2)],
            // value bytes × series: instance 4×6, __name__ 3×2+10, job 3×4+4.
            "memoryInBytesByLabelName": [nv("instance", 24), nv("__name__", 16), nv("job", 16)],
            "seriesCountByLabelValuePair": [
                nv("__name__=up", 3),
                nv("job=node", 3),
                nv("instance=a:9100", 2),
                nv("__name__=node_load1", 1),
                nv("instance=b:9100", 1),
                nv("instance=c:9090", 1),
                nv("job=prom", 1),
            ],
        }))
    );

    let (s, v) = call(&app, get("/api/v1/status/tsdb?limit=1")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["headStats"]["numSeries"], 4);
    assert_eq!(v["data"]["seriesCountByMetricName"], json!([nv("up", 3)]));
    assert_eq!(
        v["data"]["labelValueCountByLabelName"],
        json!([nv("instance", 3)])
    );
    assert_eq!(
        v["data"]["memoryInBytesByLabelName"],
        json!([nv("instance", 24)])
    );
    assert_eq!(
        v["data"]["seriesCountByLabelValuePair"],
        json!([nv("__name__=up", 3)])
    );
}

#[tokio::test]
async fn tsdb_status_bad_limit() {
    let (_d, _db, app) = setup();
    for q in ["limit=0", "limit=-3", "limit=abc", "limit=1.5"] {
        assert_eq!(
            call(&app, get(&format!("/api/v1/status/tsdb?{q}"))).await,
            (
                StatusCode::BAD_REQUEST,
                bad_data("limit must be a positive number")
            ),
            "{q}"
        );
    }
    assert_eq!(
        call(&app, get("/api/v1/status/tsdb?limit=10001")).await,
        (
            StatusCode::BAD_REQUEST,
            bad_data("limit must not exceed 10000")
        )
    );
    let (s, _) = call(&app, get("/api/v1/status/tsdb?limit=10000")).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn metadata() {
    let (_d, db, app) = setup();
    load(&db);
    for req in [
        get("/api/v1/metadata"),
        get("/api/v1/metadata?metric=up&limit=5&limit_per_metric=1"),
        get("/api/v1/metadata?limit=-1"),
        post_form("/api/v1/metadata", "metric=up&limit=2"),
    ] {
        assert_eq!(call(&app, req).await, (StatusCode::OK, ok(json!({}))));
    }
    assert_eq!(
        call(&app, get("/api/v1/metadata?limit=x")).await,
        (StatusCode::BAD_REQUEST, bad_data("limit must be a number"))
    );
    assert_eq!(
        call(&app, post_form("/api/v1/metadata", "limit_per_metric=1e3")).await,
        (
            StatusCode::BAD_REQUEST,
            bad_data("limit_per_metric must be a number")
        )
    );
}

#[tokio::test]
async fn query_exemplars() {
    let (_d, _db, app) = setup();
    for req in [
        get("/api/v1/query_exemplars?query=up"),
        get("/api/v1/query_exemplars?query=up&start=1000&end=2000"),
        get("/api/v1/query_exemplars?query=up&start=2023-11-14T22:13:20Z"),
        post_form("/api/v1/query_exemplars", "query=rate(up%5B5m%5D)&end=10"),
    ] {
        assert_eq!(call(&app, req).await, (StatusCode::OK, ok(json!([]))));
    }
    let no_expr = bad_data("1:1: parse error: no expression found in input");
    for req in [
        get("/api/v1/query_exemplars"),
        get("/api/v1/query_exemplars?query="),
        get("/api/v1/query_exemplars?start=1&end=2"),
        post_form("/api/v1/query_exemplars", "start=1"),
    ] {
        assert_eq!(
            call(&app, req).await,
            (StatusCode::BAD_REQUEST, no_expr.clone())
        );
    }
    assert_eq!(
        call(&app, get("/api/v1/query_exemplars?query=up&start=abc")).await,
        (
            StatusCode::BAD_REQUEST,
            bad_data("invalid parameter \"start\": cannot parse \"abc\" to a valid timestamp")
        )
    );
    assert_eq!(
        call(&app, get("/api/v1/query_exemplars?query=up&end=xyz")).await,
        (
            StatusCode::BAD_REQUEST,
            bad_data("invalid parameter \"end\": cannot parse \"xyz\" to a valid timestamp")
        )
    );
    assert_eq!(
        call(
            &app,
            get("/api/v1/query_exemplars?query=up&start=20&end=10")
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            bad_data("end timestamp must not be before start timestamp")
        )
    );
}

#[tokio::test]
async fn targets() {
    let (_d, _db, app) = setup();
    let all = ok(json!({"activeTargets": [], "droppedTargets": [], "droppedTargetCounts": {}}));
    for q in [
        "",
        "?state=any",
        "?state=dropped",
        "?state=DROPPED",
        "?scrapePool=x",
    ] {
        assert_eq!(
            call(&app, get(&format!("/api/v1/targets{q}"))).await,
            (StatusCode::OK, all.clone()),
            "{q}"
        );
    }
    assert_eq!(
        call(&app, get("/api/v1/targets?state=active")).await,
        (
            StatusCode::OK,
            ok(json!({"activeTargets": [], "droppedTargets": [], "droppedTargetCounts": null}))
        )
    );
}

#[tokio::test]
async fn targets_metadata() {
    let (_d, _db, app) = setup();
    for q in [
        "",
        "?metric=up",
        "?match_target=%7Bjob%3D%22node%22%7D&limit=3",
    ] {
        assert_eq!(
            call(&app, get(&format!("/api/v1/targets/metadata{q}"))).await,
            (StatusCode::OK, ok(json!([]))),
            "{q}"
        );
    }
    assert_eq!(
        call(&app, get("/api/v1/targets/metadata?limit=many")).await,
        (StatusCode::BAD_REQUEST, bad_data("limit must be a number"))
    );
    let (s, v) = call(&app, get("/api/v1/targets/metadata?match_target=%7Bjob%3D")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["errorType"], "bad_data");
    assert!(v["error"]
        .as_str()
        .unwrap()
        .starts_with("invalid parameter \"match_target\": "));
}

#[tokio::test]
async fn status_endpoints_are_counted_in_self_metrics() {
    let (_d, _db, app) = setup();
    call(&app, get("/api/v1/status/buildinfo")).await;
    call(&app, get("/api/v1/status/tsdb")).await;
    let resp = app.clone().oneshot(get("/metrics")).await.unwrap();
    let b = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(b.to_vec()).unwrap();
    assert!(text.contains("vitals_http_requests_total{handler=\"buildinfo\"} 1"));
    assert!(text.contains("vitals_http_requests_total{handler=\"tsdb_status\"} 1"));
}
