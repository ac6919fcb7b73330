//! Runs Prometheus' parser test inputs (`../shared/conformance/promql/parser/*.jsonl`):
//! every valid input must parse, every invalid one must be rejected.

use std::path::PathBuf;

fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VITALS_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/promql")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("VITALS_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "conformance directory {} missing and VITALS_REQUIRE_PEERS=1",
            dir.display()
        );
    }
    eprintln!(
        "!!! SKIPPED: PromQL conformance directory {} not found",
        dir.display()
    );
    None
}

/// 2.42 inputs whose verdict changed in 3.x (we follow 3.x), with the reason.
const KNOWN: &[(&str, &str)] = &[
    ("foo[1]", "3.x accepts a plain number of seconds as a range"),
    (
        "some_metric[5m] OFFSET 1",
        "3.x accepts a plain number of seconds as an offset",
    ),
    (
        "start()",
        "3.x main has start() and end() functions (functions.test)",
    ),
    (
        "end()",
        "3.x main has start() and end() functions (functions.test)",
    ),
    (
        "some_metric[5m] @ 1m",
        "3.x accepts a duration after @ (at_modifier.test: `metric @ 1m40s`)",
    ),
];

/// Experimental syntax we do not parse (not enabled by default in Prometheus 3.x):
/// duration expressions (`[5m+1m]`, `offset (5)`, `step()`, `range()`, `min_of`, `max_of`).
fn experimental(input: &str) -> bool {
    let re = regex::Regex::new(
        r"step\s*\(|range\(\)|min_of\(|max_of\(|\[[^\]]*[-+*/^(]|offset\s*[-+]?\s*\(",
    )
    .unwrap();
    re.is_match(input)
}

#[test]
fn parser_cases() {
    let Some(dir) = conformance_dir() else { return };
    let mut failures = Vec::new();
    let mut total = 0;
    let mut skipped = 0;
    for file in ["parse_cases_v2.42.0.jsonl", "parse_cases_main.jsonl"] {
        let text = std::fs::read_to_string(dir.join("parser").join(file)).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let input = v["input"].as_str().unwrap();
            let valid = v["valid"].as_bool().unwrap();
            total += 1;
            let got = query::promql::parse(input);
            if valid && file.contains("main") && experimental(input) {
                skipped += 1;
                continue;
            }
            if got.is_ok() != valid && !KNOWN.iter().any(|(k, _)| *k == input) {
                failures.push(format!(
                    "{file}: {input:?} valid={valid} got {:?}",
                    got.map(|e| e.to_string())
                ));
            }
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    eprintln!(
        "parser cases: {} of {total} as expected, {skipped} experimental skipped",
        total - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} parser cases disagree",
        failures.len()
    );
}

/// A keyword used as a metric name (`and{}`) prints with braces, so the printed form parses
/// back to itself (found by the `promql_parse` fuzz target).
#[test]
fn keyword_metric_names_print_with_braces() {
    for q in [
        "and{}",
        "sum{}",
        "offset{}",
        "AND{}",
        "by{job=\"a\"}",
        "rate{}",
    ] {
        let printed = query::promql::parse(q).unwrap().to_string();
        let again = query::promql::parse(&printed)
            .unwrap_or_else(|e| panic!("{q} -> {printed}: {e}"))
            .to_string();
        assert_eq!(again, printed, "{q}");
    }
}

/// Deep expressions are refused with a parse error instead of overflowing the stack (found by
/// the `promql_parse` fuzz target: ~500 nested parentheses crashed the parser); what is
/// accepted evaluates on a 2 MiB thread, the stack of the query threads.
#[test]
fn nesting_is_bounded_and_accepted_depths_evaluate() {
    let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    let chain = |n: usize| vec!["1"; n].join(" + ");
    let negated = |n: usize| format!("{}1", "-".repeat(n));
    for q in [nested(600), chain(600), negated(600), nested(100_000)] {
        let e = query::promql::parse(&q).unwrap_err().to_string();
        assert!(e.contains("nested deeper than 256 levels"), "{e}");
    }
    let ok = [(nested(200), 1.0), (chain(200), 200.0), (negated(200), 1.0)];
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let engine = query::promql::Engine::default();
            let st = query::promql::MemStorage::new();
            for (q, want) in ok {
                let out = engine.instant(&st, &q, 0).unwrap();
                match out.value {
                    query::promql::Value::Scalar { v, .. } => assert_eq!(v, want),
                    other => panic!("{other:?}"),
                }
                let printed = query::promql::parse(&q).unwrap().to_string();
                assert!(query::promql::parse(&printed).is_ok());
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Quoted (UTF-8) label names print quoted, so the printed form parses back (found by the
/// `promql_parse` fuzz target).
#[test]
fn quoted_label_names_print_quoted() {
    let mut parsed = 0;
    for q in [
        "a + on(b, 'c.d') e",
        "sum by (\"x.y\") (m)",
        "a * ignoring(\"k-1\") group_left(\"v/2\") b",
    ] {
        let Ok(e) = query::promql::parse(q) else {
            continue;
        };
        parsed += 1;
        let printed = e.to_string();
        let again = query::promql::parse(&printed)
            .unwrap_or_else(|err| panic!("{q} -> {printed}: {err}"))
            .to_string();
        assert_eq!(again, printed, "{q}");
    }
    assert!(parsed >= 2, "quoted label names parse");
}
