//! Golden tests: hand-made cgroup v2 (systemd driver, containerd) and v1 (cgroupfs driver,
//! Docker, a Raspberry Pi's mmcblk0) trees, with the procfs of their processes (network
//! namespaces, thread states, mounts), rendered as cAdvisor text. `UPDATE_GOLDEN=1`
//! rewrites the expected files.

use std::path::{Path, PathBuf};

use cgroup_collector::{CgroupCollector, ContainerMeta, NoNames, Options, PodResolver};
use expo::{Format, MetricSet};

const UID: &str = "0f0e6a4d-93a4-4e2b-9a8c-5f2d1c3b4a59";
const CID: &str = "3f2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a";

/// Knows one pod and its one container (not its sandbox), as the kube collector's pod cache
/// knows pods from their status.
struct OnePod;

impl PodResolver for OnePod {
    fn resolve(&self, pod_uid: &str, container_id: &str) -> Option<ContainerMeta> {
        if pod_uid != UID {
            return None;
        }
        let pod = ContainerMeta {
            namespace: "monitoring".into(),
            pod: "grafana-5d9c7b-x2x7q".into(),
            ..Default::default()
        };
        match container_id {
            "" => Some(pod),
            CID => Some(ContainerMeta {
                container: "grafana".into(),
                image: "docker.io/grafana/grafana:11.2.0".into(),
                name: CID.into(),
                ..pod
            }),
            _ => None,
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Families whose values come from this machine (directory times, statfs of the checkout's
/// filesystem): checked apart from the golden text.
const MACHINE_DEPENDENT: [&str; 5] = [
    "container_start_time_seconds",
    "container_fs_usage_bytes",
    "container_fs_limit_bytes",
    "container_fs_inodes_free",
    "container_fs_inodes_total",
];

/// The collector options for fixture tree `name`.
fn options(name: &str) -> Options {
    let root = fixture(name);
    Options {
        cgroup_root: root.join("sys/fs/cgroup"),
        sysfs: root.join("sys"),
        procfs: root.join("proc"),
        rootfs: root,
        ..Default::default()
    }
}

/// Renders the tree `name` and compares with `tests/golden/<name>.prom` (start times and
/// filesystem sizes, which come from the checkout, are checked apart). Returns the text.
fn check(name: &str, names: &dyn PodResolver, golden: &str) -> String {
    let mut c = CgroupCollector::new(options(name));
    let containers = c.collect(names).unwrap();
    let mut set = MetricSet::new();
    cgroup_collector::render(&mut c, &containers, 1_700_000_000.0, &mut set);
    set.sort();
    let mut text = String::new();
    expo::render(&set, Format::Text, &mut text);
    let starts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("container_start_time_seconds{"))
        .collect();
    assert_eq!(starts.len(), containers.len(), "one start time per cgroup");
    for l in &starts {
        let v: f64 = l.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(v > 1.5e9, "{l}");
    }
    let full = text.clone();
    let text: String = text
        .lines()
        .filter(|l| !MACHINE_DEPENDENT.iter().any(|m| l.contains(m)))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(golden);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text == want, "{golden} differs; got:\n{text}");
    full
}

/// `(device, value)` of family `name`'s samples.
fn samples<'a>(text: &'a str, name: &str) -> Vec<(&'a str, f64)> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .map(|l| {
            assert!(
                l.contains("id=\"/\""),
                "filesystems only on the root cgroup: {l}"
            );
            let dev = l
                .split("device=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (dev, l.rsplit(' ').next().unwrap().parse().unwrap())
        })
        .collect()
}

#[test]
fn cgroup_v2_systemd_containerd() {
    let text = check("v2", &OnePod, "v2.prom");
    // The root cgroup's filesystems: `/` (its bind mount of /var/lib/kubelet is the same
    // source) and the /run tmpfs; proc, sysfs, cgroup2 are not measured and the overlay's
    // mount point is not under the fixture's rootfs.
    let limit = samples(&text, "container_fs_limit_bytes");
    let usage = samples(&text, "container_fs_usage_bytes");
    let (itotal, ifree) = (
        samples(&text, "container_fs_inodes_total"),
        samples(&text, "container_fs_inodes_free"),
    );
    let devices: Vec<&str> = limit.iter().map(|(d, _)| *d).collect();
    assert_eq!(devices, ["/dev/sda1", "/run"]);
    for i in 0..limit.len() {
        assert!(limit[i].1 > 0.0 && usage[i].1 <= limit[i].1, "{text}");
        assert!(ifree[i].1 <= itotal[i].1, "{text}");
    }
}

#[test]
fn pod_network_once_per_pod_namespace() {
    let mut c = CgroupCollector::new(options("v2"));
    let containers = c.collect(&OnePod).unwrap();
    let with_net: Vec<&str> = containers
        .iter()
        .filter(|c| c.network.is_some())
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(with_net.len(), 2, "{with_net:?}");
    assert_eq!(with_net[0], "/");
    assert!(with_net[1].ends_with("-pod0f0e6a4d_93a4_4e2b_9a8c_5f2d1c3b4a59.slice"));
}

#[test]
fn one_read_per_network_namespace() {
    // 4100 (the sandbox) has no net/dev of its own but shares 4242's namespace.
    let procfs = fixture("v2").join("proc");
    let mut net = cgroup_collector::net::NetReader::new(&procfs);
    assert!(net.read(4100).is_none());
    net.clear();
    let a = net.read(4242).expect("4242");
    let b = net.read(4100).expect("4100 shares 4242's namespace");
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(a.len(), 1, "lo is left out");
}

#[test]
fn cgroup_v1_cgroupfs_docker() {
    check("v1", &OnePod, "v1.prom");
}

#[test]
fn without_names_only_id() {
    check("v2", &NoNames, "v2-no-names.prom");
}

#[test]
fn missing_hierarchy_is_an_error() {
    let mut c = CgroupCollector::new(Options {
        cgroup_root: fixture("does-not-exist"),
        ..Default::default()
    });
    let e = c.collect(&NoNames).unwrap_err().to_string();
    assert!(e.starts_with("no cgroup v1 or v2 hierarchy under"), "{e}");
}

#[test]
fn this_machine() {
    let mut c = CgroupCollector::new(Options::default());
    let Ok(containers) = c.collect(&NoNames) else {
        eprintln!("SKIPPED: no cgroup hierarchy at /sys/fs/cgroup");
        return;
    };
    let root = containers
        .iter()
        .find(|c| c.id == "/")
        .expect("root cgroup");
    assert!(
        root.stats.cpu_usage.unwrap_or(0.0) > 0.0,
        "{:?}",
        root.stats
    );
}
