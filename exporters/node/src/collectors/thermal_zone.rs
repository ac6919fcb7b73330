//! `thermal_zone`: /sys/class/thermal/thermal_zone* temperatures and cooling devices.

use expo::{MetricSet, MetricType};

use crate::util::{numbered_entries, read_f64, read_trimmed};
use crate::{Collector, Config, Error};

/// The `thermal_zone` collector.
pub struct ThermalZone;

impl Collector for ThermalZone {
    fn name(&self) -> &'static str {
        "thermal_zone"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let dir = cfg.sys("class/thermal");
        for (name, path) in numbered_entries(&dir, "thermal_zone") {
            let (Some(kind), Some(temp)) = (
                read_trimmed(&path.join("type")),
                read_f64(&path.join("temp")),
            ) else {
                continue; // e.g. a zone whose sensor returns ENODATA
            };
            out.family(
                "node_thermal_zone_temp",
                "Zone temperature in Celsius",
                MetricType::Gauge,
            )
            .add(
                &[("zone", &name["thermal_zone".len()..]), ("type", &kind)],
                temp / 1000.0,
            );
        }
        for (name, path) in numbered_entries(&dir, "cooling_device") {
            let (Some(kind), Some(cur), Some(max)) = (
                read_trimmed(&path.join("type")),
                read_f64(&path.join("cur_state")),
                read_f64(&path.join("max_state")),
            ) else {
                continue;
            };
            let labels = [("name", &name["cooling_device".len()..]), ("type", &kind)];
            out.family(
                "node_cooling_device_cur_state",
                "Current throttle state of the cooling device",
                MetricType::Gauge,
            )
            .add(&labels, cur);
            out.family(
                "node_cooling_device_max_state",
                "Maximum throttle state of the cooling device",
                MetricType::Gauge,
            )
            .add(&labels, max);
        }
        Ok(())
    }
}
