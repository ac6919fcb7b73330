#![no_main]
//! Arbitrary text as a rule file or a template never panics: it loads or is rejected
//! with messages, and templates expand or yield `<error expanding template: …>`.

use libfuzzer_sys::fuzz_target;
use rules::template::{expand, TemplateData};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let d = TemplateData {
        labels: [("instance".to_string(), "a:1".to_string())].into(),
        value: 1.5,
        external_labels: Default::default(),
        external_url: String::new(),
        query: None,
    };
    let _ = expand("fuzz", text, &d);
    if let Ok(f) = rules::parse_file("fuzz.yml", text) {
        for r in f.groups.iter().flat_map(|g| g.rules.iter()) {
            for (_, t) in r.labels.iter().chain(&r.annotations) {
                let _ = expand("fuzz", t, &d);
            }
        }
    }
});
