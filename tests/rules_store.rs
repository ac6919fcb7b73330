//! `vitals store --config.file`: rules evaluated on their interval against the TSDB, the
//! rules/alerts API, SIGHUP reload, and a restart during a pending `for` (the alert keeps
//! its original activeAt from ALERTS_FOR_STATE and fires before a fresh alert could).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

fn get(url: &str) -> Value {
    ureq::get(url).call().unwrap().into_json().unwrap()
}

fn alerts(url: &str) -> Vec<Value> {
    get(&format!("{url}/api/v1/alerts"))["data"]["alerts"]
        .as_array()
        .unwrap()
        .clone()
}

/// RFC 3339 UTC (`…T…Z`, optional fraction) → ms since the epoch.
fn parse_rfc3339(s: &str) -> i64 {
    let n =
        |a: usize, b: usize| -> i64 { s[a..b].parse().unwrap_or_else(|_| panic!("bad time {s}")) };
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19);
    let frac = s[19..].trim_end_matches('Z').trim_start_matches('.');
    let ms = format!("{frac:0<3}")[..3].parse::<i64>().unwrap_or(0);
    secs * 1000 + ms
}

fn write_config(dir: &Path, rules: &str) {
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\n  external_labels: {cluster: e2e}\nrule_files: [\"rules/*.yml\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/r.yml"), rules).unwrap();
}

fn sigterm(s: &mut common::Server) {
    unsafe {
        libc::kill(s.child.id() as i32, libc::SIGTERM);
    }
    let _ = s.child.wait();
}

const RULES: &str = "groups:\n- name: g\n  rules:\n  - record: one:rec\n    expr: vector(1)\n  - alert: Slow\n    expr: one:rec > 0\n    for: 12s\n    labels: {severity: page}\n    annotations: {summary: 'in {{ $externalLabels.cluster }}'}\n";

#[test]
fn restart_during_pending_for_keeps_the_original_active_time() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    write_config(&cfg, RULES);
    let data = d.path().join("data");
    let cfg_file = cfg.join("prometheus.yml");
    let flags = [
        "--config.file",
        cfg_file.to_str().unwrap(),
        "--rules.alert.for-grace-period",
        "1s",
    ];
    let port = common::free_port();
    let (mut s, _) = common::Server::start(&data, port, &flags);
    let url = s.url.clone();
    // Wait for the alert to be pending.
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        let a = alerts(&url);
        if let Some(a) = a.first() {
            break a.clone();
        }
        assert!(Instant::now() < deadline, "no pending alert");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(first["state"], "pending");
    assert_eq!(first["labels"]["alertname"], "Slow");
    assert_eq!(first["annotations"]["summary"], "in e2e");
    let active_at = parse_rfc3339(first["activeAt"].as_str().unwrap());
    // The API shows the group and the recording rule's result is queryable.
    let rules = get(&format!("{url}/api/v1/rules"));
    assert_eq!(rules["data"]["groups"][0]["rules"][0]["health"], "ok");
    assert_eq!(rules["data"]["groups"][0]["interval"], 1.0);
    std::thread::sleep(Duration::from_secs(4));
    sigterm(&mut s);
    drop(s);

    let restart = query_now_ms();
    let (s, _) = common::Server::start(&data, port, &flags);
    // After the first evaluation and restore, activeAt lies before the restart: the
    // pending time before the outage counts (Prometheus shifts it only by the outage).
    let deadline = Instant::now() + Duration::from_secs(20);
    let (restored, fired_at) = loop {
        let a = alerts(&s.url);
        if let Some(a) = a.first() {
            if a["state"] == "firing" {
                break (
                    parse_rfc3339(a["activeAt"].as_str().unwrap()),
                    query_now_ms(),
                );
            }
        }
        assert!(Instant::now() < deadline, "alert never fired after restart");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        restored < restart,
        "activeAt {restored} should precede the restart at {restart} (original {active_at})"
    );
    assert!(restored >= active_at);
    // A fresh alert would fire 12 s after the restart's first evaluation at the earliest.
    assert!(
        fired_at < restart + 11_000,
        "fired {} ms after restart",
        fired_at - restart
    );
}

fn query_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn sighup_reloads_and_a_broken_file_keeps_the_old_rules() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    write_config(&cfg, RULES);
    let cfg_file = cfg.join("prometheus.yml");
    let flags = ["--config.file", cfg_file.to_str().unwrap()];
    let (s, _) = common::Server::start(&d.path().join("data"), common::free_port(), &flags);
    let names = |url: &str| -> Vec<String> {
        get(&format!("{url}/api/v1/rules"))["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap().clone())
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&s.url), ["one:rec", "Slow"]);
    std::fs::write(
        cfg.join("rules/r.yml"),
        RULES.replace("alert: Slow", "alert: Renamed"),
    )
    .unwrap();
    unsafe {
        libc::kill(s.child.id() as i32, libc::SIGHUP);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while names(&s.url) != ["one:rec", "Renamed"] {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::write(
        cfg.join("rules/r.yml"),
        "groups:\n- name: g\n  rules:\n  - record: 'bad name'\n    expr: up\n",
    )
    .unwrap();
    let r = ureq::post(&format!("{}/-/reload", s.url)).call();
    let Err(ureq::Error::Status(500, resp)) = r else {
        panic!("reload of a broken file should fail");
    };
    let body = resp.into_string().unwrap();
    assert!(
        body.contains(
            "r.yml: 4:13: group \"g\", rule 1, \"bad name\": invalid recording rule name: bad name"
        ),
        "{body}"
    );
    assert_eq!(names(&s.url), ["one:rec", "Renamed"]);
}
