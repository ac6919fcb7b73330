//! `time`: system time, time zone offset and clock sources.

use std::ffi::CStr;
use std::time::{SystemTime, UNIX_EPOCH};

use expo::{MetricSet, MetricType};

use crate::util::{numbered_entries, read_trimmed};
use crate::{Collector, Config, Error};

/// The `time` collector.
pub struct Time;

/// The local time zone's abbreviation and offset from UTC in seconds (via localtime_r).
fn zone(now_secs: i64) -> (String, i64) {
    let t: libc::time_t = now_secs as libc::time_t;
    // SAFETY: `tm` is a plain C struct filled by localtime_r; `t` outlives the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok || tm.tm_zone.is_null() {
        return ("UTC".to_string(), 0);
    }
    // SAFETY: tm_zone points to a NUL-terminated static string owned by libc.
    let name = unsafe { CStr::from_ptr(tm.tm_zone) }
        .to_string_lossy()
        .into_owned();
    (name, tm.tm_gmtoff as i64)
}

impl Collector for Time {
    fn name(&self) -> &'static str {
        "time"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        out.family(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            MetricType::Gauge,
        )
        .add(&[], now.as_nanos() as f64 / 1e9);
        let (name, offset) = zone(now.as_secs() as i64);
        out.family(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            MetricType::Gauge,
        )
        .add(&[("time_zone", &name)], offset as f64);
        let dir = cfg.sys("devices/system/clocksource");
        let sources = numbered_entries(&dir, "clocksource");
        for (i, (_, path)) in sources.iter().enumerate() {
            let device = i.to_string();
            let avail = read_trimmed(&path.join("available_clocksource")).unwrap_or_default();
            for cs in avail.split_ascii_whitespace() {
                out.family(
                    "node_time_clocksource_available_info",
                    "Available clocksources read from '/sys/devices/system/clocksource'.",
                    MetricType::Gauge,
                )
                .add(&[("device", &device), ("clocksource", cs)], 1.0);
            }
            let cur = read_trimmed(&path.join("current_clocksource")).unwrap_or_default();
            out.family(
                "node_time_clocksource_current_info",
                "Current clocksource read from '/sys/devices/system/clocksource'.",
                MetricType::Gauge,
            )
            .add(&[("device", &device), ("clocksource", &cur)], 1.0);
        }
        Ok(())
    }
}
