//! Real clients against a store behind `--web.config.file`: `promtool check web-config`
//! accepts the same file; Prometheus (Debian package) remote-writes over TLS with `basic_auth`
//! and `tls_config.ca_file`; `promtool query instant` reads back over TLS with credentials.
//! Skips loudly without the peers on PATH, fails instead when VITALS_REQUIRE_PEERS=1.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pki::{basic, start, write_tls_basic_auth_web_config, Pki};
use common::{free_port, peer_binary};

#[test]
fn prometheus_writes_over_tls_with_basic_auth_and_promtool_reads_back() {
    let (Some(prom), Some(promtool)) = (peer_binary("prometheus"), peer_binary("promtool")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = Pki::generate(d);
    let web = write_tls_basic_auth_web_config(d, "alice", "s3cret");
    let check = Command::new(&promtool)
        .args(["check", "web-config"])
        .arg(&web)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool rejects the web config: {check:?}"
    );

    let (vport, pport) = (free_port(), free_port());
    let url = format!("https://localhost:{vport}");
    let agent = pki.agent(true, false);
    let web_s = web.display().to_string();
    let _vitals = start(
        &d.join("vitals"),
        vport,
        &url,
        &agent,
        &["--web.config.file", &web_s],
    );
    let cfg = d.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prom\n    static_configs: [{{targets: ['127.0.0.1:{pport}']}}]\nremote_write:\n  - url: {url}/api/v1/write\n    basic_auth: {{username: alice, password: s3cret}}\n    tls_config: {{ca_file: {}}}\n    queue_config: {{batch_send_deadline: 1s}}\n",
            pki.path("ca.crt")
        ),
    )
    .unwrap();
    let mut p = Command::new(prom)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", d.join("prom").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let q = format!("{url}/api/v1/query?query=count(up%7Bjob%3D%22prom%22%7D)");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = agent
            .get(&q)
            .set("Authorization", &basic("alice", "s3cret"))
            .call();
        let body = r
            .ok()
            .and_then(|r| r.into_string().ok())
            .unwrap_or_default();
        if body.contains("\"1\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus' samples did not arrive: {body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = p.kill();
    let _ = p.wait();
    // promtool 2.42 has no --http.config.file: credentials from the URL, the CA from SSL_CERT_FILE.
    let promtool_query = |password: &str| {
        Command::new(&promtool)
            .args(["query", "instant"])
            .arg(format!("https://alice:{password}@localhost:{vport}"))
            .arg("count(up{job=\"prom\"})")
            .env("SSL_CERT_FILE", pki.path("ca.crt"))
            .output()
            .unwrap()
    };
    let ok = promtool_query("s3cret");
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success() && out.contains("=> 1 @"),
        "promtool: {ok:?}"
    );
    let bad = promtool_query("wrong");
    assert!(
        !bad.status.success(),
        "promtool with a wrong password: {bad:?}"
    );
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("401"),
        "{bad:?}"
    );
}
