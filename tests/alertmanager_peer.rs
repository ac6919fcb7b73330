//! The notifier against a real Alertmanager (Debian `prometheus-alertmanager`): alerts reach a
//! webhook receiver with their labels and annotations, then resolve; retries and failures are
//! counted per Alertmanager.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rules::notifier::{AlertingConfig, Notifier, NotifierOptions};
use serde_json::Value;
use tsdb::Labels;

/// A tiny HTTP server: answers each request with the next status of `codes` (then 200) and
/// passes every request body to the returned channel.
fn http_sink(codes: Vec<u16>) -> (u16, mpsc::Receiver<(String, String)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut codes = codes.into_iter();
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut first = String::new();
            if r.read_line(&mut first).is_err() {
                continue;
            }
            let mut len = 0usize;
            let mut auth = String::new();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("authorization:") {
                    auth = h["authorization:".len()..].trim().to_string();
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let code = codes.next().unwrap_or(200);
            let _ = write!(
                c,
                "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = tx.send((auth, String::from_utf8_lossy(&body).into_owned()));
        }
    });
    (port, rx)
}

struct Alertmanager {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Alertmanager routing everything to the webhook on `hook_port`, grouping fast.
fn start_alertmanager(bin: &PathBuf, port: u16, hook_port: u16) -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &cfg,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{hook_port}/hook\n        send_resolved: true\n"
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting alertmanager");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if ureq::get(&format!("http://127.0.0.1:{port}/-/ready"))
            .call()
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "alertmanager did not get ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    Alertmanager { child, _dir: dir }
}

fn config(targets: &[String]) -> AlertingConfig {
    serde_json::from_value(serde_json::json!({
        "alertmanagers": [{ "static_configs": [{ "targets": targets }], "timeout": "2s" }]
    }))
    .unwrap()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Requests a webhook received: (authorization header, body).
type Hooks = mpsc::Receiver<(String, String)>;

/// A running Alertmanager (port, its webhook's requests, handle), or None when absent.
fn alertmanager_with_webhook() -> Option<(u16, Hooks, Alertmanager)> {
    let bin = common::peer_binary("prometheus-alertmanager")
        .or_else(|| common::peer_binary("alertmanager"))?;
    let (hook_port, hooks) = http_sink(Vec::new());
    let am_port = common::free_port();
    let am = start_alertmanager(&bin, am_port, hook_port);
    Some((am_port, hooks, am))
}

/// Waits for a webhook notification whose `status` is `status`.
fn next_notification(rx: &mpsc::Receiver<(String, String)>, status: &str) -> Value {
    next_notification_within(rx, status, 30)
}

#[test]
fn alerts_reach_the_webhook_and_resolve() {
    let Some((am_port, hooks, _am)) = alertmanager_with_webhook() else {
        return;
    };
    let down = format!("127.0.0.1:{}", common::free_port());
    let n = Notifier::new(
        config(&[format!("127.0.0.1:{am_port}"), down.clone()]),
        NotifierOptions {
            external_labels: vec![("cluster".into(), "home".into())],
            retry_backoff: Duration::from_millis(50),
            ..Default::default()
        },
    );
    let started = now_ms();
    let alert = rules::notifier::Alert {
        labels: Labels::from_pairs(&[
            ("alertname", "NodeDown"),
            ("instance", "pi-1"),
            ("severity", "critical"),
        ]),
        annotations: Labels::from_pairs(&[("summary", "Node pi-1 is down")]),
        starts_at_ms: started,
        ends_at_ms: started + 4 * 60_000,
        generator_url: "http://vitals/graph?g0.expr=up+%3D%3D+0".into(),
    };
    n.send(vec![alert.clone()]);
    let firing = next_notification(&hooks, "firing");
    let a = &firing["alerts"][0];
    assert_eq!(a["labels"]["alertname"], "NodeDown");
    assert_eq!(a["labels"]["instance"], "pi-1");
    assert_eq!(a["labels"]["cluster"], "home", "external label added");
    assert_eq!(a["annotations"]["summary"], "Node pi-1 is down");
    assert_eq!(a["generatorURL"], alert.generator_url);

    let mut resolved = alert;
    resolved.ends_at_ms = now_ms();
    n.send(vec![resolved]);
    let done = next_notification(&hooks, "resolved");
    assert_eq!(done["alerts"][0]["labels"]["alertname"], "NodeDown");
    assert_eq!(done["alerts"][0]["status"], "resolved");

    n.stop();
    let stats = n.stats();
    let am = &stats[&format!("http://127.0.0.1:{am_port}/api/v2/alerts")];
    let dead = &stats[&format!("http://{down}/api/v2/alerts")];
    assert_eq!((am.sent, am.errors), (2, 0));
    assert_eq!((dead.sent, dead.errors), (0, 2));
    assert_eq!(n.dropped(), 0, "one Alertmanager accepting is enough");
    let mut m = String::new();
    n.render_metrics(&mut m);
    assert!(m.contains(&format!(
        "prometheus_notifications_errors_total{{alertmanager=\"http://{down}/api/v2/alerts\"}} 2"
    )));
}

/// A firing alert with only a name, no end, no annotations.
fn bare_alert(name: &str) -> rules::notifier::Alert {
    rules::notifier::Alert {
        labels: Labels::from_pairs(&[("alertname", name)]),
        annotations: Labels::default(),
        starts_at_ms: 1,
        ends_at_ms: 0,
        generator_url: String::new(),
    }
}

#[test]
fn retries_server_errors_then_delivers_with_auth() {
    let (port, bodies) = http_sink(vec![503, 429]);
    let mut cfg = config(&[format!("127.0.0.1:{port}")]);
    cfg.alertmanagers[0].http.authorization =
        Some(serde_json::from_value(serde_json::json!({"credentials": "s3cret"})).unwrap());
    let n = Notifier::new(
        cfg,
        NotifierOptions {
            retry_backoff: Duration::from_millis(20),
            ..Default::default()
        },
    );
    n.send(vec![bare_alert("A")]);
    for _ in 0..3 {
        let (auth, body) = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(auth, "Bearer s3cret");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v[0]["labels"]["alertname"], "A");
        assert!(v[0].get("endsAt").is_none(), "unset endsAt is omitted");
    }
    n.stop();
    let s = n.stats()[&format!("http://127.0.0.1:{port}/api/v2/alerts")];
    assert_eq!((s.sent, s.errors), (1, 0));
}

#[test]
fn client_errors_are_not_retried() {
    let (port, bodies) = http_sink(vec![400]);
    let n = Notifier::new(
        config(&[format!("127.0.0.1:{port}")]),
        NotifierOptions {
            retry_backoff: Duration::from_millis(20),
            ..Default::default()
        },
    );
    n.send(vec![bare_alert("B")]);
    bodies.recv_timeout(Duration::from_secs(10)).unwrap();
    n.stop();
    assert!(bodies.try_recv().is_err(), "a 400 is not retried");
    assert_eq!(n.dropped(), 1);
}

/// The whole path through `vitals store`: a rule's condition becomes true (remote write),
/// the rule fires, Alertmanager's webhook receives it with rendered annotations, then the
/// resolved notification; prints the condition-true → webhook latency at a 15 s interval.
#[test]
fn store_rule_fires_to_the_webhook_and_resolves() {
    let Some((am_port, hooks, _am)) = alertmanager_with_webhook() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  evaluation_interval: 15s\n  external_labels: {{cluster: home}}\nrule_files: [hot.yml]\n\
             alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:{am_port}']\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.path().join("hot.yml"),
        "groups:\n- name: hot\n  rules:\n  - alert: Hot\n    expr: hot > 0\n    labels: {severity: page}\n    annotations:\n      summary: '{{ $labels.instance }} is at {{ $value | humanizePercentage }}'\n",
    )
    .unwrap();
    let flags = ["--config.file", cfg.to_str().unwrap()];
    let (s, _) = common::Server::start(&d.path().join("data"), common::free_port(), &flags);
    let push = |v: f64| {
        let req = remote::prompb::WriteRequest {
            timeseries: vec![common::ts(
                "hot",
                &[("instance", "a".to_string())],
                now_ms(),
                v,
            )],
            ..Default::default()
        };
        assert_eq!(common::write(&s.url, &req), Ok(204));
    };
    push(0.0);
    std::thread::sleep(Duration::from_secs(1));
    let became_true = now_ms();
    push(0.97);
    let fired = next_notification_within(&hooks, "firing", 40);
    let latency = now_ms() - became_true;
    let a = &fired["alerts"][0];
    assert_eq!(a["labels"]["alertname"], "Hot");
    assert_eq!(a["labels"]["instance"], "a");
    assert_eq!(a["labels"]["severity"], "page");
    assert_eq!(a["labels"]["cluster"], "home");
    assert_eq!(a["annotations"]["summary"], "a is at 97%");
    eprintln!("condition true → webhook (firing): {latency} ms at a 15 s evaluation interval");
    assert!(latency < 15_000 + 5_000, "latency {latency} ms");
    let cleared = now_ms();
    push(0.0);
    let resolved = next_notification_within(&hooks, "resolved", 40);
    assert_eq!(resolved["alerts"][0]["labels"]["alertname"], "Hot");
    eprintln!(
        "condition false → webhook (resolved): {} ms",
        now_ms() - cleared
    );
}

/// Like `next_notification`, with a deadline in seconds.
fn next_notification_within(
    rx: &mpsc::Receiver<(String, String)>,
    status: &str,
    secs: u64,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok((_, body)) = rx.recv_timeout(left) else {
            break;
        };
        let v: Value = serde_json::from_str(&body).expect("webhook body is JSON");
        if v["status"] == status {
            return v;
        }
    }
    panic!("no {status} notification within {secs} s");
}
