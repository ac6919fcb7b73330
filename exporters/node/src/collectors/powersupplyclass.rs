//! `powersupplyclass`: /sys/class/power_supply/<supply> properties (`node_power_supply_*`).

use std::fs;

use expo::{MetricSet, MetricType};

use crate::util::read_trimmed;
use crate::{Collector, Config, Error};

/// (sysfs file, metric suffix, divisor): integers as-is, µA/µV/µWh/µW → SI, tenths of °C.
const NUMERIC: [(&str, &str, f64); 49] = [
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// (sysfs file, label) of the text properties of `node_power_supply_info`.
const TEXT: [(&str, &str); 11] = [
    ("capacity_level", "capacity_level"),
    ("charge_type", "charge_type"),
    ("health", "health"),
    ("manufacturer", "manufacturer"),
    ("model_name", "model_name"),
    ("serial_number", "serial_number"),
    ("status", "status"),
    ("technology", "technology"),
    ("type", "type"),
    ("usb_type", "usb_type"),
    ("scope", "scope"),
];

/// The `powersupplyclass` collector.
pub struct PowerSupplyClass {
    names: Vec<(String, String)>,
}

impl Default for PowerSupplyClass {
    fn default() -> PowerSupplyClass {
        PowerSupplyClass {
            names: NUMERIC
                .iter()
                .map(|(_, m, _)| {
                    (
                        format!("node_power_supply_{m}"),
                        format!("{m} value of /sys/class/power_supply/<power_supply>."),
                    )
                })
                .collect(),
        }
    }
}

impl Collector for PowerSupplyClass {
    fn name(&self) -> &'static str {
        "powersupplyclass"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let dir = cfg.sys("class/power_supply");
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoData(format!("{}: {e}", dir.display())))
            }
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut supplies: Vec<(String, std::path::PathBuf)> = rd
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        supplies.sort();
        for (name, path) in supplies {
            for ((file, _, div), (metric, help)) in NUMERIC.iter().zip(&self.names) {
                let Some(v) = read_trimmed(&path.join(file)).and_then(|s| s.parse::<i64>().ok())
                else {
                    continue;
                };
                out.family(metric, help, MetricType::Gauge)
                    .add(&[("power_supply", &name)], v as f64 / div);
            }
            let texts: Vec<(&str, String)> = TEXT
                .iter()
                .filter_map(|(file, label)| {
                    read_trimmed(&path.join(file))
                        .filter(|v| !v.is_empty())
                        .map(|v| (*label, v))
                })
                .collect();
            let mut labels: Vec<(&str, &str)> = vec![("power_supply", &name)];
            labels.extend(texts.iter().map(|(l, v)| (*l, v.as_str())));
            out.family(
                "node_power_supply_info",
                "info of /sys/class/power_supply/<power_supply>.",
                MetricType::Gauge,
            )
            .add(&labels, 1.0);
        }
        Ok(())
    }
}
