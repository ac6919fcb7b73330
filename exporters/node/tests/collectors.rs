//! Golden tests: each collector run alone on a fixture tree (`fixtures/vm`: this VM's
//! /proc and /sys shape; `fixtures/rpi`: a Raspberry Pi 4), rendered as text 0.0.4 and
//! compared with `golden/<fixture>/<collector>.prom`. `UPDATE_GOLDEN=1` rewrites them.

use std::path::PathBuf;

use node_collector::collectors::*;
use node_collector::{Collector, Config, NodeCollector};

fn fixture(name: &str) -> Config {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    Config {
        procfs: root.join("proc"),
        sysfs: root.join("sys"),
        rootfs: root.join("root"),
        udev_data: root.join("udev"),
        textfile_dir: Some(root.join("textfile")),
        ..Config::default()
    }
}

/// Renders one collector's output on `fix`, without the (timing-dependent) duration family;
/// samples of the `volatile` families get their value replaced by `<volatile>`.
fn render(fix: &str, make: fn(&Config) -> Box<dyn Collector>, volatile: &[&str]) -> String {
    let cfg = fixture(fix);
    let c = make(&cfg);
    let mut nc = NodeCollector::with_collectors(cfg, vec![c]);
    let mut text = String::new();
    expo::render(nc.collect(), expo::Format::Text, &mut text);
    let root = env!("CARGO_MANIFEST_DIR");
    let mut out = String::new();
    for line in text.lines() {
        if line.contains("node_scrape_collector_duration_seconds") {
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap_or("");
        if !line.starts_with('#') && volatile.contains(&name) {
            let (series, _) = line.rsplit_once(' ').unwrap();
            out.push_str(series);
            out.push_str(" <volatile>\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.replace(root, "$FIXTURES")
}

fn check(fix: &str, golden: &str, make: fn(&Config) -> Box<dyn Collector>, volatile: &[&str]) {
    let got = render(fix, make, volatile);
    let path = format!(
        "{}/tests/golden/{fix}/{golden}.prom",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(got, want, "output differs from {path}");
}

macro_rules! golden {
    ($test:ident, $fix:literal, $golden:literal, $make:expr) => {
        golden!($test, $fix, $golden, $make, &[]);
    };
    ($test:ident, $fix:literal, $golden:literal, $make:expr, $volatile:expr) => {
        #[test]
        fn $test() {
            check($fix, $golden, $make, $volatile);
        }
    };
}

golden!(vm_arp, "vm", "arp", |_| Box::new(arp::Arp::default()));
golden!(vm_conntrack, "vm", "conntrack", |_| Box::new(
    conntrack::Conntrack
));
golden!(vm_cpu, "vm", "cpu", |_| Box::new(cpu::Cpu::default()));
golden!(vm_cpufreq, "vm", "cpufreq", |_| Box::new(cpufreq::CpuFreq));
golden!(vm_diskstats, "vm", "diskstats", |c| Box::new(
    diskstats::Diskstats::new(c).unwrap()
));
golden!(vm_entropy, "vm", "entropy", |_| Box::new(entropy::Entropy));
golden!(vm_filefd, "vm", "filefd", |_| Box::new(
    filefd::Filefd::default()
));
golden!(
    vm_filesystem,
    "vm",
    "filesystem",
    |c| Box::new(filesystem::Filesystem::new(c).unwrap()),
    &[
        "node_filesystem_size_bytes",
        "node_filesystem_free_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_files",
        "node_filesystem_files_free",
    ]
);
golden!(vm_hwmon, "vm", "hwmon", |_| Box::new(hwmon::Hwmon));
golden!(vm_loadavg, "vm", "loadavg", |_| Box::new(
    loadavg::Loadavg::default()
));
golden!(vm_meminfo, "vm", "meminfo", |_| Box::new(
    meminfo::Meminfo::default()
));
golden!(vm_netclass, "vm", "netclass", |c| Box::new(
    netclass::Netclass::new(c).unwrap()
));
golden!(vm_netdev, "vm", "netdev", |c| Box::new(
    netdev::Netdev::new(c).unwrap()
));
golden!(vm_netstat, "vm", "netstat", |c| Box::new(
    netstat::Netstat::new(c).unwrap()
));
golden!(vm_os, "vm", "os", |_| Box::new(os::OsRelease));
golden!(vm_pressure, "vm", "pressure", |_| Box::new(
    pressure::Pressure::default()
));
golden!(vm_rpi_throttled, "vm", "rpi_throttled", |_| Box::new(
    rpi::RpiThrottled
));
golden!(vm_selinux, "vm", "selinux", |_| Box::new(selinux::Selinux));
golden!(vm_sockstat, "vm", "sockstat", |_| Box::new(
    sockstat::Sockstat::default()
));
golden!(vm_softnet, "vm", "softnet", |_| Box::new(
    softnet::Softnet::default()
));
golden!(vm_stat, "vm", "stat", |_| Box::new(stat::Stat::default()));
golden!(
    vm_textfile,
    "vm",
    "textfile",
    |_| Box::new(textfile::Textfile),
    &["node_textfile_mtime_seconds"]
);
golden!(vm_thermal_zone, "vm", "thermal_zone", |_| Box::new(
    thermal_zone::ThermalZone
));
golden!(
    vm_time,
    "vm",
    "time",
    |_| Box::new(time::Time),
    &["node_time_seconds"]
);
golden!(vm_udp_queues, "vm", "udp_queues", |_| Box::new(
    udp_queues::UdpQueues::default()
));
golden!(vm_vmstat, "vm", "vmstat", |c| Box::new(
    vmstat::Vmstat::new(c).unwrap()
));

golden!(rpi_cpu, "rpi", "cpu", |_| Box::new(cpu::Cpu::default()));
golden!(rpi_cpufreq, "rpi", "cpufreq", |_| Box::new(
    cpufreq::CpuFreq
));
golden!(rpi_hwmon, "rpi", "hwmon", |_| Box::new(hwmon::Hwmon));
golden!(rpi_loadavg, "rpi", "loadavg", |_| Box::new(
    loadavg::Loadavg::default()
));
golden!(rpi_meminfo, "rpi", "meminfo", |_| Box::new(
    meminfo::Meminfo::default()
));
golden!(rpi_os, "rpi", "os", |_| Box::new(os::OsRelease));
golden!(rpi_pressure, "rpi", "pressure", |_| Box::new(
    pressure::Pressure::default()
));
golden!(rpi_rpi_throttled, "rpi", "rpi_throttled", |_| Box::new(
    rpi::RpiThrottled
));
golden!(rpi_stat, "rpi", "stat", |_| Box::new(stat::Stat::default()));
golden!(rpi_textfile, "rpi", "textfile", |_| Box::new(
    textfile::Textfile
));
golden!(rpi_thermal_zone, "rpi", "thermal_zone", |_| Box::new(
    thermal_zone::ThermalZone
));

/// Syscall-based collectors: the values are the machine's, so check shape and sanity.
#[test]
fn uname_and_timex_shape() {
    let cfg = fixture("vm");
    let mut nc =
        NodeCollector::with_collectors(cfg, vec![Box::new(uname::Uname), Box::new(timex::Timex)]);
    let set = nc.collect();
    let u = set.get("node_uname_info").expect("uname");
    let s = u.samples().next().unwrap();
    let names: Vec<&str> = s.labels().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "domainname",
            "machine",
            "nodename",
            "release",
            "sysname",
            "version"
        ]
    );
    assert_eq!(s.label("sysname"), Some("Linux"));
    assert_eq!(s.value(), 1.0);
    let fams: Vec<&str> = set.families().map(|f| f.name()).collect();
    assert_eq!(
        fams.iter().filter(|n| n.starts_with("node_timex_")).count(),
        17
    );
    let sync = set
        .get("node_timex_sync_status")
        .unwrap()
        .samples()
        .next()
        .unwrap();
    assert!(sync.value() == 0.0 || sync.value() == 1.0);
    let tick = set
        .get("node_timex_tick_seconds")
        .unwrap()
        .samples()
        .next()
        .unwrap();
    assert!(
        tick.value() > 0.0 && tick.value() < 1.0,
        "tick {}",
        tick.value()
    );
}

/// A missing procfs makes collectors fail (success 0) without panicking.
#[test]
fn missing_tree_reports_failure() {
    let mut cfg = fixture("rpi");
    cfg.procfs = PathBuf::from("/nonexistent/proc");
    cfg.sysfs = PathBuf::from("/nonexistent/sys");
    let mut nc = NodeCollector::new(cfg).unwrap();
    let set = nc.collect();
    let ok = |name: &str| {
        set.get("node_scrape_collector_success")
            .unwrap()
            .samples()
            .find(|s| s.label("collector") == Some(name))
            .map(|s| s.value())
    };
    assert_eq!(ok("cpu"), Some(0.0));
    assert_eq!(ok("meminfo"), Some(0.0));
    assert_eq!(ok("hwmon"), Some(0.0));
    assert_eq!(ok("uname"), Some(1.0));
    assert!(!nc.errors().is_empty());
}
