//! Fuzzes the PromQL parser: never panics; what it accepts prints to text that parses to the
//! same printed form (the printer is what `/api/v1/format_query` returns).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match query::promql::parse(text) {
        Ok(expr) => {
            let printed = expr.to_string();
            let again = query::promql::parse(&printed)
                .unwrap_or_else(|e| panic!("printed form {printed:?} of {text:?} does not parse: {e}"));
            assert_eq!(again.to_string(), printed, "printing is not stable for {text:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
