//! Golden tests: hand-made cgroup v2 (systemd driver, containerd) and v1 (cgroupfs driver,
//! Docker, a Raspberry Pi's mmcblk0) trees rendered as cAdvisor text. `UPDATE_GOLDEN=1`
//! rewrites the expected files.

use std::path::{Path, PathBuf};

use cgroup_collector::{CgroupCollector, ContainerMeta, NoNames, Options, PodResolver};
use expo::{Format, MetricSet};

const UID: &str = "0f0e6a4d-93a4-4e2b-9a8c-5f2d1c3b4a59";
const CID: &str = "3f2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a";

/// Knows one pod and its one container.
struct OnePod;

impl PodResolver for OnePod {
    fn resolve(&self, pod_uid: &str, container_id: &str) -> Option<ContainerMeta> {
        if pod_uid != UID {
            return None;
        }
        Some(ContainerMeta {
            namespace: "monitoring".into(),
            pod: "grafana-5d9c7b-x2x7q".into(),
            container: if container_id == CID {
                "grafana".into()
            } else {
                String::new()
            },
            image: if container_id == CID {
                "docker.io/grafana/grafana:11.2.0".into()
            } else {
                String::new()
            },
            name: if container_id == CID {
                CID.into()
            } else {
                String::new()
            },
        })
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Renders the tree `name` and compares with `tests/golden/<name>.prom` (start times, which
/// come from the checkout's directory times, are checked apart).
fn check(name: &str, names: &dyn PodResolver, golden: &str) {
    let root = fixture(name);
    let mut c = CgroupCollector::new(Options {
        cgroup_root: root.join("sys/fs/cgroup"),
        sysfs: root.join("sys"),
        ..Default::default()
    });
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
    let text: String = text
        .lines()
        .filter(|l| !l.contains("container_start_time_seconds"))
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
}

#[test]
fn cgroup_v2_systemd_containerd() {
    check("v2", &OnePod, "v2.prom");
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
