//! `vitals cadvisor` on the v2 fixture tree of the cgroup collector: `/metrics` and
//! `/metrics/cadvisor` in text 0.0.4, OpenMetrics by `Accept`, gzip by `Accept-Encoding`,
//! and the families read through `--path.procfs`, `--path.sysfs` and `--path.rootfs`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::exporter::{get, get_gzip, wait_ready, Proc};
use common::free_port;

const POD: &str = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f0e6a4d_93a4_4e2b_9a8c_5f2d1c3b4a59.slice";

/// Starts `vitals cadvisor` on the fixture tree; returns the process and its port.
fn start(extra: &[&str]) -> (Proc, u16) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("exporters/cgroup/tests/fixtures/v2");
    let port = free_port();
    let proc = Proc(
        Command::new(env!("CARGO_BIN_EXE_vitals"))
            .arg("cadvisor")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--path.procfs={}", root.join("proc").display()))
            .arg(format!("--path.sysfs={}", root.join("sys").display()))
            .arg(format!("--path.rootfs={}", root.display()))
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning vitals cadvisor"),
    );
    wait_ready(&format!("http://127.0.0.1:{port}/metrics"));
    (proc, port)
}

/// The exposition parses, and holds the fixture's values read through every path flag.
fn check_families(text: &str) {
    let families = expo::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        families
            .iter()
            .find(|f| f.name == name)?
            .samples
            .iter()
            .find(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|s| s.value)
    };
    // procfs: the host's and the pod's network namespaces, thread states.
    let eth0 = [("id", "/"), ("interface", "eth0")];
    assert_eq!(
        value("container_network_receive_bytes_total", &eth0),
        Some(1_234_567_890.0)
    );
    assert_eq!(
        value(
            "container_network_transmit_packets_dropped_total",
            &[("id", POD), ("interface", "eth0")]
        ),
        Some(4.0)
    );
    assert_eq!(
        value(
            "container_network_receive_bytes_total",
            &[("interface", "lo")]
        ),
        None,
        "lo is left out"
    );
    assert_eq!(
        value(
            "container_tasks_state",
            &[("id", "/"), ("state", "sleeping")]
        ),
        Some(2.0)
    );
    // sysfs: cgroups and PSI.
    assert!(value("container_pressure_io_waiting_seconds_total", &[]) == Some(6.0));
    assert!(value("container_cpu_usage_seconds_total", &[("id", "/")]).is_some());
    // rootfs: the root cgroup's filesystems.
    let limit = value(
        "container_fs_limit_bytes",
        &[("id", "/"), ("device", "/dev/sda1")],
    );
    assert!(limit.is_some_and(|v| v > 0.0), "{text}");
}

#[test]
fn serves_text_openmetrics_and_gzip() {
    let (_p, port) = start(&[]);
    let url = format!("http://127.0.0.1:{port}");
    let (ctype, text) = get(&format!("{url}/metrics"), None).unwrap();
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    check_families(&text);

    let (ctype, om) = get(
        &format!("{url}/metrics/cadvisor"),
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
    )
    .unwrap();
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE container_network_receive_bytes counter"));
    expo::parse_openmetrics(&om).unwrap_or_else(|e| panic!("{e}\n{om}"));

    let (headers, gz) = get_gzip(port, "/metrics");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    check_families(&gz);
}

#[test]
fn task_states_can_be_turned_off() {
    let (_p, port) = start(&["--no-collector.tasks-state"]);
    let (_, text) = get(&format!("http://127.0.0.1:{port}/metrics"), None).unwrap();
    assert!(!text.contains("container_tasks_state"));
    assert!(text.contains("container_network_receive_bytes_total"));
}
