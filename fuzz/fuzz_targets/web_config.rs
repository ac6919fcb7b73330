//! Fuzzes the web configuration parser: never panics, errors name the file, and the Debug output
//! of a loaded configuration never depends on a token or a password hash.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match web::WebConfig::parse(text, Path::new("fuzz.yml"), Path::new("/nonexistent")) {
        Ok(cfg) => {
            for t in &cfg.tokens {
                let blank = web::Token {
                    secret: String::new(),
                    ..t.clone()
                };
                assert_eq!(format!("{t:?}"), format!("{blank:?}"), "Debug shows the token");
            }
            for u in &cfg.users {
                let blank = web::User {
                    hash: String::new(),
                    ..u.clone()
                };
                assert_eq!(format!("{u:?}"), format!("{blank:?}"), "Debug shows the hash");
            }
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.yml"), "{e}"),
    }
});
