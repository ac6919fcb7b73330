//! `hwmon`: /sys/class/hwmon/hwmon* sensors, named and scaled as node_exporter does.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use expo::{MetricSet, MetricType};

use crate::util::read_trimmed;
use crate::{Collector, Config, Error};

const SENSOR_TYPES: [&str; 13] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

/// The `hwmon` collector.
pub struct Hwmon;

/// Lowercase, `[^a-z0-9:_]` → `_`, trimmed of `_` (node_exporter's cleanMetricName).
fn clean(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches('_').to_string()
}

/// Splits `temp1_input` into ("temp", 1, "input") like node_exporter's
/// `^([^0-9]+)([0-9]*)?(_(.+))?$`: the type is everything before the first digit.
fn explode(file: &str) -> Option<(&str, u32, &str)> {
    let ty_end = file
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(file.len());
    if ty_end == 0 {
        return None;
    }
    let (ty, rest) = file.split_at(ty_end);
    let num_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let id = if num_end == 0 {
        0
    } else {
        rest[..num_end].parse().ok()?
    };
    let prop = &rest[num_end..];
    let prop = match prop.strip_prefix('_') {
        Some(p) if !p.is_empty() => p,
        None if prop.is_empty() => "",
        _ => return None,
    };
    Some((ty, id, prop))
}

/// Collects `sensor → property → value` from the files of `dir`.
fn collect_sensors(
    dir: &Path,
    data: &mut BTreeMap<String, BTreeMap<String, String>>,
) -> Result<(), Error> {
    let rd = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for e in rd.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some((ty, id, prop)) = explode(&file) else {
            continue;
        };
        if !SENSOR_TYPES.contains(&ty) {
            continue;
        }
        let Some(v) = read_trimmed(&e.path()) else {
            continue;
        };
        data.entry(format!("{ty}{id}"))
            .or_default()
            .insert(prop.to_string(), v);
    }
    Ok(())
}

/// The `chip` label: device type and name of the `device` link, else `name`, else the dir.
fn chip_name(dir: &Path) -> Option<String> {
    if let Ok(dev) = fs::canonicalize(dir.join("device")) {
        let name = dev.file_name().map(|n| clean(&n.to_string_lossy()));
        let ty = dev
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| clean(&n.to_string_lossy()));
        match (ty, name) {
            (Some(t), Some(n)) if !t.is_empty() && !n.is_empty() => {
                return Some(format!("{t}_{n}"))
            }
            (_, Some(n)) if !n.is_empty() => return Some(n),
            _ => {}
        }
    }
    if let Some(n) = read_trimmed(&dir.join("name")).map(|n| clean(&n)) {
        if !n.is_empty() {
            return Some(n);
        }
    }
    let real = fs::canonicalize(dir).ok()?;
    let n = clean(&real.file_name()?.to_string_lossy());
    (!n.is_empty()).then_some(n)
}

fn update_chip(dir: &Path, out: &mut MetricSet) -> Result<(), Error> {
    let chip = chip_name(dir).ok_or_else(|| Error::parse(dir, "could not derive a chip name"))?;
    let mut data = BTreeMap::new();
    collect_sensors(dir, &mut data)?;
    if dir.join("device").exists() {
        collect_sensors(&dir.join("device"), &mut data)?;
    }
    if let Some(n) = read_trimmed(&dir.join("name"))
        .map(|n| clean(&n))
        .filter(|n| !n.is_empty())
    {
        out.family(
            "node_hwmon_chip_names",
            "Annotation metric for human-readable chip names",
            MetricType::Gauge,
        )
        .add(&[("chip", &chip), ("chip_name", &n)], 1.0);
    }
    for (sensor, props) in &data {
        let Some((ty, _, _)) = explode(sensor) else {
            continue;
        };
        let labels = [("chip", chip.as_str()), ("sensor", sensor.as_str())];
        if let Some(label) = props.get("label") {
            out.family(
                "node_hwmon_sensor_label",
                "Label for given chip and sensor",
                MetricType::Gauge,
            )
            .add(
                &[("chip", &chip), ("sensor", sensor), ("label", label)],
                1.0,
            );
        }
        let raw = props.get("").map(String::as_str);
        match ty {
            "beep_enable" => {
                let v = if raw == Some("1") { 1.0 } else { 0.0 };
                out.family(
                    "node_hwmon_beep_enabled",
                    "Hardware beep enabled",
                    MetricType::Gauge,
                )
                .add(&labels, v);
                continue;
            }
            "vrm" => {
                if let Some(v) = raw.and_then(|r| r.parse::<f64>().ok()) {
                    out.family(
                        "node_hwmon_voltage_regulator_version",
                        "Hardware voltage regulator",
                        MetricType::Gauge,
                    )
                    .add(&labels, v);
                }
                continue;
            }
            "update_interval" => {
                if let Some(v) = raw.and_then(|r| r.parse::<f64>().ok()) {
                    out.family(
                        "node_hwmon_update_interval_seconds",
                        "Hardware monitor update interval",
                        MetricType::Gauge,
                    )
                    .add(&labels, v * 0.001);
                }
                continue;
            }
            _ => {}
        }
        for (element, value) in props {
            if element == "label" {
                continue;
            }
            let Ok(v) = value.parse::<f64>() else {
                continue;
            };
            let mut name = format!("node_hwmon_{ty}");
            if element == "input" {
                if props.contains_key("") {
                    name.push_str("_input");
                }
            } else if !element.is_empty() {
                name.push('_');
                name.push_str(&clean(element));
            }
            let el = element.as_str();
            let (name, help, kind, v) = if el == "fault" || el == "alarm" {
                (
                    name,
                    format!("Hardware sensor {el} status ({ty})"),
                    MetricType::Gauge,
                    v,
                )
            } else if el == "beep" {
                (
                    name + "_enabled",
                    "Hardware monitor sensor has beeping enabled".to_string(),
                    MetricType::Gauge,
                    v,
                )
            } else if ty == "in" || ty == "cpu" {
                (
                    name + "_volts",
                    format!("Hardware monitor for voltage ({el})"),
                    MetricType::Gauge,
                    v * 0.001,
                )
            } else if ty == "temp" && el != "type" {
                let el = if el.is_empty() { "input" } else { el };
                (
                    name + "_celsius",
                    format!("Hardware monitor for temperature ({el})"),
                    MetricType::Gauge,
                    v * 0.001,
                )
            } else if ty == "curr" {
                (
                    name + "_amps",
                    format!("Hardware monitor for current ({el})"),
                    MetricType::Gauge,
                    v * 0.001,
                )
            } else if ty == "energy" {
                (
                    name + "_joule_total",
                    format!("Hardware monitor for joules used so far ({el})"),
                    MetricType::Counter,
                    v / 1000000.0,
                )
            } else if ty == "power" && el == "accuracy" {
                (
                    name,
                    "Hardware monitor power meter accuracy, as a ratio".to_string(),
                    MetricType::Gauge,
                    v / 1000000.0,
                )
            } else if ty == "power"
                && matches!(
                    el,
                    "average_interval" | "average_interval_min" | "average_interval_max"
                )
            {
                (
                    name + "_seconds",
                    format!("Hardware monitor power usage update interval ({el})"),
                    MetricType::Gauge,
                    v * 0.001,
                )
            } else if ty == "power" {
                (
                    name + "_watt",
                    format!("Hardware monitor for power usage in watts ({el})"),
                    MetricType::Gauge,
                    v / 1000000.0,
                )
            } else if ty == "humidity" {
                (
                    name,
                    format!("Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({el})"),
                    MetricType::Gauge,
                    v / 1000000.0,
                )
            } else if ty == "fan" && matches!(el, "input" | "min" | "max" | "target") {
                (
                    name + "_rpm",
                    format!("Hardware monitor for fan revolutions per minute ({el})"),
                    MetricType::Gauge,
                    v,
                )
            } else {
                (
                    name,
                    format!("Hardware monitor {ty} element {el}"),
                    MetricType::Gauge,
                    v,
                )
            };
            out.family(&name, &help, kind).add(&labels, v);
        }
    }
    Ok(())
}

impl Collector for Hwmon {
    fn name(&self) -> &'static str {
        "hwmon"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let dir = cfg.sys("class/hwmon");
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoData(
                    "hwmon metrics are not available for this system".into(),
                ))
            }
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut chips: Vec<_> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        chips.sort();
        let mut last = Ok(());
        for chip in chips {
            if let Err(e) = update_chip(&chip, out) {
                last = Err(e);
            }
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explode_names() {
        assert_eq!(explode("temp1_input"), Some(("temp", 1, "input")));
        assert_eq!(explode("fan2_min"), Some(("fan", 2, "min")));
        assert_eq!(explode("in0_label"), Some(("in", 0, "label")));
        assert_eq!(explode("temp1"), Some(("temp", 1, "")));
        assert_eq!(explode("name"), Some(("name", 0, "")));
        assert_eq!(explode("update_interval"), Some(("update_interval", 0, "")));
        assert_eq!(
            explode("pwm1_auto_point1_pwm"),
            Some(("pwm", 1, "auto_point1_pwm"))
        );
        assert_eq!(explode("in0input"), None);
        assert_eq!(clean("Core 0"), "core_0");
    }
}
