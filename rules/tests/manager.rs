//! The manager over an in-memory store: stale markers for rules and groups a reload
//! removes, group `labels`, `global.rule_query_offset`, the built-in rules, and the
//! `prometheus_rule_*` self-metrics.

use std::path::Path;
use std::sync::Arc;

use query::promql::{is_stale_nan, MemStorage, Storage};
use rules::manager::{Manager, ManagerOptions};
use tsdb::{Labels, Matcher};

const RULES: &str = r#"groups:
- name: g1
  interval: 10s
  labels: {team: infra, tier: a}
  rules:
  - record: y
    expr: x * 2
    labels: {tier: b}
  - record: z
    expr: x * 3
- name: g2
  interval: 10s
  limit: 1
  rules:
  - record: w
    expr: x * 4
  - record: bad
    expr: x * 5 or vector(5)
"#;

fn setup(dir: &Path, config: &str) -> (Arc<MemStorage>, Arc<Manager>) {
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    std::fs::write(dir.join("a.rules.yml"), RULES).unwrap();
    let st = Arc::new(MemStorage::new());
    let m = Manager::new(
        st.clone(),
        Some(dir.join("prometheus.yml")),
        ManagerOptions::default(),
    )
    .unwrap();
    (st, m)
}

/// Every sample of series named `name` up to `t`: (labels, [(t, v)]).
fn samples(st: &MemStorage, name: &str, t: i64) -> Vec<(Labels, Vec<(i64, f64)>)> {
    st.select(&[Matcher::equal("__name__", name)], 0, t)
        .unwrap()
}

fn add_x(st: &MemStorage, t: i64) {
    st.add(
        Labels::from_pairs(&[("__name__", "x"), ("job", "j")]),
        t,
        1.0,
    );
}

#[test]
fn group_labels_and_global_query_offset() {
    let d = tempfile::tempdir().unwrap();
    let (st, m) = setup(
        d.path(),
        "global:\n  rule_query_offset: 2s\nrule_files: [a.rules.yml]\n",
    );
    add_x(&st, 0);
    m.tick(1);
    m.tick(10_000);
    let y = samples(&st, "y", 20_000);
    assert_eq!(y.len(), 1);
    assert_eq!(y[0].0.get("team"), Some("infra"), "group label added");
    assert_eq!(y[0].0.get("tier"), Some("b"), "the rule's label wins");
    assert_eq!(y[0].1, [(8_000, 2.0)], "written at ts - rule_query_offset");
    let z = samples(&st, "z", 20_000);
    assert_eq!(z[0].0.get("tier"), Some("a"));
    m.notifier().stop();
}

#[test]
fn reload_marks_removed_rules_and_groups_stale() {
    let d = tempfile::tempdir().unwrap();
    let (st, m) = setup(d.path(), "rule_files: [a.rules.yml]\n");
    add_x(&st, 0);
    m.tick(1);
    m.tick(10_000);
    assert_eq!(samples(&st, "z", 20_000)[0].1, [(10_000, 3.0)]);
    assert_eq!(samples(&st, "w", 20_000)[0].1, [(10_000, 4.0)]);

    // Drop rule `z` from g1 and the whole of g2.
    let kept = "groups:\n- name: g1\n  interval: 10s\n  labels: {team: infra, tier: a}\n  rules:\n  - record: y\n    expr: x * 2\n    labels: {tier: b}\n";
    std::fs::write(d.path().join("a.rules.yml"), kept).unwrap();
    m.reload().unwrap();
    // The removed group's series are stale at once (at the reload's wall-clock time).
    let w = samples(&st, "w", i64::MAX / 2);
    assert_eq!(w[0].1.len(), 2);
    assert!(is_stale_nan(w[0].1[1].1), "{w:?}");
    // The removed rule's series get their marker at the group's next evaluation.
    add_x(&st, 30_000);
    m.tick(20_000);
    m.tick(30_000);
    let z = samples(&st, "z", 40_000);
    assert_eq!(z[0].1.len(), 2);
    assert_eq!(z[0].1[1].0, 30_000);
    assert!(is_stale_nan(z[0].1[1].1));
    let y = samples(&st, "y", 40_000);
    assert_eq!(
        y[0].1,
        [(10_000, 2.0), (30_000, 2.0)],
        "kept rule unaffected"
    );
    m.notifier().stop();
}

#[test]
fn self_metrics_have_prometheus_names_and_labels() {
    let d = tempfile::tempdir().unwrap();
    let (st, m) = setup(d.path(), "rule_files: [a.rules.yml]\n");
    add_x(&st, 0);
    m.tick(1);
    m.tick(10_000);
    // 30 s late: two ticks (20 s, 30 s) were missed.
    m.tick(40_000);
    let mut out = String::new();
    rules::metrics::render(&m, &mut out);
    let file = d.path().join("a.rules.yml").display().to_string();
    for line in [
        format!("prometheus_rule_evaluations_total{{rule_group=\"{file};g1\"}} 4"),
        format!("prometheus_rule_evaluation_failures_total{{rule_group=\"{file};g1\"}} 0"),
        format!("prometheus_rule_evaluation_failures_total{{rule_group=\"{file};g2\"}} 2"),
        format!("prometheus_rule_group_iterations_missed_total{{rule_group=\"{file};g1\"}} 2"),
        format!("prometheus_rule_group_iterations_total{{rule_group=\"{file};g1\"}} 4"),
        format!("prometheus_rule_group_interval_seconds{{rule_group=\"{file};g1\"}} 10"),
        format!("prometheus_rule_group_last_evaluation_timestamp_seconds{{rule_group=\"{file};g2\"}} 40"),
        format!("prometheus_rule_group_rules{{rule_group=\"{file};g2\"}} 2"),
        format!("prometheus_rule_group_last_evaluation_samples{{rule_group=\"{file};g1\"}} 2"),
        "# TYPE prometheus_rule_group_duration_seconds summary".to_string(),
        "prometheus_rule_group_duration_seconds_count 4".to_string(),
        "prometheus_notifications_queue_capacity 10000".to_string(),
        "prometheus_notifications_alertmanagers_discovered 0".to_string(),
        "# TYPE prometheus_notifications_sent_total counter".to_string(),
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    assert!(out.contains("prometheus_rule_group_last_duration_seconds{rule_group="));
    m.notifier().stop();
}

#[test]
fn builtin_rules_load_without_rule_files_only() {
    let d = tempfile::tempdir().unwrap();
    let opts = ManagerOptions {
        builtin_rules: true,
        ..ManagerOptions::default()
    };
    let st = Arc::new(MemStorage::new());
    let m = Manager::new(st.clone(), None, opts.clone()).unwrap();
    let slots = m.slots();
    assert!(slots.len() >= 2, "the shipped groups load");
    for s in &slots {
        let g = s.group.lock();
        assert_eq!(g.def.file, rules::BUILTIN_RULES_FILE);
        assert_eq!(g.interval_ms, 15_000);
    }
    let names: Vec<String> = slots
        .iter()
        .flat_map(|s| {
            let g = s.group.lock();
            g.rules
                .iter()
                .map(|r| r.rule.name().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(names.iter().any(|n| n == "NodeDown"), "{names:?}");
    m.notifier().stop();

    // A config with rule_files replaces them.
    std::fs::write(d.path().join("a.rules.yml"), RULES).unwrap();
    std::fs::write(d.path().join("p.yml"), "rule_files: [a.rules.yml]\n").unwrap();
    let m = Manager::new(st.clone(), Some(d.path().join("p.yml")), opts.clone()).unwrap();
    let files: Vec<String> = m
        .slots()
        .iter()
        .map(|s| s.group.lock().def.file.clone())
        .collect();
    assert!(
        files.iter().all(|f| f.ends_with("a.rules.yml")),
        "{files:?}"
    );
    m.notifier().stop();
    // A config without rule_files keeps them, at its evaluation interval.
    std::fs::write(
        d.path().join("q.yml"),
        "global:\n  evaluation_interval: 30s\n",
    )
    .unwrap();
    let m = Manager::new(st, Some(d.path().join("q.yml")), opts).unwrap();
    let s = m.slots();
    assert_eq!(s[0].group.lock().def.file, rules::BUILTIN_RULES_FILE);
    assert_eq!(s[0].group.lock().interval_ms, 30_000);
    m.notifier().stop();
}
