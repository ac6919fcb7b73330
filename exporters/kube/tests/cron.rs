//! Cron schedule golden tests: `tests/golden/cron.txt` lists, per line, a schedule, the
//! CronJob's time zone (`-`: none, read in UTC) and a start time, then the next activation
//! or the parse error. `UPDATE_GOLDEN=1` rewrites the file's answers. Known activations
//! from robfig/cron's own tests are asserted directly.

use std::path::Path;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use kube_collector::cron::{parse, CronError};

/// The next activation after `after` (RFC 3339) in the schedule's zone, as RFC 3339 in
/// that zone's offset.
fn next(spec: &str, tz: Option<&str>, after: &str) -> Result<Option<String>, CronError> {
    let sched = parse(spec, tz, &TimeZone::UTC)?;
    let after: Timestamp = after.parse().unwrap();
    let zone = match tz {
        None | Some("Local") => TimeZone::UTC,
        Some(z) => TimeZone::get(z).unwrap(),
    };
    Ok(sched.next(after).map(|t| {
        t.to_zoned(zone)
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }))
}

#[test]
fn robfig_activations() {
    let cases = [
        (
            "0/15 * * * *",
            "2012-07-09T14:45:00Z",
            "2012-07-09T15:00:00+00:00",
        ),
        (
            "0/15 * * * *",
            "2012-07-09T14:59:00Z",
            "2012-07-09T15:00:00+00:00",
        ),
        (
            "*/15 * * * *",
            "2012-07-09T23:46:00Z",
            "2012-07-10T00:00:00+00:00",
        ),
        (
            "20-35/15 * * * *",
            "2012-07-09T23:45:00Z",
            "2012-07-10T00:20:00+00:00",
        ),
        (
            "0 0 9 Apr-Oct ?",
            "2012-07-09T23:35:00Z",
            "2012-08-09T00:00:00+00:00",
        ),
        (
            "0 0 */5 Apr,Aug,Oct Mon",
            "2012-07-09T23:35:00Z",
            "2012-08-01T00:00:00+00:00",
        ),
        (
            "0 0 29 Feb ?",
            "2012-07-09T23:35:00Z",
            "2016-02-29T00:00:00+00:00",
        ),
        (
            "0 0 * * sun",
            "2012-07-09T23:35:00Z",
            "2012-07-15T00:00:00+00:00",
        ),
        (
            "@weekly",
            "2012-07-09T23:35:00Z",
            "2012-07-15T00:00:00+00:00",
        ),
        (
            "@monthly",
            "2012-07-09T23:35:00Z",
            "2012-08-01T00:00:00+00:00",
        ),
        (
            "@yearly",
            "2012-07-09T23:35:00Z",
            "2013-01-01T00:00:00+00:00",
        ),
        (
            "@hourly",
            "2012-07-09T23:35:00Z",
            "2012-07-10T00:00:00+00:00",
        ),
        (
            "@every 90m",
            "2012-07-09T23:35:10.5Z",
            "2012-07-10T01:05:10+00:00",
        ),
    ];
    for (spec, after, want) in cases {
        assert_eq!(
            next(spec, None, after).unwrap().as_deref(),
            Some(want),
            "{spec}"
        );
    }
    // 02:30 does not exist on 2012-03-11 in New York: the next one is a year later.
    assert_eq!(
        next("0 30 2 11 Mar ?", None, "2012-03-11T05:00:00Z").unwrap_err(),
        CronError::FieldCount(6, "0 30 2 11 Mar ?".into())
    );
    assert_eq!(
        next(
            "30 2 11 Mar ?",
            Some("America/New_York"),
            "2012-03-11T05:00:00Z"
        )
        .unwrap()
        .as_deref(),
        Some("2013-03-11T02:30:00-04:00")
    );
    // Feb 30 never comes.
    assert_eq!(
        next("0 0 30 2 *", None, "2026-01-01T00:00:00Z").unwrap(),
        None
    );
}

#[test]
fn parse_errors() {
    let err = |s: &str| parse(s, None, &TimeZone::UTC).unwrap_err();
    assert_eq!(err(""), CronError::Empty);
    assert_eq!(err("* * * *"), CronError::FieldCount(4, "* * * *".into()));
    assert_eq!(err("60 * * * *"), CronError::AboveMax(60, 59, "60".into()));
    assert_eq!(err("* * 0 * *"), CronError::BelowMin(0, 1, "0".into()));
    assert_eq!(err("5-1 * * * *"), CronError::Inverted(5, 1, "5-1".into()));
    assert_eq!(err("*/0 * * * *"), CronError::ZeroStep("*/0".into()));
    assert_eq!(err("1-2-3 * * * *"), CronError::Hyphens("1-2-3".into()));
    assert_eq!(err("1/2/3 * * * *"), CronError::Slashes("1/2/3".into()));
    assert_eq!(err("x * * * *"), CronError::Int("x".into()));
    // `-1` is the range from "" to 1, as in robfig/cron.
    assert_eq!(err("-1 * * * *"), CronError::Int("".into()));
    assert_eq!(err("1--2 * * * *"), CronError::Hyphens("1--2".into()));
    assert_eq!(
        err("@fortnightly"),
        CronError::Descriptor("@fortnightly".into())
    );
    assert_eq!(err("@every 1d"), CronError::Duration("@every 1d".into()));
    assert_eq!(
        err("CRON_TZ=Mars/Base * * * * *"),
        CronError::Location("Mars/Base".into())
    );
    assert_eq!(err("CRON_TZ=UTC"), CronError::Location("UTC".into()));
    assert!(parse("* * * * *", Some("Nowhere/City"), &TimeZone::UTC).is_err());
}

#[test]
fn golden() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/cron.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let input = line.split(" => ").next().unwrap();
        let mut parts = input.split(" | ");
        let (spec, tz, after) = (
            parts.next().unwrap(),
            parts.next().unwrap().trim(),
            parts.next().unwrap().trim(),
        );
        let tz = (tz != "-").then_some(tz);
        let got = match next(spec, tz, after) {
            Ok(Some(t)) => t,
            Ok(None) => "never".to_string(),
            Err(e) => format!("error: {e}"),
        };
        out.push_str(&format!("{input} => {got}\n"));
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &out).unwrap();
    }
    assert!(out == text, "cron.txt differs; got:\n{out}");
}
