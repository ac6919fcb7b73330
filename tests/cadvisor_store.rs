//! The store's built-in cgroup collector (`--cadvisor.scrape-interval`, on by default in
//! all-in-one mode) writes cAdvisor's `container_*` metrics of this machine into the TSDB as
//! kubelet's `/metrics/cadvisor` scraped by kube-prometheus: `job="kubelet"`,
//! `metrics_path="/metrics/cadvisor"`, `instance` and `node`, with `up`.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, label, read, series_count, Server};

#[test]
fn container_metrics_land_in_the_store() {
    if !std::path::Path::new("/sys/fs/cgroup").is_dir() {
        eprintln!("\n!!! SKIPPED: no /sys/fs/cgroup on this machine !!!\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Server::start(dir.path(), free_port(), &["--cadvisor.scrape-interval=1s"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while series_count(&s.url, "{__name__=\"up\",job=\"kubelet\"}") == 0
        || series_count(&s.url, "{__name__=\"container_cpu_usage_seconds_total\"}") == 0
    {
        assert!(Instant::now() < deadline, "no container metrics stored");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(2500));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut names = vec![
        "up",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "container_last_seen",
        "container_tasks_state",
        "container_fs_limit_bytes",
        "container_fs_usage_bytes",
    ];
    // The host's network, read from pid 1, when it has an interface cAdvisor reports.
    let host_net = std::fs::read_to_string("/proc/1/net/dev")
        .ok()
        .is_some_and(|t| cgroup_collector::net::parse_net_dev(&t).is_some_and(|v| !v.is_empty()));
    if host_net {
        names.extend([
            "container_network_receive_bytes_total",
            "container_network_transmit_packets_total",
        ]);
    } else {
        eprintln!("\n!!! no network check: pid 1 has no interface cAdvisor reports !!!\n");
    }
    for name in names {
        let resp = read(&s.url, name, now - 60_000, now);
        let series = &resp.results[0].timeseries;
        assert!(!series.is_empty(), "{name} not stored");
        for ts in series {
            assert_eq!(label(ts, "job"), Some("kubelet"), "{name}");
            assert_eq!(
                label(ts, "metrics_path"),
                Some("/metrics/cadvisor"),
                "{name}"
            );
            assert_eq!(label(ts, "node"), label(ts, "instance"), "{name}");
            assert!(
                ts.samples.len() >= 2,
                "{name}: {} samples",
                ts.samples.len()
            );
            assert!(
                ts.samples.iter().all(|x| x.timestamp % 1000 == 0),
                "{name}: on the tick"
            );
        }
    }
    // The root cgroup's CPU time only grows.
    let resp = read(
        &s.url,
        "container_cpu_usage_seconds_total",
        now - 60_000,
        now,
    );
    let root = resp.results[0]
        .timeseries
        .iter()
        .find(|ts| label(ts, "id") == Some("/"))
        .expect("root cgroup");
    assert_eq!(label(root, "cpu"), Some("total"));
    assert!(root.samples.windows(2).all(|w| w[1].value >= w[0].value));
    // Filesystems belong to the root cgroup only.
    let resp = read(&s.url, "container_fs_limit_bytes", now - 60_000, now);
    for ts in &resp.results[0].timeseries {
        assert_eq!(label(ts, "id"), Some("/"));
    }
}
