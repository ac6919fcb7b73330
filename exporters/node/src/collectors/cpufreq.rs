//! `cpufreq`: CPU frequencies from /sys/devices/system/cpu/cpu*/cpufreq (kHz → Hz).

use expo::{MetricSet, MetricType};

use crate::util::{numbered_entries, read_f64};
use crate::{Collector, Config, Error};

const FILES: [(&str, &str, &str); 6] = [
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current cpu thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum cpu thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum cpu thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
];

/// The `cpufreq` collector (no cpufreq directories: no samples, success).
pub struct CpuFreq;

impl Collector for CpuFreq {
    fn name(&self) -> &'static str {
        "cpufreq"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        for (name, dir) in numbered_entries(&cfg.sys("devices/system/cpu"), "cpu") {
            let freq = dir.join("cpufreq");
            if !freq.is_dir() {
                continue;
            }
            let cpu = &name[3..];
            for (file, metric, help) in FILES {
                if let Some(khz) = read_f64(&freq.join(file)) {
                    out.family(metric, help, MetricType::Gauge)
                        .add(&[("cpu", cpu)], khz * 1000.0);
                }
            }
        }
        Ok(())
    }
}
