//! `info()`: argument checks, errors, and which series it reads.

use parking_lot::Mutex;
use tsdb::{Labels, Matcher};

use crate::promql::storage::{SeriesFn, Storage};
use crate::promql::{parse, Engine, EngineOptions, MemStorage, QueryError, Value};

/// A store recording the matchers of every read.
struct Recording {
    inner: MemStorage,
    reads: Mutex<Vec<Vec<String>>>,
}

impl Storage for Recording {
    fn for_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        f: &mut SeriesFn<'_>,
    ) -> Result<(), QueryError> {
        let mut m: Vec<String> = matchers
            .iter()
            .map(|m| format!("{}{:?}{}", m.name, m.op, m.value))
            .collect();
        m.sort();
        self.reads.lock().push(m);
        self.inner.for_each(matchers, mint, maxt, f)
    }
}

fn store(series: &[(&[(&str, &str)], f64)]) -> MemStorage {
    let st = MemStorage::new();
    for (labels, v) in series {
        for i in 0..10 {
            st.add(Labels::from_pairs(labels), i * 60_000, *v);
        }
    }
    st
}

fn err(st: &dyn Storage, q: &str) -> QueryError {
    match Engine::default().range(st, q, 0, 540_000, 60_000) {
        Ok(o) => panic!("{q}: expected an error, got {:?}", o.value),
        Err(e) => e,
    }
}

#[test]
fn wrong_argument_types_do_not_parse() {
    for q in [
        "info()",
        "info(1)",
        "info(up[5m])",
        "info(up, 1)",
        "info(up, \"x\")",
        "info(up, {a=\"b\"}, {c=\"d\"})",
        "info(up, target_info{a=\"b\"})",
        "info(up, target_info)",
        "info(up, {a=\"b\"} offset 1m)",
        "info(up, {a=\"b\"} @ 10)",
        "info(up, {a=\"b\"} == 1)",
        "info(up, ({a=\"b\"}))",
        "info(up, rate({a=\"b\"}[5m]))",
        // Only the label selector itself may match the empty string everywhere.
        "info({a=~\".*\"})",
        "info(up, rate({a=~\".*\"}[5m]))",
    ] {
        let e = parse(q).map(|e| e.to_string()).unwrap_err();
        let qe = QueryError::from(e);
        assert_eq!(qe.error_type(), "bad_data", "{q}");
    }
    for q in [
        "info(up)",
        "info(rate(x[5m]), {a=\"b\"})",
        "info(up, {data=~\".*\"})",
        "info(up, {})",
        "info(up, {__name__=~\".+_info\", x!=\"\"})",
        "info(up, {__name__=\"build_info\"})",
        "info(up, {\"__name__\"=\"build_info\", \"a b\"=\"c\"})",
    ] {
        let e = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        // format_query's output parses back to the same expression.
        assert_eq!(parse(&e.to_string()).unwrap(), e, "{q}");
    }
}

#[test]
fn conflicting_info_metrics_fail() {
    let st = store(&[
        (&[("__name__", "m"), ("instance", "a"), ("job", "j")], 1.0),
        (
            &[
                ("__name__", "target_info"),
                ("instance", "a"),
                ("job", "j"),
                ("x", "t"),
            ],
            1.0,
        ),
        (
            &[
                ("__name__", "build_info"),
                ("instance", "a"),
                ("job", "j"),
                ("x", "b"),
            ],
            1.0,
        ),
    ]);
    let e = err(&st, r#"info(m, {__name__=~".+_info"})"#);
    assert_eq!(e.error_type(), "execution");
    assert_eq!(e.to_string(), "conflicting label: x");
    // One info metric at a time does not conflict; the base series' own label wins too.
    for (q, x) in [
        (r#"info(m, {__name__="build_info"})"#, "b"),
        (r#"info(m)"#, "t"),
        (
            r#"info(label_replace(m, "x", "own", "", ""), {__name__=~".+_info"})"#,
            "own",
        ),
    ] {
        let Value::Matrix(m) = Engine::default()
            .range(&st, q, 0, 540_000, 60_000)
            .unwrap()
            .value
        else {
            panic!()
        };
        assert_eq!(m.len(), 1, "{q}");
        assert_eq!(m[0].labels.get("x"), Some(x), "{q}");
        assert_eq!(m[0].points.len(), 10, "{q}");
    }
}

/// `m` of target `instance`, and two `target_info` series of target `a` (both present).
fn two_info_versions(instance: &str) -> MemStorage {
    store(&[
        (
            &[("__name__", "m"), ("instance", instance), ("job", "j")],
            1.0,
        ),
        (
            &[
                ("__name__", "target_info"),
                ("instance", "a"),
                ("job", "j"),
                ("v", "1"),
            ],
            1.0,
        ),
        (
            &[
                ("__name__", "target_info"),
                ("instance", "a"),
                ("job", "j"),
                ("v", "2"),
            ],
            1.0,
        ),
    ])
}

#[test]
fn duplicate_info_series_at_one_time_fail() {
    let e = err(&two_info_versions("a"), "info(m)");
    assert_eq!(e.error_type(), "execution");
    assert!(
        e.to_string()
            .starts_with("found duplicate series for info metric: existing {"),
        "{e}"
    );
    // Another target's info series do not matter.
    let out = Engine::default()
        .instant(&two_info_versions("b"), "info(m)", 60_000)
        .unwrap();
    let Value::Vector(v) = out.value else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].labels.get("v"), None);
}

/// Info series are read by their name and the identifying labels of the series to enrich,
/// plus the selector's matchers: the store is never scanned for all info series.
#[test]
fn reads_only_the_info_series_needed() {
    let st = Recording {
        inner: store(&[
            (&[("__name__", "m"), ("instance", "a"), ("job", "j")], 1.0),
            (&[("__name__", "m"), ("instance", "b.c"), ("job", "j")], 1.0),
            (
                &[
                    ("__name__", "target_info"),
                    ("instance", "a"),
                    ("job", "j"),
                    ("d", "1"),
                ],
                1.0,
            ),
            (
                &[
                    ("__name__", "target_info"),
                    ("instance", "z"),
                    ("job", "j"),
                    ("d", "2"),
                ],
                1.0,
            ),
        ]),
        reads: Mutex::new(Vec::new()),
    };
    let engine = Engine::new(EngineOptions {
        parallelism: 1,
        ..EngineOptions::default()
    });
    let out = engine
        .instant(&st, r#"info(m, {d=~".+"})"#, 60_000)
        .unwrap();
    let Value::Vector(v) = out.value else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].labels.get("d"), Some("1"));
    let reads = st.reads.lock().clone();
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert_eq!(
        reads[1],
        vec![
            "__name__Equaltarget_info".to_string(),
            "dRegex.+".to_string(),
            r"instanceRegexa|b\.c".to_string(),
            "jobEqualj".to_string(),
        ]
    );
    // Nothing to enrich: no read of info series at all.
    st.reads.lock().clear();
    engine.instant(&st, "info(nothing)", 60_000).unwrap();
    assert_eq!(st.reads.lock().len(), 1);
}
