//! Fuzzes the exposition text parser (text 0.0.4): never panics, errors render,
//! samples of one family are merged into one entry.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match expo::parse(text) {
        Ok(families) => {
            let mut names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
            names.sort_unstable();
            assert!(names.windows(2).all(|w| w[0] != w[1]), "a family name appears twice");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
