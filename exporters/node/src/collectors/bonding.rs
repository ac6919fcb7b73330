//! `bonding`: configured and active slaves of bonding interfaces (/sys/class/net).

use expo::{MetricSet, MetricType};

use crate::util::read_trimmed;
use crate::{Collector, Config, Error};

/// The `bonding` collector.
pub struct Bonding;

impl Collector for Bonding {
    fn name(&self) -> &'static str {
        "bonding"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let root = cfg.sys("class/net");
        let masters_path = root.join("bonding_masters");
        let masters = match std::fs::read_to_string(&masters_path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoData("bonding_masters does not exist".into()))
            }
            Err(e) => return Err(Error::io(&masters_path, e)),
        };
        let mut rows = Vec::new();
        for master in masters.split_ascii_whitespace() {
            let slaves_path = root.join(master).join("bonding/slaves");
            let slaves =
                std::fs::read_to_string(&slaves_path).map_err(|e| Error::io(&slaves_path, e))?;
            let (mut total, mut active) = (0u32, 0u32);
            for slave in slaves.split_ascii_whitespace() {
                let dir = root.join(master);
                let state =
                    read_trimmed(&dir.join(format!("lower_{slave}/bonding_slave/mii_status")))
                        .or_else(|| {
                            read_trimmed(
                                &dir.join(format!("slave_{slave}/bonding_slave/mii_status")),
                            )
                        })
                        .ok_or_else(|| {
                            Error::parse(&dir, format!("no mii_status for slave {slave}"))
                        })?;
                total += 1;
                if state == "up" {
                    active += 1;
                }
            }
            rows.push((master, total, active));
        }
        for (master, total, active) in rows {
            out.family(
                "node_bonding_slaves",
                "Number of configured slaves per bonding interface.",
                MetricType::Gauge,
            )
            .add(&[("master", master)], f64::from(total));
            out.family(
                "node_bonding_active",
                "Number of active slaves per bonding interface.",
                MetricType::Gauge,
            )
            .add(&[("master", master)], f64::from(active));
        }
        Ok(())
    }
}
