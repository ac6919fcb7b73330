//! `rpi_throttled` (not in node_exporter): Raspberry Pi firmware throttling flags from
//! /sys/devices/platform/soc/soc:firmware/get_throttled (absent elsewhere: no samples).

use expo::{MetricSet, MetricType};

use crate::util::read_trimmed;
use crate::{Collector, Config, Error};

/// (bit, condition, when) of the documented get_throttled bits.
const BITS: [(u32, &str, &str); 8] = [
    (0, "under_voltage", "now"),
    (1, "arm_frequency_capped", "now"),
    (2, "throttled", "now"),
    (3, "soft_temp_limit", "now"),
    (16, "under_voltage", "since_boot"),
    (17, "arm_frequency_capped", "since_boot"),
    (18, "throttled", "since_boot"),
    (19, "soft_temp_limit", "since_boot"),
];

/// The `rpi_throttled` collector.
pub struct RpiThrottled;

impl Collector for RpiThrottled {
    fn name(&self) -> &'static str {
        "rpi_throttled"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.sys("devices/platform/soc/soc:firmware/get_throttled");
        let Some(text) = read_trimmed(&path) else {
            return Ok(());
        };
        // The firmware driver prints the mask in hex without a 0x prefix (e.g. "50005").
        let t = text.trim_start_matches("0x");
        let mask = u32::from_str_radix(t, 16)
            .map_err(|_| Error::parse(&path, format!("not a hex mask: {text:?}")))?;
        out.family(
            "node_rpi_throttled_mask",
            "Raspberry Pi firmware get_throttled bit mask (see the vcgencmd documentation).",
            MetricType::Gauge,
        )
        .add(&[], f64::from(mask));
        let fam = out.family(
            "node_rpi_throttled",
            "Raspberry Pi firmware throttling condition: 1 if set (when=now) or seen since boot (when=since_boot).",
            MetricType::Gauge,
        );
        for (bit, cond, when) in BITS {
            let v = f64::from((mask >> bit) & 1);
            fam.add(&[("condition", cond), ("when", when)], v);
        }
        Ok(())
    }
}
