#![no_main]
//! Parsing arbitrary text as Prometheus text 0.0.4 never panics; what parses renders back
//! (through `expo::MetricSet`) to text that parses to the same families.

use expo::{parse, render, Format, MetricSet, MetricType};
use libfuzzer_sys::fuzz_target;

type Row = (String, Vec<(String, String)>, u64);

fn rows(f: &expo::ParsedFamily) -> Vec<Row> {
    let mut r: Vec<Row> = f
        .samples
        .iter()
        .map(|s| {
            let mut l = s.labels.clone();
            l.sort();
            let bits = if s.value.is_nan() {
                u64::MAX
            } else {
                (s.value + 0.0).to_bits()
            };
            (s.suffix.clone(), l, bits)
        })
        .collect();
    r.sort();
    r
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(fams) = parse(text) else {
        return;
    };
    // `x_bucket` as a family of its own next to a histogram `x` is ambiguous in the format.
    let names: std::collections::HashSet<&str> = fams.iter().map(|f| f.name.as_str()).collect();
    if fams.iter().any(|f| {
        ["_bucket", "_sum", "_count"]
            .iter()
            .any(|s| f.name.strip_suffix(s).is_some_and(|b| names.contains(b)))
    }) {
        return;
    }
    let mut set = MetricSet::new();
    for f in &fams {
        let fam = set.family(&f.name, f.help.as_deref().unwrap_or(""), f.kind);
        for s in &f.samples {
            let l: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            fam.add_suffixed(&s.suffix, &l, s.value);
        }
    }
    set.sort();
    let mut out = String::new();
    render(&set, Format::Text, &mut out);
    let again = parse(&out).expect("rendered text parses");
    let mut want: Vec<_> = fams.iter().filter(|f| !f.samples.is_empty()).collect();
    want.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(again.len(), want.len());
    for (a, b) in again.iter().zip(&want) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.kind, b.kind);
        assert_eq!(
            a.help.as_deref().unwrap_or(""),
            b.help.as_deref().unwrap_or("")
        );
        if !matches!(a.kind, MetricType::Histogram | MetricType::Summary) {
            assert_eq!(rows(a), rows(b));
        }
    }
    let mut om = String::new();
    render(&set, Format::OpenMetrics, &mut om);
    assert!(om.ends_with("# EOF\n"));
});
