//! Fuzzes the CronJob schedule parser and next-activation search: never panics, and an
//! activation is always after the start and within the five-year search window.
#![no_main]

use kube_collector::cron;
use kube_collector::jiff::{tz::TimeZone, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // "<schedule>\n<time zone>" (no newline: no time zone).
    let (spec, tz) = match text.split_once('\n') {
        Some((s, z)) => (s, Some(z)),
        None => (text, None),
    };
    let Ok(sched) = cron::parse(spec, tz, &TimeZone::UTC) else {
        return;
    };
    let seed = data.iter().fold(0i64, |a, b| a.wrapping_mul(31).wrapping_add(*b as i64));
    let after = Timestamp::from_second(seed.rem_euclid(4_102_444_800)).unwrap();
    if let Some(next) = sched.next(after) {
        assert!(next > after, "{spec:?}: {next} not after {after}");
        if !spec.contains("@every") {
            let limit = after.as_second() + 7 * 366 * 86_400;
            assert!(next.as_second() < limit, "{spec:?}: {next} too far after {after}");
        }
    }
});
