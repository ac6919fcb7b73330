//! Golden tests: a fixed metric set rendered in both formats, compared byte for byte.

use expo::{parse, render, Format, MetricSet, MetricType};

fn fixture() -> MetricSet {
    let mut set = MetricSet::new();
    let f = set.family(
        "node_cpu_seconds_total",
        "Seconds the CPUs spent in each mode.",
        MetricType::Counter,
    );
    f.add(&[("mode", "user"), ("cpu", "1")], 51.88);
    f.add(&[("cpu", "0"), ("mode", "idle")], 89.78);
    f.add(&[("cpu", "0"), ("mode", "user")], 44.38);
    set.family("node_load1", "1m load average.", MetricType::Gauge)
        .add(&[], 1.35);
    set.family(
        "node_vmstat_pgfault",
        "/proc/vmstat information field pgfault.",
        MetricType::Untyped,
    )
    .add(&[], 3108244.0);
    set.family(
        "node_forks",
        "A counter without _total; HELP with \\ and\nnewline and \"quotes\".",
        MetricType::Counter,
    )
    .add(&[], 0.0);
    let g = set.family("weird", "Values.", MetricType::Gauge);
    g.add(&[("v", "a\"b\\c\nd")], f64::NAN);
    g.add(&[("v", "inf")], f64::INFINITY);
    g.add(&[("v", "ninf")], f64::NEG_INFINITY);
    g.add(&[("v", "small")], 1e-5);
    g.add(&[("v", "ms")], 43.0 * 0.001);
    let h = set.family("req_seconds", "A histogram.", MetricType::Histogram);
    h.add_suffixed("_bucket", &[("le", "0.5")], 1.0);
    h.add_suffixed("_bucket", &[("le", "+Inf")], 2.0);
    h.add_suffixed("_sum", &[], 0.75);
    h.add_suffixed("_count", &[], 2.0);
    // A family with no samples is not written.
    set.family("empty", "Nothing.", MetricType::Gauge);
    set.sort();
    set
}

fn check(format: Format, golden: &str) {
    let mut out = String::new();
    render(&fixture(), format, &mut out);
    let path = format!("{}/tests/golden/{golden}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &out).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(out, want, "rendering differs from {path}");
}

#[test]
fn text_0_0_4() {
    check(Format::Text, "fixture.prom");
}

#[test]
fn openmetrics_1_0() {
    check(Format::OpenMetrics, "fixture.om");
}

#[test]
fn text_round_trips_through_parser() {
    let mut out = String::new();
    render(&fixture(), Format::Text, &mut out);
    let fams = parse(&out).unwrap();
    let names: Vec<_> = fams.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "node_cpu_seconds_total",
            "node_forks",
            "node_load1",
            "node_vmstat_pgfault",
            "req_seconds",
            "weird"
        ]
    );
    let forks = &fams[1];
    assert_eq!(
        forks.help.as_deref(),
        Some("A counter without _total; HELP with \\ and\nnewline and \"quotes\".")
    );
    let weird = &fams[5];
    let quoted = weird
        .samples
        .iter()
        .find(|s| s.value.is_nan())
        .expect("NaN sample");
    assert_eq!(quoted.labels[0].1, "a\"b\\c\nd");
    assert_eq!(fams[4].kind, MetricType::Histogram);
    assert_eq!(fams[4].samples.len(), 4);
}

/// Every sample of `fams` as `name{labels} value timestamp`.
fn flatten(fams: &[expo::ParsedFamily]) -> Vec<String> {
    let mut out = Vec::new();
    for f in fams {
        for s in &f.samples {
            let l: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
            out.push(format!(
                "{}{}{{{}}} {} {:?}",
                f.name,
                s.suffix,
                l.join(","),
                s.value,
                s.timestamp
            ));
        }
    }
    out
}

#[test]
fn openmetrics_scrape_parses() {
    let path = format!("{}/tests/golden/scrape.om", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let fams = expo::parse_openmetrics(&text).unwrap();
    assert_eq!(
        flatten(&fams),
        [
            "http_requests_total{code=\"200\"} 1027 Some(1700000000123)",
            "http_requests_created{code=\"200\"} 1600000000 None",
            "build_info{version=\"1.2\"} 1 None",
            "feature{feature=\"a\"} 1 None",
            "queue_bucket{le=\"+Inf\"} 3 None",
            "queue_gcount{} 3 None",
            "queue_gsum{} 7 None",
            "lat_bucket{le=\"1\"} 2 None",
            "lat_bucket{le=\"+Inf\"} 3 None",
            "lat_count{} 3 None",
            "lat_sum{} 1.5 None",
            "lat_created{} 1600000000 None",
            "temp{} 21.5 None",
        ]
    );
    assert_eq!(fams[1].kind, MetricType::Gauge, "info as a gauge");
    // The text parser rejects what only OpenMetrics allows.
    assert!(parse(&text).is_err());
    for bad in [
        "a 1\n",                     // no # EOF
        "a 1\n# EOF\nb 2\n",         // data after # EOF
        "# random comment\n# EOF\n", // not a valid OpenMetrics comment
        "a 1 x\n# EOF\n",            // bad timestamp
        "# TYPE a untyped\n# EOF\n",
    ] {
        assert!(expo::parse_openmetrics(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn openmetrics_round_trips_through_parser() {
    let mut om = String::new();
    render(&fixture(), Format::OpenMetrics, &mut om);
    let mut text = String::new();
    render(&fixture(), Format::Text, &mut text);
    let (a, b) = (expo::parse_openmetrics(&om).unwrap(), parse(&text).unwrap());
    let names = |f: &[expo::ParsedFamily]| -> Vec<String> {
        flatten(f)
            .into_iter()
            .map(|s| s.split('{').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&a).len(), names(&b).len());
    let mut na = names(&a);
    // OpenMetrics counters always end in _total.
    let mut nb: Vec<String> = names(&b)
        .into_iter()
        .map(|n| {
            if n == "node_forks" {
                "node_forks_total".into()
            } else {
                n
            }
        })
        .collect();
    na.sort();
    nb.sort();
    assert_eq!(na, nb, "same samples from both formats");
}

#[test]
fn carriage_returns_end_lines_with_or_without_a_newline() {
    // Found by the expo_parse fuzz target: a HELP line ending in `\r` at the end of the text
    // kept it, and its rendering (`\r\n`) parsed back without it.
    for text in [
        "# HELP m some help\r",
        "# HELP m some help\r\n",
        "# HELP m some help\r\r\n",
    ] {
        let fams = parse(&format!("m 1\n{text}")).unwrap();
        assert_eq!(fams[0].help.as_deref(), Some("some help"), "{text:?}");
    }
    let fams = parse("m 7\r\r").unwrap();
    assert_eq!(fams[0].samples[0].value, 7.0);
}
