//! Fuzzes the rule file loader (YAML + PromQL + templates): never panics, errors render.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match rules::file::parse_file("fuzz.rules.yml", text) {
        Ok(f) => {
            let _ = format!("{f:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
