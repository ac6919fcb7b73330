//! `/api/v1/rules`, `/api/v1/alerts`, `/api/v1/alertmanagers` and `/-/reload` over a
//! manager with an in-memory store: Prometheus' JSON shapes, filters, reload semantics.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use query::promql::MemStorage;
use rules::manager::{Manager, ManagerOptions};
use serde_json::{json, Value};
use tower::ServiceExt;
use tsdb::Labels;

const RULES: &str = r#"groups:
- name: g1
  interval: 10s
  rules:
  - record: job:x:sum
    expr: sum by (job) (x)
  - alert: XHigh
    expr: job:x:sum > 1
    for: 1m
    labels: {severity: page}
    annotations: {summary: "{{ $labels.job }} at {{ $value }}"}
- name: g2
  rules:
  - alert: Always
    expr: vector(1)
"#;

const CONFIG: &str = r#"global:
  evaluation_interval: 30s
  external_labels: {cluster: c1}
rule_files: ["*.rules.yml"]
alerting:
  alertmanagers:
  - static_configs:
    - targets: ["127.0.0.1:9"]
scrape_configs: []
"#;

fn setup(dir: &Path) -> (Arc<MemStorage>, Arc<Manager>, axum::Router) {
    std::fs::write(dir.join("prometheus.yml"), CONFIG).unwrap();
    std::fs::write(dir.join("a.rules.yml"), RULES).unwrap();
    let st = Arc::new(MemStorage::new());
    let m = Manager::new(
        st.clone(),
        Some(dir.join("prometheus.yml")),
        ManagerOptions {
            external_url: "http://vitals:9090".into(),
            ..ManagerOptions::default()
        },
    )
    .unwrap();
    let app = rules::api::router(m.clone());
    (st, m, app)
}

async fn call(app: &axum::Router, method: &str, uri: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let s = resp.status();
    let b = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&b).unwrap_or_else(|_| json!(String::from_utf8_lossy(&b)));
    (s, v)
}

#[tokio::test]
async fn rules_and_alerts_have_prometheus_shapes() {
    let d = tempfile::tempdir().unwrap();
    let (st, m, app) = setup(d.path());
    let x = Labels::from_pairs(&[("__name__", "x"), ("job", "j")]);
    let t0 = 1_700_000_010_000i64; // aligned to 10 s and 30 s
    st.add(x.clone(), t0 - 5_000, 2.0);
    m.tick(t0 - 1); // schedules
    m.tick(t0); // evaluates both groups at t0
    let (s, v) = call(&app, "GET", "/api/v1/rules").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "success");
    let groups = v["data"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let g1 = &groups[0];
    assert_eq!(g1["name"], "g1");
    assert!(g1["file"].as_str().unwrap().ends_with("a.rules.yml"));
    assert_eq!(g1["interval"], 10.0);
    assert_eq!(groups[1]["interval"], 30.0, "global.evaluation_interval");
    assert_eq!(g1["limit"], 0);
    assert_eq!(g1["lastEvaluation"], "2023-11-14T22:13:30Z");
    let rec = &g1["rules"][0];
    assert_eq!(rec["type"], "recording");
    assert_eq!(rec["name"], "job:x:sum");
    assert_eq!(rec["query"], "sum by (job) (x)");
    assert_eq!(rec["health"], "ok");
    let al = &g1["rules"][1];
    assert_eq!(al["type"], "alerting");
    assert_eq!(al["state"], "pending");
    assert_eq!(al["duration"], 60.0);
    assert_eq!(al["keepFiringFor"], 0.0);
    assert_eq!(al["labels"], json!({"severity": "page"}));
    assert_eq!(
        al["annotations"]["summary"],
        "{{ $labels.job }} at {{ $value }}"
    );
    let a = &al["alerts"][0];
    assert_eq!(
        a["labels"],
        json!({"alertname": "XHigh", "job": "j", "severity": "page"})
    );
    assert_eq!(a["annotations"], json!({"summary": "j at 2"}));
    assert_eq!(a["state"], "pending");
    assert_eq!(a["activeAt"], "2023-11-14T22:13:30Z");
    assert_eq!(a["value"], "2e+00");

    // Filters.
    let names = |v: &Value| -> Vec<String> {
        v["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap().iter())
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    for (q, want) in [
        ("?type=alert", vec!["XHigh", "Always"]),
        ("?type=record", vec!["job:x:sum"]),
        (
            "?rule_name[]=Always&rule_name[]=job:x:sum",
            vec!["job:x:sum", "Always"],
        ),
        ("?rule_group[]=g2", vec!["Always"]),
        ("?group_name[]=g1&type=alert", vec!["XHigh"]),
        ("?file[]=nope.yml", vec![]),
        ("?match[]={severity=\"page\"}", vec!["XHigh"]),
    ] {
        let (s, v) = call(
            &app,
            "GET",
            &format!("/api/v1/rules{}", q.replace('"', "%22")),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{q}");
        assert_eq!(names(&v), want, "{q}");
    }
    let (_, v) = call(&app, "GET", "/api/v1/rules?exclude_alerts=true&type=alert").await;
    assert_eq!(v["data"]["groups"][0]["rules"][0]["alerts"], json!([]));
    let (_, v) = call(&app, "GET", "/api/v1/rules?group_limit=1").await;
    assert_eq!(v["data"]["groups"].as_array().unwrap().len(), 1);
    let tok = v["data"]["groupNextToken"].as_str().unwrap().to_string();
    let (_, v) = call(
        &app,
        "GET",
        &format!("/api/v1/rules?group_limit=1&group_next_token={tok}"),
    )
    .await;
    assert_eq!(v["data"]["groups"][0]["name"], "g2");
    for (q, msg) in [
        ("?type=foo", "invalid parameter \"type\": not supported value \"foo\""),
        ("?exclude_alerts=maybe", "invalid parameter \"exclude_alerts\": error converting exclude_alerts: strconv.ParseBool: parsing \"maybe\": invalid syntax"),
        ("?group_next_token=abc", "invalid parameter \"group_next_token\": group_limit needs to be present in order to paginate over the groups"),
        ("?group_limit=0", "invalid parameter \"group_limit\": group_limit needs to be greater than 0"),
        ("?group_limit=2&group_next_token=abc", "invalid parameter \"group_next_token\": invalid group_next_token 'abc'. were rule groups changed?"),
    ] {
        let (s, v) = call(&app, "GET", &format!("/api/v1/rules{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(v, json!({"status": "error", "errorType": "bad_data", "error": msg}), "{q}");
    }

    let (s, v) = call(&app, "GET", "/api/v1/alerts").await;
    assert_eq!(s, StatusCode::OK);
    let alerts = v["data"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[1]["labels"], json!({"alertname": "Always"}));
    assert_eq!(alerts[1]["state"], "firing");
    let (_, v) = call(&app, "GET", "/api/v1/alertmanagers").await;
    assert_eq!(
        v["data"],
        json!({"activeAlertmanagers": [{"url": "http://127.0.0.1:9/api/v2/alerts"}], "droppedAlertmanagers": []})
    );
    m.notifier().stop();
}

#[tokio::test]
async fn reload_keeps_state_of_unchanged_rules_and_old_rules_on_error() {
    let d = tempfile::tempdir().unwrap();
    let (st, m, app) = setup(d.path());
    st.add(
        Labels::from_pairs(&[("__name__", "x"), ("job", "j")]),
        0,
        2.0,
    );
    m.tick(59_999);
    m.tick(60_000);
    let active_at = |v: &Value| v["data"]["alerts"][0]["activeAt"].clone();
    let (_, before) = call(&app, "GET", "/api/v1/alerts").await;
    assert_eq!(active_at(&before), "1970-01-01T00:01:00Z");

    // Change only the second group: XHigh keeps its pending alert.
    let changed = RULES.replace("expr: vector(1)", "expr: vector(2)");
    std::fs::write(d.path().join("a.rules.yml"), &changed).unwrap();
    let (s, _) = call(&app, "POST", "/-/reload").await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = call(&app, "GET", "/api/v1/rules?rule_name[]=XHigh").await;
    let a = &v["data"]["groups"][0]["rules"][0]["alerts"][0];
    assert_eq!(a["state"], "pending");
    assert_eq!(a["activeAt"], "1970-01-01T00:01:00Z");
    let (_, v) = call(&app, "GET", "/api/v1/rules?rule_name[]=Always").await;
    assert_eq!(v["data"]["groups"][0]["rules"][0]["query"], "vector(2)");
    assert_eq!(
        v["data"]["groups"][0]["rules"][0]["alerts"],
        json!([]),
        "changed rule starts fresh"
    );

    // A broken file: reload fails naming file and line, the old rules stay.
    std::fs::write(
        d.path().join("b.rules.yml"),
        "groups:\n- name: bad\n  rules:\n  - alert: B\n    expr: up +\n",
    )
    .unwrap();
    let (s, v) = call(&app, "POST", "/-/reload").await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let msg = v.as_str().unwrap();
    assert!(
        msg.contains("b.rules.yml: 5:11: group \"bad\", rule 1, \"B\": could not parse expression"),
        "{msg}"
    );
    let (_, v) = call(&app, "GET", "/api/v1/rules").await;
    assert_eq!(v["data"]["groups"].as_array().unwrap().len(), 2);
    assert!(m.reload().is_err());
}

/// Accepts one HTTP request, answers 200, and passes (request line, body) on.
fn one_request(l: std::net::TcpListener) -> std::sync::mpsc::Receiver<(String, String)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut c, _)) = l.accept() else { return };
        let mut r = BufReader::new(c.try_clone().unwrap());
        let mut first = String::new();
        let _ = r.read_line(&mut first);
        let mut len = 0;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        let _ = r.read_exact(&mut body);
        let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = tx.send((first, String::from_utf8_lossy(&body).into_owned()));
    });
    rx
}

#[test]
fn firing_alerts_go_to_the_alertmanager_with_ends_at() {
    let d = tempfile::tempdir().unwrap();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = one_request(l);
    let cfg = CONFIG.replace("127.0.0.1:9\"", &format!("127.0.0.1:{port}\""));
    std::fs::write(d.path().join("prometheus.yml"), cfg).unwrap();
    std::fs::write(d.path().join("a.rules.yml"), RULES).unwrap();
    let st = Arc::new(MemStorage::new());
    let m = Manager::new(
        st,
        Some(d.path().join("prometheus.yml")),
        ManagerOptions::default(),
    )
    .unwrap();
    m.tick(59_999);
    m.tick(60_000); // `Always` fires at its first evaluation (no `for`)
    let (line, body) = got
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("no request reached the Alertmanager");
    assert!(line.starts_with("POST /api/v2/alerts "), "{line}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v[0]["labels"],
        json!({"alertname": "Always", "cluster": "c1"})
    );
    assert_eq!(v[0]["startsAt"], "1970-01-01T00:01:00Z");
    // eval time + 4 × max(resend delay 1m, interval 30s)
    assert_eq!(v[0]["endsAt"], "1970-01-01T00:05:00Z");
    m.notifier().stop();
}

#[test]
fn delivery_is_counted_and_timed_per_alertmanager() {
    use rules::notifier::{Alert, AlertingConfig, Notifier, NotifierOptions};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = one_request(l);
    let cfg: AlertingConfig = serde_json::from_value(json!({
        "alertmanagers": [{"static_configs": [{"targets": [format!("127.0.0.1:{port}")]}]}]
    }))
    .unwrap();
    let n = Notifier::new(cfg, NotifierOptions::default());
    n.send(vec![Alert {
        labels: Labels::from_pairs(&[("alertname", "X")]),
        annotations: Labels::default(),
        starts_at_ms: 0,
        ends_at_ms: 0,
        generator_url: String::new(),
    }]);
    got.recv_timeout(std::time::Duration::from_secs(20))
        .expect("no request reached the Alertmanager");
    let url = format!("http://127.0.0.1:{port}/api/v2/alerts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while n.stats().get(&url).map(|d| d.sent) != Some(1) {
        assert!(std::time::Instant::now() < deadline, "{:?}", n.stats());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut out = String::new();
    n.render_metrics(&mut out);
    n.stop();
    assert!(
        out.contains(&format!(
            "prometheus_notifications_sent_total{{alertmanager=\"{url}\"}} 1\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "prometheus_notifications_latency_seconds_count{{alertmanager=\"{url}\"}} 1\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "prometheus_notifications_latency_seconds{{alertmanager=\"{url}\",quantile=\"0.99\"}} "
        )),
        "{out}"
    );
    assert!(out.contains("# TYPE prometheus_notifications_latency_seconds summary\n"));
}
