//! The Grafana dashboards under `dashboards/`: Grafana JSON on the datasource variable,
//! every query (variables substituted as Grafana does) parses with our PromQL parser and
//! names only metrics Vitals produces.

mod common;

use common::manifests::{files_with, read, root, DASHBOARDS};
use query::promql::{self, Expr};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tsdb::MatchOp;

/// A query as Grafana sends it: built-in and dashboard variables replaced by values of
/// the right type (durations where Grafana puts durations, plain words elsewhere).
fn substitute(expr: &str) -> String {
    let mut s = expr.to_string();
    for (var, val) in [
        ("${__rate_interval}", "1m"),
        ("$__rate_interval", "1m"),
        ("${__interval}", "30s"),
        ("$__interval_ms", "30000"),
        ("$__interval", "30s"),
        ("${__range}", "6h"),
        ("$__range_s", "21600"),
        ("$__range_ms", "21600000"),
        ("$__range", "6h"),
    ] {
        s = s.replace(var, val);
    }
    // Dashboard variables: `${name}`, `${name:format}`, `$name` -> a plain word.
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').expect("unclosed ${");
            out.push_str("value");
            rest = &body[end + 1..];
        } else {
            let n = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            assert!(n > 0, "lone `$` in {expr}");
            out.push_str("value");
            rest = &after[n..];
        }
    }
    out.push_str(rest);
    out
}

/// The PromQL inside a variable query: `label_values(expr, label)` → expr,
/// `query_result(expr)` → expr; `label_values(label)` and `metrics(re)` have none.
fn variable_expr(q: &str) -> Option<String> {
    let q = q.trim();
    if let Some(inner) = q
        .strip_prefix("query_result(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return Some(inner.to_string());
    }
    if let Some(inner) = q
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        // The label is after the last top-level comma.
        let (mut depth, mut cut) = (0i32, None);
        for (i, c) in inner.char_indices() {
            match c {
                '(' | '{' | '[' => depth += 1,
                ')' | '}' | ']' => depth -= 1,
                ',' if depth == 0 => cut = Some(i),
                _ => {}
            }
        }
        return cut.map(|i| inner[..i].to_string());
    }
    assert!(
        q.starts_with("metrics(") || q.starts_with("label_names("),
        "unknown variable query {q}"
    );
    None
}

fn metric_names(e: &Expr, out: &mut BTreeSet<String>) {
    match e {
        Expr::Number(_) | Expr::Str(_) => {}
        Expr::Selector(sel) | Expr::Matrix { sel, .. } => {
            if let Some(n) = &sel.name {
                out.insert(n.clone());
            }
            for m in &sel.matchers {
                if m.name == "__name__" && m.op == MatchOp::Equal {
                    out.insert(m.value.clone());
                }
            }
        }
        Expr::Subquery { expr, .. } | Expr::Neg(expr) | Expr::Paren(expr) => {
            metric_names(expr, out)
        }
        Expr::Call { args, .. } => args.iter().for_each(|a| metric_names(a, out)),
        Expr::Aggregate { expr, param, .. } => {
            metric_names(expr, out);
            if let Some(p) = param {
                metric_names(p, out);
            }
        }
        Expr::Binary { lhs, rhs, .. } => {
            metric_names(lhs, out);
            metric_names(rhs, out);
        }
    }
}

/// `(where, query)` for every panel target and variable query of a dashboard.
fn dashboard_queries(name: &str, d: &serde_json::Value) -> Vec<(String, String)> {
    fn panels(name: &str, ps: &serde_json::Value, out: &mut Vec<(String, String)>) {
        for p in ps.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("?");
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: panel {title:?}: target without expr"));
                out.push((format!("{name}: panel {title:?}"), expr.to_string()));
            }
            panels(name, &p["panels"], out);
        }
    }
    let mut out = Vec::new();
    panels(name, &d["panels"], &mut out);
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] != "query" {
            continue;
        }
        let q = match &v["query"] {
            serde_json::Value::String(s) => s.clone(),
            o => o["query"].as_str().expect("variable query").to_string(),
        };
        if let Some(e) = variable_expr(&q) {
            out.push((format!("{name}: variable {}", v["name"]), e));
        }
    }
    out
}

fn load_dashboards() -> Vec<(String, serde_json::Value)> {
    let dir = root().join("dashboards");
    let mut found = Vec::new();
    files_with(&dir, &["json"], &mut found);
    let names: BTreeSet<String> = found
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> = DASHBOARDS.iter().map(|s| s.to_string()).collect();
    assert_eq!(names, want, "dashboards/ holds exactly the five dashboards");
    found
        .iter()
        .map(|p| {
            let v: serde_json::Value =
                serde_json::from_str(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect()
}

#[test]
fn dashboard_variables_are_substituted() {
    assert_eq!(
        substitute("rate(x{a=\"$instance\",b=~\"${pod:regex}\"}[$__rate_interval])"),
        "rate(x{a=\"value\",b=~\"value\"}[1m])"
    );
    assert_eq!(
        variable_expr("label_values(kube_pod_info{namespace=\"$ns\"}, pod)").as_deref(),
        Some("kube_pod_info{namespace=\"$ns\"}")
    );
    assert_eq!(variable_expr("label_values(instance)"), None);
    assert_eq!(
        variable_expr("query_result(topk(3, up))").as_deref(),
        Some("topk(3, up)")
    );
    let mut names = BTreeSet::new();
    metric_names(
        &promql::parse("sum(rate(a[1m])) / on(x) {__name__=\"b\"} + -c offset 1m").unwrap(),
        &mut names,
    );
    assert_eq!(
        names,
        ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
    );
}

#[test]
fn dashboards_are_grafana_json_on_the_datasource_variable() {
    let mut uids = BTreeSet::new();
    for (name, d) in load_dashboards() {
        assert!(
            d["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}: title"
        );
        let uid = d["uid"].as_str().unwrap_or_else(|| panic!("{name}: uid"));
        assert!(uids.insert(uid.to_string()), "{name}: duplicate uid {uid}");
        let vars = d["templating"]["list"].as_array().expect("templating");
        assert!(
            vars.iter().any(|v| v["name"] == "datasource"
                && v["type"] == "datasource"
                && v["query"] == "prometheus"),
            "{name}: no `datasource` variable of type prometheus"
        );
        let mut ids = BTreeSet::new();
        let mut stack: Vec<&serde_json::Value> = d["panels"].as_array().unwrap().iter().collect();
        let mut with_targets = 0;
        while let Some(p) = stack.pop() {
            let id = p["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: panel without id"));
            assert!(ids.insert(id), "{name}: duplicate panel id {id}");
            stack.extend(p["panels"].as_array().into_iter().flatten());
            if p["type"] == "row" {
                continue;
            }
            assert_eq!(
                p["datasource"]["uid"], "${datasource}",
                "{name}: {}",
                p["title"]
            );
            let targets = p["targets"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: {} without targets", p["title"]));
            assert!(
                !targets.is_empty(),
                "{name}: {} without targets",
                p["title"]
            );
            for t in targets {
                assert_eq!(
                    t["datasource"]["uid"], "${datasource}",
                    "{name}: {}",
                    p["title"]
                );
            }
            with_targets += 1;
        }
        assert!(with_targets >= 6, "{name}: only {with_targets} panels");
    }
}

#[test]
fn dashboard_queries_parse() {
    let mut n = 0;
    for (name, d) in load_dashboards() {
        for (at, q) in dashboard_queries(&name, &d) {
            let s = substitute(&q);
            if let Err(e) = promql::parse(&s) {
                panic!("{at}: {q}\n  as sent: {s}\n  does not parse: {e}");
            }
            n += 1;
        }
    }
    assert!(n > 100, "only {n} queries");
}

/// `<workspace>/../shared/compat` (or `VITALS_COMPAT_DIR`); None with a loud skip.
fn compat_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VITALS_COMPAT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/compat"));
    if dir.join("vocab").is_dir() {
        return Some(dir);
    }
    if std::env::var("VITALS_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{}/vocab missing and VITALS_REQUIRE_PEERS=1", dir.display());
    }
    eprintln!(
        "!!! SKIPPED: metric vocabulary {}/vocab not found (set VITALS_COMPAT_DIR)",
        dir.display()
    );
    None
}

/// Names in our own exposition code: string literals `"vitals_…"`/`"process_…"` and
/// `# TYPE name` lines in the sources of the crates that render `/metrics`.
fn self_metric_names() -> BTreeSet<String> {
    let mut files = Vec::new();
    for d in ["query/src", "tsdb/src", "rules/src", "remote/src", "agent"] {
        let p = root().join(d);
        if p.is_dir() {
            files_with(&p, &["rs"], &mut files);
        }
    }
    let mut out = BTreeSet::new();
    for f in files {
        if f.components().any(|c| c.as_os_str() == "tests") {
            continue;
        }
        let text = read(&f);
        // (pattern, bytes before the name)
        for (pat, skip) in [
            ("\"vitals_", 1),
            ("\"process_", 1),
            ("TYPE vitals_", 5),
            ("TYPE process_", 5),
            ("\"prometheus_", 1),
            ("TYPE prometheus_", 5),
        ] {
            for (i, _) in text.match_indices(pat) {
                let start = i + skip;
                let name: String = text[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let next = text[start + name.len()..].chars().next();
                if !name.ends_with('_') && matches!(next, Some('"' | ' ' | '{')) {
                    out.insert(name);
                }
            }
        }
    }
    out
}

fn produced_names(compat: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for f in [
        "node_exporter.tsv",
        "cadvisor.tsv",
        "dcgm-exporter.tsv",
        "kube-state-metrics.tsv",
    ] {
        for line in read(&compat.join("vocab").join(f)).lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (name, kind) = (cols.next().unwrap(), cols.next().unwrap_or(""));
            if kind != "label" {
                names.insert(name.to_string());
            }
        }
    }
    let selfm = self_metric_names();
    for must in ["vitals_tsdb_head_series", "process_resident_memory_bytes"] {
        assert!(
            selfm.contains(must),
            "self-metric scan lost {must}: {selfm:?}"
        );
    }
    names.extend(selfm);
    names.extend(["up", "ALERTS", "ALERTS_FOR_STATE"].map(String::from));
    for line in read(&root().join("rules/vitals.rules.yml")).lines() {
        if let Some(r) = line
            .trim()
            .strip_prefix("- record:")
            .or(line.trim().strip_prefix("record:"))
        {
            names.insert(r.trim().to_string());
        }
    }
    names
}

#[test]
fn dashboard_metrics_are_produced_by_vitals() {
    let Some(compat) = compat_dir() else { return };
    let known = produced_names(&compat);
    let mut unknown = Vec::new();
    let mut used = BTreeSet::new();
    for (name, d) in load_dashboards() {
        for (at, q) in dashboard_queries(&name, &d) {
            let mut names = BTreeSet::new();
            metric_names(&promql::parse(&substitute(&q)).unwrap(), &mut names);
            for m in names {
                if !known.contains(&m) {
                    unknown.push(format!("{at}: {m}"));
                }
                used.insert(m);
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics Vitals does not produce:\n{}",
        unknown.join("\n")
    );
    // Each family the brief asks for is on some dashboard.
    for m in [
        "kube_node_status_condition",
        "kube_pod_status_phase",
        "node_cpu_seconds_total",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_FREE",
        "ALERTS",
        "vitals_tsdb_head_series",
        "up",
    ] {
        assert!(used.contains(m), "no dashboard uses {m}");
    }
}
