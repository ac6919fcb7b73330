//! `--web.config.file`: every route needs credentials and the right right; TLS and mutual TLS
//! with a CA generated here; certificates are reloaded when their files change.

mod common;

use std::time::Duration;

use common::pki::{basic, bcrypt_hash, start, Pki};
use remote::prompb::WriteRequest;

/// (method, path, right needed, status on success).
const ROUTES: &[(&str, &str, &str, u16)] = &[
    ("GET", "/api/v1/query?query=1", "read", 200),
    ("POST", "/api/v1/query?query=up", "read", 200),
    (
        "GET",
        "/api/v1/query_range?query=1&start=0&end=60&step=15",
        "read",
        200,
    ),
    ("GET", "/api/v1/series?match[]=up", "read", 200),
    ("GET", "/api/v1/labels", "read", 200),
    ("GET", "/api/v1/label/__name__/values", "read", 200),
    ("GET", "/api/v1/metadata", "read", 200),
    ("GET", "/api/v1/format_query?query=up", "read", 200),
    ("GET", "/api/v1/targets", "read", 200),
    ("GET", "/api/v1/status/config", "read", 200),
    ("GET", "/api/v1/status/flags", "read", 200),
    ("GET", "/api/v1/status/tsdb", "read", 200),
    ("GET", "/api/v1/rules", "read", 200),
    ("GET", "/api/v1/alerts", "read", 200),
    ("GET", "/api/v1/alertmanagers", "read", 200),
    ("GET", "/metrics", "read", 200),
    ("GET", "/federate?match[]=up", "read", 404),
    ("POST", "/api/v1/read", "read", 200),
    ("POST", "/api/v1/write", "write", 204),
    ("POST", "/-/reload", "admin", 200),
    ("POST", "/api/v1/admin/tsdb/snapshot", "admin", 503),
    (
        "POST",
        "/api/v1/admin/tsdb/delete_series?match[]=up",
        "admin",
        503,
    ),
    ("PUT", "/api/v1/admin/tsdb/clean_tombstones", "admin", 503),
];

fn body(path: &str) -> Vec<u8> {
    if path == "/api/v1/write" {
        let req = WriteRequest {
            timeseries: vec![common::ts("up", &[("job", "a".into())], 1_000, 1.0)],
            ..Default::default()
        };
        return remote::encode_write_request(&req);
    }
    if path == "/api/v1/read" {
        return common::read_body("up", 0, 10_000);
    }
    Vec::new()
}

/// Status and `WWW-Authenticate` of one request.
fn call(
    agent: &ureq::Agent,
    url: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, Option<String>) {
    let mut r = agent.request(method, &format!("{url}{path}"));
    if let Some(a) = auth {
        r = r.set("Authorization", a);
    }
    let b = body(path);
    if !b.is_empty() {
        r = r
            .set("Content-Encoding", "snappy")
            .set("Content-Type", "application/x-protobuf");
    }
    let resp = if method == "POST" {
        r.send_bytes(&b)
    } else {
        r.call()
    };
    match resp {
        Ok(r) => (r.status(), r.header("WWW-Authenticate").map(String::from)),
        Err(ureq::Error::Status(c, r)) => (c, r.header("WWW-Authenticate").map(String::from)),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

fn web_config(dir: &std::path::Path, tls: &str) -> String {
    let p = dir.join("web.yml");
    let h = bcrypt_hash("pw");
    std::fs::write(
        &p,
        format!(
            "{tls}basic_auth_users:\n  alice: {h}\n  reader: {h}\n  writer: {h}\nvitals:\n  user_rights:\n    reader: [read]\n    writer: [write]\n  bearer_tokens:\n    - name: agent\n      token: agent-token\n      rights: [write]\n    - name: grafana\n      token: grafana-token\n      rights: [read]\n"
        ),
    )
    .unwrap();
    p.display().to_string()
}

#[test]
fn every_route_needs_credentials_with_the_right_right() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = web_config(dir.path(), "");
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let _s = start(
        &dir.path().join("data"),
        port,
        &url,
        &agent,
        &["--web.config.file", &cfg],
    );
    for path in ["/-/healthy", "/-/ready"] {
        assert_eq!(
            call(&agent, &url, "GET", path, None).0,
            200,
            "{path} stays open"
        );
    }
    let alice = basic("alice", "pw");
    let wrong = [
        basic("alice", "wrong"),
        basic("mallory", "pw"),
        "Bearer nope".to_string(),
        "Basic !!!".to_string(),
    ];
    for &(method, path, right, ok) in ROUTES {
        let (code, challenge) = call(&agent, &url, method, path, None);
        assert_eq!(code, 401, "{method} {path} without credentials");
        let challenge = challenge.unwrap_or_default();
        assert!(
            challenge.contains("Basic") && challenge.contains("Bearer"),
            "{challenge}"
        );
        for w in &wrong {
            assert_eq!(
                call(&agent, &url, method, path, Some(w)).0,
                401,
                "{method} {path} with {w}"
            );
        }
        let (lacking, having) = match right {
            "read" => (
                vec![basic("writer", "pw"), "Bearer agent-token".into()],
                vec![
                    alice.clone(),
                    basic("reader", "pw"),
                    "Bearer grafana-token".into(),
                ],
            ),
            "write" => (
                vec![basic("reader", "pw"), "Bearer grafana-token".into()],
                vec![
                    alice.clone(),
                    basic("writer", "pw"),
                    "Bearer agent-token".into(),
                ],
            ),
            _ => (
                vec![
                    basic("reader", "pw"),
                    basic("writer", "pw"),
                    "Bearer agent-token".into(),
                ],
                vec![alice.clone()],
            ),
        };
        for l in &lacking {
            assert_eq!(
                call(&agent, &url, method, path, Some(l)).0,
                403,
                "{method} {path} with {l}"
            );
        }
        for h in &having {
            assert_eq!(
                call(&agent, &url, method, path, Some(h)).0,
                ok,
                "{method} {path} with {h}"
            );
        }
    }
    // The write above is readable back with read credentials.
    let r = agent
        .get(&format!("{url}/api/v1/query?query=up&time=2"))
        .set("Authorization", "Bearer grafana-token")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(r.contains("\"job\":\"a\""), "{r}");
}

/// A TLS store with `tls` settings and a fresh PKI, reached as `host`.
fn tls_server(
    tls: &str,
    host: &str,
    client_cert: bool,
) -> (tempfile::TempDir, Pki, String, common::Server) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path());
    let cfg = web_config(dir.path(), tls);
    let port = common::free_port();
    let url = format!("https://{host}:{port}");
    let agent = pki.agent(true, client_cert);
    let s = start(
        &dir.path().join("data"),
        port,
        &url,
        &agent,
        &["--web.config.file", &cfg],
    );
    (dir, pki, url, s)
}

#[test]
fn tls_serves_https_and_reloads_the_certificate() {
    let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    let (dir, pki, url, _s) = tls_server(tls, "localhost", false);
    let agent = pki.agent(true, false);
    let port = url.rsplit(':').next().unwrap().to_string();
    let alice = basic("alice", "pw");
    assert_eq!(
        call(&agent, &url, "GET", "/api/v1/query?query=1", Some(&alice)).0,
        200
    );
    assert_eq!(
        call(&agent, &url, "GET", "/api/v1/query?query=1", None).0,
        401
    );
    assert!(
        pki.agent(false, false)
            .get(&format!("{url}/-/healthy"))
            .call()
            .is_err(),
        "untrusted CA accepted"
    );
    let plain = ureq::get(&format!("http://127.0.0.1:{port}/-/healthy"))
        .timeout(Duration::from_secs(5))
        .call();
    assert!(plain.is_err(), "plain HTTP answered on the TLS port");
    // A new certificate from another CA is picked up without a restart.
    let other = tempfile::tempdir().unwrap();
    let pki2 = Pki::generate(other.path());
    std::thread::sleep(Duration::from_millis(1100));
    for f in ["server.crt", "server.key"] {
        std::fs::copy(other.path().join(f), dir.path().join(f)).unwrap();
    }
    let agent2 = pki2.agent(true, false);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while agent2.get(&format!("{url}/-/healthy")).call().is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "new certificate not served"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn mutual_tls_rejects_clients_without_a_certificate() {
    let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n";
    let (_dir, pki, url, _s) = tls_server(tls, "127.0.0.1", true);
    let with_cert = pki.agent(true, true);
    assert_eq!(
        call(
            &with_cert,
            &url,
            "GET",
            "/api/v1/labels",
            Some(&basic("reader", "pw"))
        )
        .0,
        200
    );
    let without = pki
        .agent(true, false)
        .get(&format!("{url}/-/healthy"))
        .call();
    assert!(
        without.is_err() && !matches!(without, Err(ureq::Error::Status(..))),
        "no client cert accepted: {without:?}"
    );
}

/// Everything `vitals store` logs at warn level while it starts on 0.0.0.0 with `extra`.
fn startup_warnings(extra: &[&str]) -> String {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["store", "--storage.tsdb.path"])
        .arg(dir.path().join("data"))
        .args(["--web.listen-address", &format!("0.0.0.0:{port}")])
        .args(extra)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let url = format!("http://127.0.0.1:{port}/-/healthy");
    while ureq::get(&url).call().is_err() {
        assert!(std::time::Instant::now() < deadline, "vitals did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    log
}

#[test]
fn non_loopback_without_authentication_warns_naming_the_address() {
    let log = startup_warnings(&[]);
    assert!(
        log.contains("without authentication") && log.contains("0.0.0.0:"),
        "{log}"
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = web_config(dir.path(), "");
    let log = startup_warnings(&["--web.config.file", &cfg]);
    assert!(!log.contains("without authentication"), "{log}");
    assert!(
        !log.contains("agent-token") && !log.contains("$2"),
        "secret in log: {log}"
    );
}

#[test]
fn admin_api_needs_the_flag_and_the_admin_right() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = web_config(dir.path(), "");
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let agent = ureq::AgentBuilder::new().build();
    let data = dir.path().join("data");
    let args = ["--web.config.file", &cfg, "--web.enable-admin-api"];
    let _s = start(&data, port, &url, &agent, &args);
    let snap = "/api/v1/admin/tsdb/snapshot?skip_head=true";
    let reader = basic("reader", "pw");
    assert_eq!(call(&agent, &url, "POST", snap, Some(&reader)).0, 403);
    let alice = basic("alice", "pw");
    let r = agent
        .post(&format!("{url}{snap}"))
        .set("Authorization", &alice)
        .call()
        .unwrap();
    let v: serde_json::Value = r.into_json().unwrap();
    let name = v["data"]["name"].as_str().unwrap();
    assert!(data.join("snapshots").join(name).is_dir(), "{v}");
    let no_skip = "/api/v1/admin/tsdb/snapshot";
    assert_eq!(call(&agent, &url, "POST", no_skip, Some(&alice)).0, 400);
    for (method, path) in [
        ("POST", "/api/v1/admin/tsdb/delete_series?match[]=up"),
        (
            "PUT",
            "/api/v1/admin/tsdb/delete_series?match[]=up&start=0&end=10",
        ),
        ("POST", "/api/v1/admin/tsdb/clean_tombstones"),
        ("PUT", "/api/v1/admin/tsdb/clean_tombstones"),
    ] {
        assert_eq!(call(&agent, &url, method, path, None).0, 401, "{path}");
        let wrong = basic("alice", "nope");
        assert_eq!(call(&agent, &url, method, path, Some(&wrong)).0, 401);
        assert_eq!(call(&agent, &url, method, path, Some(&reader)).0, 403);
        assert_eq!(call(&agent, &url, method, path, Some(&alice)).0, 204);
    }
    let no_match = "/api/v1/admin/tsdb/delete_series";
    assert_eq!(call(&agent, &url, "POST", no_match, Some(&alice)).0, 400);
}
