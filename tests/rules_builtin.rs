//! The shipped rules in the all-in-one mode: `vitals` with no arguments evaluates
//! rules/vitals.rules.yml every 15 s and shows them in `/api/v1/rules` and the
//! `prometheus_rule_*` self-metrics; `--rules.builtin=false` turns them off; a
//! `--config.file` with `rule_files` replaces them.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn get_text(url: &str) -> Option<String> {
    ureq::get(url)
        .timeout(Duration::from_millis(500))
        .call()
        .ok()?
        .into_string()
        .ok()
}

/// (group name, file, interval, rule names) of `/api/v1/rules`.
fn groups(url: &str) -> Vec<(String, String, f64, Vec<String>)> {
    let v: Value = ureq::get(&format!("{url}/api/v1/rules"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    v["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                g["file"].as_str().unwrap().to_string(),
                g["interval"].as_f64().unwrap(),
                g["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["name"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the all-in-one mode in a fresh directory on a free loopback port; returns the
/// process and its base URL.
fn all_in_one(args: &[&str], dir: &std::path::Path) -> (Kill, String) {
    let addr = format!("127.0.0.1:{}", common::free_port());
    let mut all: Vec<&str> = vec!["--web.listen-address", &addr];
    all.extend_from_slice(args);
    let child = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(&all)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning vitals");
    let k = Kill(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("http://{addr}");
    while get_text(&format!("{url}/-/ready")).is_none() {
        assert!(Instant::now() < deadline, "all-in-one not ready in 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    (k, url)
}

#[test]
fn all_in_one_evaluates_the_shipped_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (mut k, url) = all_in_one(&[], dir.path());
    let g = groups(&url);
    assert!(!g.is_empty(), "no built-in groups");
    for (name, file, interval, _) in &g {
        assert_eq!(file, "builtin/vitals.rules.yml", "{name}");
        assert_eq!(*interval, 15.0, "{name}");
    }
    let names: Vec<&String> = g.iter().flat_map(|x| &x.3).collect();
    for want in [
        "NodeDown",
        "NodeCPUHigh",
        "PodNotReady",
        "PersistentVolumeSpaceLow",
    ] {
        assert!(
            names.iter().any(|n| *n == want),
            "{want} missing: {names:?}"
        );
    }
    // The first evaluation (within one 15 s interval) shows in the self-metrics.
    let key = format!(
        "prometheus_rule_group_iterations_total{{rule_group=\"builtin/vitals.rules.yml;{}\"}} ",
        g[0].0
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = get_text(&format!("{url}/metrics")).unwrap_or_default();
        if m.lines().any(|l| l.starts_with(&key) && !l.ends_with(" 0")) {
            assert!(
                m.contains("prometheus_rule_evaluation_failures_total{rule_group=\"builtin/vitals.rules.yml;"),
                "{m}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no evaluation within 20 s:\n{m}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = k.0.kill();
    let _ = k.0.wait();

    // Switched off.
    let dir = tempfile::tempdir().unwrap();
    let (_k, url) = all_in_one(&["--rules.builtin=false"], dir.path());
    assert!(groups(&url).is_empty());
}

#[test]
fn a_config_with_rule_files_replaces_the_shipped_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yml"), "rule_files: [r.yml]\n").unwrap();
    std::fs::write(
        dir.path().join("r.yml"),
        "groups:\n- name: mine\n  rules:\n  - record: one\n    expr: vector(1)\n",
    )
    .unwrap();
    let port = common::free_port();
    let cfg = dir.path().join("p.yml");
    let (s, _) = common::Server::start(
        &dir.path().join("data"),
        port,
        &[
            "--rules.builtin=true",
            "--config.file",
            cfg.to_str().unwrap(),
        ],
    );
    let g = groups(&s.url);
    assert_eq!(g.len(), 1, "{g:?}");
    assert_eq!(g[0].0, "mine");
}
