//! One module per node_exporter collector.

use crate::{Collector, Config, Error};

pub mod arp;
pub mod conntrack;
pub mod cpu;
pub mod cpufreq;
pub mod diskstats;
pub mod entropy;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod loadavg;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod os;
pub mod pressure;
pub mod rpi;
pub mod selinux;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;

/// node_exporter's default Linux collectors that this crate implements, plus `rpi_throttled`.
pub fn default_collectors(cfg: &Config) -> Result<Vec<Box<dyn Collector>>, Error> {
    Ok(vec![
        Box::new(arp::Arp::default()),
        Box::new(conntrack::Conntrack),
        Box::new(cpu::Cpu::default()),
        Box::new(cpufreq::CpuFreq),
        Box::new(diskstats::Diskstats::new(cfg)?),
        Box::new(entropy::Entropy),
        Box::new(filefd::Filefd::default()),
        Box::new(filesystem::Filesystem::new(cfg)?),
        Box::new(hwmon::Hwmon),
        Box::new(loadavg::Loadavg::default()),
        Box::new(meminfo::Meminfo::default()),
        Box::new(netclass::Netclass::new(cfg)?),
        Box::new(netdev::Netdev::new(cfg)?),
        Box::new(netstat::Netstat::new(cfg)?),
        Box::new(os::OsRelease),
        Box::new(pressure::Pressure::default()),
        Box::new(rpi::RpiThrottled),
        Box::new(selinux::Selinux),
        Box::new(sockstat::Sockstat::default()),
        Box::new(softnet::Softnet::default()),
        Box::new(stat::Stat::default()),
        Box::new(textfile::Textfile),
        Box::new(thermal_zone::ThermalZone),
        Box::new(time::Time),
        Box::new(timex::Timex),
        Box::new(udp_queues::UdpQueues::default()),
        Box::new(uname::Uname),
        Box::new(vmstat::Vmstat::new(cfg)?),
    ])
}
