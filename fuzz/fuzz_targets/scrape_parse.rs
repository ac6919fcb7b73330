#![no_main]
//! Parsing arbitrary text as text 0.0.4 or OpenMetrics never panics, and agent relabeling of
//! what parses never panics either.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for fams in [expo::parse(text), expo::parse_openmetrics(text)].into_iter().flatten() {
        for f in &fams {
            for s in &f.samples {
                let mut ls: agent::LabelSet = s.labels.iter().cloned().collect();
                ls.insert("__name__".into(), format!("{}{}", f.name, s.suffix));
                let _ = agent::relabel::process(ls, &[]);
            }
        }
    }
});
