//! `timex`: kernel clock discipline state from adjtimex(2).

use expo::{MetricSet, MetricType};

use crate::{Collector, Config, Error};

const STA_NANO: i32 = 0x2000;
const TIME_ERROR: i32 = 5;
const PPM16FRAC: f64 = 1000000.0 * 65536.0;

/// The `timex` collector.
pub struct Timex;

impl Collector for Timex {
    fn name(&self) -> &'static str {
        "timex"
    }

    fn update(&mut self, _cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        // SAFETY: adjtimex with modes = 0 only reads into the zeroed struct.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        let status = unsafe { libc::adjtimex(&mut tx) };
        if status < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(Error::NoData(format!("adjtimex: {e}")));
            }
            return Err(Error::Syscall {
                call: "adjtimex",
                source: e,
            });
        }
        let divisor = if tx.status & STA_NANO != 0 { 1e9 } else { 1e6 };
        let g = MetricType::Gauge;
        let c = MetricType::Counter;
        let rows: [(&str, &str, MetricType, f64); 17] = [
            (
                "node_timex_sync_status",
                "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
                g,
                if status == TIME_ERROR { 0.0 } else { 1.0 },
            ),
            (
                "node_timex_offset_seconds",
                "Time offset in between local system and reference clock.",
                g,
                tx.offset as f64 / divisor,
            ),
            (
                "node_timex_frequency_adjustment_ratio",
                "Local clock frequency adjustment.",
                g,
                1.0 + tx.freq as f64 / PPM16FRAC,
            ),
            (
                "node_timex_maxerror_seconds",
                "Maximum error in seconds.",
                g,
                tx.maxerror as f64 / 1e6,
            ),
            (
                "node_timex_estimated_error_seconds",
                "Estimated error in seconds.",
                g,
                tx.esterror as f64 / 1e6,
            ),
            (
                "node_timex_status",
                "Value of the status array bits.",
                g,
                tx.status as f64,
            ),
            (
                "node_timex_loop_time_constant",
                "Phase-locked loop time constant.",
                g,
                tx.constant as f64,
            ),
            (
                "node_timex_tick_seconds",
                "Seconds between clock ticks.",
                g,
                tx.tick as f64 / 1e6,
            ),
            (
                "node_timex_pps_frequency_hertz",
                "Pulse per second frequency.",
                g,
                tx.ppsfreq as f64 / PPM16FRAC,
            ),
            (
                "node_timex_pps_jitter_seconds",
                "Pulse per second jitter.",
                g,
                tx.jitter as f64 / divisor,
            ),
            (
                "node_timex_pps_shift_seconds",
                "Pulse per second interval duration.",
                g,
                tx.shift as f64,
            ),
            (
                "node_timex_pps_stability_hertz",
                "Pulse per second stability, average of recent frequency changes.",
                g,
                tx.stabil as f64 / PPM16FRAC,
            ),
            (
                "node_timex_pps_jitter_total",
                "Pulse per second count of jitter limit exceeded events.",
                c,
                tx.jitcnt as f64,
            ),
            (
                "node_timex_pps_calibration_total",
                "Pulse per second count of calibration intervals.",
                c,
                tx.calcnt as f64,
            ),
            (
                "node_timex_pps_error_total",
                "Pulse per second count of calibration errors.",
                c,
                tx.errcnt as f64,
            ),
            (
                "node_timex_pps_stability_exceeded_total",
                "Pulse per second count of stability limit exceeded events.",
                c,
                tx.stbcnt as f64,
            ),
            (
                "node_timex_tai_offset_seconds",
                "International Atomic Time (TAI) offset.",
                g,
                tx.tai as f64,
            ),
        ];
        for (name, help, kind, v) in rows {
            out.family(name, help, kind).add(&[], v);
        }
        Ok(())
    }
}
