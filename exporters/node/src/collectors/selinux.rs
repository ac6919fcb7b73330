//! `selinux`: whether SELinux is enabled and its modes.

use expo::{MetricSet, MetricType};

use crate::util::read_trimmed;
use crate::{Collector, Config, Error};

/// The `selinux` collector.
pub struct Selinux;

/// SELINUX= of /etc/selinux/config as node_exporter's go-selinux maps it (1, 0, -1).
fn config_mode(cfg: &Config) -> f64 {
    let text = std::fs::read_to_string(cfg.root("etc/selinux/config")).unwrap_or_default();
    let mode = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("SELINUX="))
        .unwrap_or("");
    match mode.trim() {
        "enforcing" => 1.0,
        "permissive" => 0.0,
        _ => -1.0,
    }
}

impl Collector for Selinux {
    fn name(&self) -> &'static str {
        "selinux"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let enforce = read_trimmed(&cfg.sys("fs/selinux/enforce"));
        out.family(
            "node_selinux_enabled",
            "SELinux is enabled, 1 is true, 0 is false",
            MetricType::Gauge,
        )
        .add(&[], if enforce.is_some() { 1.0 } else { 0.0 });
        let Some(enforce) = enforce else {
            return Ok(());
        };
        out.family(
            "node_selinux_config_mode",
            "Configured SELinux enforcement mode",
            MetricType::Gauge,
        )
        .add(&[], config_mode(cfg));
        out.family(
            "node_selinux_current_mode",
            "Current SELinux enforcement mode",
            MetricType::Gauge,
        )
        .add(&[], if enforce == "1" { 1.0 } else { 0.0 });
        Ok(())
    }
}
