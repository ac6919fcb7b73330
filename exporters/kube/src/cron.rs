//! Cron schedules as the Kubernetes CronJob controller and kube-state-metrics read them
//! (robfig/cron v3 `ParseStandard`): five fields (minute, hour, day of month, month, day
//! of week) of `*`/`?`, numbers, names (`jan`–`dec`, `sun`–`sat`), ranges `a-b`, steps
//! `/n`, lists `a,b`; the descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`,
//! `@daily`/`@midnight`, `@hourly` and `@every <Go duration>`; an optional leading
//! `CRON_TZ=<zone>` or `TZ=<zone>`. When neither day field is `*`, a day matching either
//! one matches (cron's OR rule).

use jiff::civil::{self, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// Why a schedule does not parse (robfig/cron's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// Nothing to parse.
    #[error("empty spec string")]
    Empty,
    /// Not five fields.
    #[error("expected exactly 5 fields, found {0}: {1}")]
    FieldCount(usize, String),
    /// A value that is neither a non-negative integer nor a known name.
    #[error("failed to parse int from {0}")]
    Int(String),
    /// `a-b-c`.
    #[error("too many hyphens: {0}")]
    Hyphens(String),
    /// `a/b/c`.
    #[error("too many slashes: {0}")]
    Slashes(String),
    /// A range starting below the field's minimum.
    #[error("beginning of range ({0}) below minimum ({1}): {2}")]
    BelowMin(u64, u64, String),
    /// A range ending above the field's maximum.
    #[error("end of range ({0}) above maximum ({1}): {2}")]
    AboveMax(u64, u64, String),
    /// A range whose start is after its end.
    #[error("beginning of range ({0}) beyond end of range ({1}): {2}")]
    Inverted(u64, u64, String),
    /// A step of zero.
    #[error("step of range should be a positive number: {0}")]
    ZeroStep(String),
    /// An unknown time zone in `CRON_TZ=`/`TZ=` or the CronJob's `timeZone`.
    #[error("provided bad location {0}")]
    Location(String),
    /// An `@` word that is not a descriptor.
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
    /// `@every` with a bad duration.
    #[error("failed to parse duration {0}")]
    Duration(String),
}

/// Bit set on a field written `*` or `?` (or a `*/1` step).
const STAR: u64 = 1 << 63;

/// One field's bounds and names.
struct Bounds {
    min: u64,
    max: u64,
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// A parsed schedule and the zone its fields are read in.
#[derive(Debug, Clone)]
pub struct Schedule {
    tz: TimeZone,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Bit sets of minutes, hours, days of month, months, days of week.
    Fields([u64; 5]),
    /// `@every`: whole seconds between runs.
    Every(i64),
}

/// Parses `spec` as a CronJob with `time_zone` (its `spec.timeZone`) would be read by
/// kube-state-metrics: a time zone becomes a `CRON_TZ=` prefix; without one the fields
/// are read in `local`.
pub fn parse(spec: &str, time_zone: Option<&str>, local: &TimeZone) -> Result<Schedule, CronError> {
    match time_zone {
        Some(tz) => parse_spec(&format!("CRON_TZ={tz} {spec}"), local),
        None => parse_spec(spec, local),
    }
}

/// Parses a full spec (with an optional `CRON_TZ=`/`TZ=` prefix).
fn parse_spec(spec: &str, local: &TimeZone) -> Result<Schedule, CronError> {
    if spec.is_empty() {
        return Err(CronError::Empty);
    }
    let mut tz = local.clone();
    let mut spec = spec;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').unwrap_or(0);
        let Some(sp) = spec.find(' ') else {
            return Err(CronError::Location(spec[eq + 1..].to_string()));
        };
        tz = zone(&spec[eq + 1..sp], local)?;
        spec = spec[sp..].trim();
    }
    if spec.starts_with('@') {
        return Ok(Schedule {
            tz,
            kind: descriptor(spec)?,
        });
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(CronError::FieldCount(fields.len(), spec.to_string()));
    }
    let mut bits = [0u64; 5];
    for (i, b) in [MINUTES, HOURS, DOM, MONTHS, DOW].iter().enumerate() {
        bits[i] = field(fields[i], b)?;
    }
    Ok(Schedule {
        tz,
        kind: Kind::Fields(bits),
    })
}

/// Go's `time.LoadLocation`: `""`/`UTC` is UTC, `Local` the local zone, else the IANA
/// database.
fn zone(name: &str, local: &TimeZone) -> Result<TimeZone, CronError> {
    match name {
        "" | "UTC" => Ok(TimeZone::UTC),
        "Local" => Ok(local.clone()),
        _ => TimeZone::get(name).map_err(|_| CronError::Location(name.to_string())),
    }
}

/// The `@` descriptors.
fn descriptor(spec: &str) -> Result<Kind, CronError> {
    let all = |b: &Bounds| bits(b.min, b.max, 1) | STAR;
    let one = |b: &Bounds| 1u64 << b.min;
    let f = match spec {
        "@yearly" | "@annually" => [
            one(&MINUTES),
            one(&HOURS),
            one(&DOM),
            one(&MONTHS),
            all(&DOW),
        ],
        "@monthly" => [
            one(&MINUTES),
            one(&HOURS),
            one(&DOM),
            all(&MONTHS),
            all(&DOW),
        ],
        "@weekly" => [
            one(&MINUTES),
            one(&HOURS),
            all(&DOM),
            all(&MONTHS),
            one(&DOW),
        ],
        "@daily" | "@midnight" => [
            one(&MINUTES),
            one(&HOURS),
            all(&DOM),
            all(&MONTHS),
            all(&DOW),
        ],
        "@hourly" => [
            one(&MINUTES),
            all(&HOURS),
            all(&DOM),
            all(&MONTHS),
            all(&DOW),
        ],
        _ => {
            let Some(d) = spec.strip_prefix("@every ") else {
                return Err(CronError::Descriptor(spec.to_string()));
            };
            let nanos = go_duration(d).ok_or_else(|| CronError::Duration(spec.to_string()))?;
            // Under a second runs every second; sub-second parts are dropped.
            return Ok(Kind::Every(
                (nanos.max(1_000_000_000) / 1_000_000_000) as i64,
            ));
        }
    };
    Ok(Kind::Fields(f))
}

/// One field: comma-separated ranges (empty items skipped).
fn field(text: &str, b: &Bounds) -> Result<u64, CronError> {
    let mut out = 0;
    for r in text.split(',').filter(|r| !r.is_empty()) {
        out |= range(r, b)?;
    }
    Ok(out)
}

/// `*`, `?`, `n`, `a-b`, each with an optional `/step` (`n/step` runs to the maximum).
fn range(expr: &str, b: &Bounds) -> Result<u64, CronError> {
    let err = || expr.to_string();
    let parts: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = parts[0].split('-').collect();
    let single = low_high.len() == 1;
    let (start, mut end, mut extra);
    if low_high[0] == "*" || low_high[0] == "?" {
        (start, end, extra) = (b.min, b.max, STAR);
    } else {
        start = number(low_high[0], b)?;
        end = match low_high.len() {
            1 => start,
            2 => number(low_high[1], b)?,
            _ => return Err(CronError::Hyphens(err())),
        };
        extra = 0;
    }
    let step = match parts.len() {
        1 => 1,
        2 => {
            let step = number(parts[1], &STEP)?;
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(CronError::Slashes(err())),
    };
    if start < b.min {
        return Err(CronError::BelowMin(start, b.min, err()));
    }
    if end > b.max {
        return Err(CronError::AboveMax(end, b.max, err()));
    }
    if start > end {
        return Err(CronError::Inverted(start, end, err()));
    }
    if step == 0 {
        return Err(CronError::ZeroStep(err()));
    }
    Ok(bits(start, end, step) | extra)
}

/// Bounds of a step (no names).
const STEP: Bounds = Bounds {
    min: 0,
    max: 0,
    names: &[],
};

/// One of the field's names (case-insensitive; the first is the minimum) or a
/// non-negative decimal integer (Go's `strconv.Atoi`).
fn number(s: &str, b: &Bounds) -> Result<u64, CronError> {
    let lower = s.to_ascii_lowercase();
    if let Some(i) = b.names.iter().position(|n| *n == lower) {
        return Ok(i as u64 + b.min);
    }
    let digits = s.strip_prefix('+').unwrap_or(s);
    let digits = digits
        .strip_prefix('-')
        .filter(|d| d.bytes().all(|c| c == b'0'))
        .unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(CronError::Int(s.to_string()));
    }
    digits
        .parse::<u64>()
        .map_err(|_| CronError::Int(s.to_string()))
}

/// Bits `min..=max` every `step`.
fn bits(min: u64, max: u64, step: u64) -> u64 {
    (min..=max)
        .step_by(step as usize)
        .fold(0, |acc, i| acc | 1 << i)
}

/// Nanoseconds of a Go `time.ParseDuration` string (`1h30m`, `1.5s`, `-2m`, `0`).
fn go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: i128 = match &rest[..unit_end] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_end..];
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let int: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut v = int.checked_mul(scale)?;
        let mut f = scale;
        for d in frac.bytes().take(30) {
            f /= 10;
            v += (d - b'0') as i128 * f;
        }
        total = total.checked_add(v)?;
        if total > i64::MAX as i128 {
            return None;
        }
    }
    Some(if neg { -total } else { total })
}

impl Schedule {
    /// The first activation strictly after `t` (whole seconds), searching five years
    /// ahead as robfig/cron does; `None` when the fields never match.
    pub fn next(&self, t: Timestamp) -> Option<Timestamp> {
        match self.kind {
            Kind::Every(secs) => Timestamp::from_second(t.as_second().checked_add(secs)?).ok(),
            Kind::Fields(f) => next_fields(&f, &self.tz, t),
        }
    }
}

/// A wall-clock time in `tz` (a gap moves forward, a fold takes the earlier instant).
fn at(tz: &TimeZone, dt: DateTime) -> Option<Zoned> {
    dt.to_zoned(tz.clone()).ok()
}

/// Whether the day of `t` matches: both day fields when either is `*`, else either.
fn day_matches(f: &[u64; 5], t: &Zoned) -> bool {
    let dom = f[2] & (1 << t.day()) != 0;
    let dow = f[4] & (1 << t.weekday().to_sunday_zero_offset()) != 0;
    if f[2] & STAR != 0 || f[4] & STAR != 0 {
        dom && dow
    } else {
        dom || dow
    }
}

/// robfig/cron's `SpecSchedule.Next`: advance month, day, hour and minute in turn,
/// restarting when a larger unit wraps.
fn next_fields(f: &[u64; 5], tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    if f.iter().any(|b| b & !STAR == 0) {
        return None;
    }
    let has = |i: usize, v: i64| f[i] & (1u64 << v) != 0;
    let mut t = Timestamp::from_second(after.as_second().checked_add(1)?)
        .ok()?
        .to_zoned(tz.clone());
    let year_limit = t.year() + 5;
    let mut added = false;
    'wrap: loop {
        if t.year() > year_limit {
            return None;
        }
        while !has(3, t.month() as i64) {
            if !added {
                added = true;
                t = at(tz, civil::date(t.year(), t.month(), 1).at(0, 0, 0, 0))?;
            }
            // Go's AddDate(0, 1, 0): the same wall-clock day and time a month later.
            let first = civil::date(t.year(), t.month(), 1)
                .checked_add(1.month())
                .ok()?;
            let day = first.checked_add((t.day() as i64 - 1).days()).ok()?;
            t = at(tz, day.to_datetime(t.time()))?;
            if t.month() == 1 {
                continue 'wrap;
            }
        }
        while !day_matches(f, &t) {
            if !added {
                added = true;
                t = at(tz, t.date().at(0, 0, 0, 0))?;
            }
            t = at(tz, t.datetime().checked_add(1.day()).ok()?)?;
            // A DST change can move midnight: back to the day's start.
            let h = t.hour() as i64;
            if h != 0 {
                let shift = if h > 12 {
                    (24 - h).hours()
                } else {
                    (-h).hours()
                };
                t = t.checked_add(shift).ok()?;
            }
            if t.day() == 1 {
                continue 'wrap;
            }
        }
        while !has(1, t.hour() as i64) {
            if !added {
                added = true;
                t = at(tz, t.date().at(t.hour(), 0, 0, 0))?;
            }
            t = t.checked_add(1.hour()).ok()?;
            if t.hour() == 0 {
                continue 'wrap;
            }
        }
        while !has(0, t.minute() as i64) {
            if !added {
                added = true;
                t = t
                    .timestamp()
                    .as_second()
                    .div_euclid(60)
                    .checked_mul(60)
                    .and_then(|s| {
                        Timestamp::from_second(s)
                            .ok()
                            .map(|ts| ts.to_zoned(tz.clone()))
                    })?;
            }
            t = t.checked_add(1.minute()).ok()?;
            if t.minute() == 0 {
                continue 'wrap;
            }
        }
        while t.second() != 0 {
            added = true;
            t = t.checked_add(1.second()).ok()?;
            if t.second() == 0 {
                continue 'wrap;
            }
        }
        return Some(t.timestamp());
    }
}
