//! `vitals check rules` / `vitals test rules` against promtool: same reports and exit codes
//! on the compat rule files, the shipped rules and their unit tests, and a copy of the tests
//! with wrong expectations. Skips loudly without promtool; fails instead when
//! VITALS_REQUIRE_PEERS=1.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const COMPAT: &str = "/work/shared/compat/rules";

/// (stdout + stderr, exit code) of `bin args…` run in `dir`.
fn run(bin: &Path, args: &[&str], files: &[PathBuf], dir: &Path) -> (String, i32) {
    let out = Command::new(bin)
        .args(args)
        .args(files)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("running checker");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str("--- stderr ---\n");
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (s, out.status.code().unwrap_or(-1))
}

fn vitals() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vitals"))
}

fn rule_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(COMPAT)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"));
    v.sort();
    v.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/vitals.rules.yml"));
    v
}

#[test]
fn check_rules_agrees_with_promtool() {
    let Some(promtool) = common::peer_binary("promtool") else {
        return;
    };
    let files = rule_files();
    assert!(files.len() >= 2, "no compat rule files in {COMPAT}");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut total = 0;
    for f in &files {
        let want = run(
            &promtool,
            &["check", "rules"],
            std::slice::from_ref(f),
            here,
        );
        let got = run(
            &vitals(),
            &["check", "rules"],
            std::slice::from_ref(f),
            here,
        );
        assert_eq!(got, want, "check rules {}", f.display());
        if let Some(n) = want.0.split("SUCCESS: ").nth(1) {
            total += n.split(' ').next().unwrap().parse::<usize>().unwrap();
        }
    }
    eprintln!(
        "check rules: {} files, reports identical; {total} rules counted by both",
        files.len()
    );
    // A broken file: same errors (file, line, message) and exit code 1.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n- name: a\n  rules:\n  - record: \"bad-name\"\n    expr: up\n  - alert: X\n    expr: up +\n    annotations:\n      s: \"{{ $labels.x \"\n  - alert: Y\n    expr: up\n    labels:\n      \"0bad\": x\n- name: a\n  rules: []\n",
    )
    .unwrap();
    let want = run(
        &promtool,
        &["check", "rules"],
        std::slice::from_ref(&bad),
        dir.path(),
    );
    let got = run(&vitals(), &["check", "rules"], &[bad], dir.path());
    assert_eq!(want.1, 1);
    assert_eq!(got, want);
}

#[test]
fn shipped_unit_tests_pass_and_a_wrong_copy_fails_under_both() {
    let Some(promtool) = common::peer_binary("promtool") else {
        return;
    };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let test = vec![PathBuf::from("vitals.rules.test.yml")];
    let want = run(&promtool, &["test", "rules"], &test, &src);
    let got = run(&vitals(), &["test", "rules"], &test, &src);
    assert_eq!(want.1, 0, "promtool: {}", want.0);
    assert_eq!(got, want);

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        src.join("vitals.rules.yml"),
        dir.path().join("vitals.rules.yml"),
    )
    .unwrap();
    let text = std::fs::read_to_string(src.join("vitals.rules.test.yml")).unwrap();
    let wrong = text
        .replace(
            "summary: \"Node exporter target n1:9100 is down\"",
            "summary: \"wrong\"",
        )
        .replace("value: 0.95", "value: 0.9");
    assert_ne!(wrong, text);
    std::fs::write(dir.path().join("wrong.yml"), wrong).unwrap();
    let w = vec![PathBuf::from("wrong.yml")];
    let want = run(&promtool, &["test", "rules"], &w, dir.path());
    let got = run(&vitals(), &["test", "rules"], &w, dir.path());
    assert_eq!(want.1, 1, "promtool should fail: {}", want.0);
    assert_eq!(got, want);
}

#[test]
fn templates_and_evaluation_report_as_promtool_reports_them() {
    let Some(promtool) = common::peer_binary("promtool") else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/testdata");
    for (file, marker) in [
        ("templates.test.yml", "a38=\"12345.678 -0.5 100 3\""),
        ("scenarios.test.yml", "alertname: Down, time: 7m30s"),
        ("templates2.test.yml", "c19=\"321\""),
    ] {
        let t = vec![PathBuf::from(file)];
        let want = run(&promtool, &["test", "rules"], &t, &dir);
        let got = run(&vitals(), &["test", "rules"], &t, &dir);
        assert_eq!(
            want.1, 1,
            "{file}: expectations are wrong on purpose: {}",
            want.0
        );
        assert!(want.0.contains(marker), "{file}: {}", want.0);
        assert_eq!(got, want, "{file}");
    }
}
