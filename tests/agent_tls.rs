//! Vitals' agent (`vitals agent --config.file`) remote-writing through the outgoing-side
//! `tls_config` and credentials: to a Vitals store requiring mutual TLS (custom CA, client
//! certificate) and a bearer token (`authorization.credentials_file`); and to the real
//! Prometheus (Debian package) over TLS with `basic_auth`, read back with a query. Secrets
//! never show in the agent's log. The Prometheus test skips loudly without `prometheus` on
//! PATH and fails instead when VITALS_REQUIRE_PEERS=1.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pki::{basic, start, write_tls_basic_auth_web_config, Pki};
use common::{free_port, peer_binary};

/// The node fixture the agent collects from.
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("exporters/node/tests/fixtures/vm")
}

/// Starts `vitals agent` for node `node` with `config`; stderr is captured.
fn agent(config: &Path, node: &str, dir: &Path) -> Child {
    let root = fixture();
    common::agent_command(node, &root, dir)
        .arg(format!("--config.file={}", config.display()))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning vitals agent")
}

/// Kills the agent and returns what it logged.
fn stop(mut a: Child) -> String {
    let _ = a.kill();
    let _ = a.wait();
    let mut log = String::new();
    if let Some(mut e) = a.stderr.take() {
        let _ = e.read_to_string(&mut log);
    }
    log
}

/// Polls `url` with `auth` through `http` until the body contains `want`.
fn wait_for(http: &ureq::Agent, url: &str, auth: &str, want: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = http
            .get(url)
            .set("Authorization", auth)
            .call()
            .ok()
            .and_then(|r| r.into_string().ok())
            .unwrap_or_default();
        if body.contains(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: last answer {body}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

const QUERY: &str = "/api/v1/query?query=count(node_load1%7Binstance%3D%22tls-node%22%7D)";

#[test]
fn agent_writes_to_a_store_over_mutual_tls_with_a_bearer_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = Pki::generate(d);
    let web = d.join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\nvitals:\n  bearer_tokens:\n    - {name: agent, token: agent-t0ken-s3cret, rights: [write]}\n    - {name: grafana, token: grafana-token, rights: [read]}\n",
    )
    .unwrap();
    let port = free_port();
    let url = format!("https://localhost:{port}");
    let http = pki.agent(true, true);
    let web_s = web.display().to_string();
    let _store = start(
        &d.join("store"),
        port,
        &url,
        &http,
        &["--web.config.file", &web_s],
    );
    // The token lives in a file, relative to the config file's directory.
    std::fs::write(d.join("token"), "agent-t0ken-s3cret\n").unwrap();
    let cfg = d.join("agent.yml");
    std::fs::write(
        &cfg,
        format!(
            "remote_write:\n  - url: {url}/api/v1/write\n    authorization:\n      credentials_file: token\n    tls_config:\n      ca_file: ca.crt\n      cert_file: client.crt\n      key_file: client.key\n      server_name: localhost\n      min_version: TLS12\n    queue_config: {{batch_send_deadline: 1s}}\n"
        ),
    )
    .unwrap();
    let a = agent(&cfg, "tls-node", &d.join("agent"));
    wait_for(
        &http,
        &format!("{url}{QUERY}"),
        "Bearer grafana-token",
        "\"1\"",
        "the agent's samples over mTLS + bearer",
    );
    let log = stop(a);
    assert!(
        !log.contains("agent-t0ken-s3cret"),
        "secret in the log:\n{log}"
    );

    // Without the client certificate nothing arrives (the handshake is refused): a second
    // agent with another node name, then the same query for it stays empty.
    let cfg2 = d.join("agent2.yml");
    std::fs::write(
        &cfg2,
        format!(
            "remote_write:\n  - url: {url}/api/v1/write\n    authorization: {{credentials_file: token}}\n    tls_config: {{ca_file: ca.crt}}\n    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 200ms}}\n"
        ),
    )
    .unwrap();
    let b = agent(&cfg2, "no-cert", &d.join("agent2"));
    std::thread::sleep(Duration::from_secs(4));
    let log = stop(b);
    let q = format!("{url}/api/v1/query?query=count(node_load1%7Binstance%3D%22no-cert%22%7D)");
    let body = http
        .get(&q)
        .set("Authorization", "Bearer grafana-token")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(body.contains("\"result\":[]"), "{body}");
    assert!(log.contains("retrying"), "no failed sends logged:\n{log}");
    assert!(
        !log.contains("agent-t0ken-s3cret"),
        "secret in the log:\n{log}"
    );
}

#[test]
fn agent_writes_to_prometheus_over_tls_with_basic_auth() {
    let Some(prom) = peer_binary("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = Pki::generate(d);
    // Prometheus' --web.config.file checks basic_auth_users only: it has no bearer tokens,
    // so this path uses basic auth (bearer to Vitals is the test above).
    let web = write_tls_basic_auth_web_config(d, "alice", "pr0m-s3cret");
    std::fs::write(d.join("prometheus.yml"), "global: {}\n").unwrap();
    let pport = free_port();
    let mut p = Command::new(prom)
        .arg(format!(
            "--config.file={}",
            d.join("prometheus.yml").display()
        ))
        .arg(format!("--storage.tsdb.path={}", d.join("prom").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
        .arg(format!("--web.config.file={}", web.display()))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("https://127.0.0.1:{pport}");
    let http = pki.agent(true, false);
    let auth = basic("alice", "pr0m-s3cret");
    wait_for(
        &http,
        &format!("{url}/-/ready"),
        &auth,
        "Ready",
        "Prometheus ready",
    );
    std::fs::write(d.join("password"), "pr0m-s3cret\n").unwrap();
    let cfg = d.join("agent.yml");
    std::fs::write(
        &cfg,
        format!(
            "remote_write:\n  - url: {url}/api/v1/write\n    basic_auth: {{username: alice, password_file: password}}\n    tls_config: {{ca_file: ca.crt, server_name: localhost}}\n    queue_config: {{batch_send_deadline: 1s}}\n"
        ),
    )
    .unwrap();
    let a = agent(&cfg, "tls-node", &d.join("agent"));
    wait_for(
        &http,
        &format!("{url}{QUERY}"),
        &auth,
        "\"1\"",
        "the agent's samples in Prometheus",
    );
    let log = stop(a);
    let _ = p.kill();
    let _ = p.wait();
    assert!(!log.contains("pr0m-s3cret"), "secret in the log:\n{log}");
}
