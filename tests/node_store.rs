//! The store's built-in node collector (`--node.scrape-interval`, on by default in
//! all-in-one mode) writes node metrics straight into the TSDB, stamped on the tick, with
//! `job="node-exporter"`, `instance=<hostname>` and an `up` series.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, read, series_count, Server};

fn label<'a>(ts: &'a remote::prompb::TimeSeries, name: &str) -> Option<&'a str> {
    ts.labels
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.value.as_str())
}

#[test]
fn node_metrics_land_in_the_store_on_the_tick() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Server::start(dir.path(), free_port(), &["--node.scrape-interval=1s"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while series_count(&s.url, "{__name__=\"up\",job=\"node-exporter\"}") == 0
        || series_count(&s.url, "{job=\"node-exporter\"}") < 50
    {
        assert!(Instant::now() < deadline, "no node metrics stored");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(2500));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let host = {
        let out = std::process::Command::new("hostname").output();
        out.ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    for name in [
        "up",
        "node_load1",
        "node_cpu_seconds_total",
        "node_memory_MemTotal_bytes",
    ] {
        let resp = read(&s.url, name, now - 60_000, now);
        let series = &resp.results[0].timeseries;
        assert!(!series.is_empty(), "{name} not stored");
        for ts in series {
            assert_eq!(label(ts, "job"), Some("node-exporter"), "{name}");
            let inst = label(ts, "instance").expect("instance label");
            if let Some(h) = &host {
                assert_eq!(inst, h, "{name}: instance is the host name");
            }
            assert!(
                ts.samples.len() >= 2,
                "{name}: {} samples",
                ts.samples.len()
            );
            for smp in &ts.samples {
                assert_eq!(smp.timestamp % 1000, 0, "{name}: not on the 1 s tick");
            }
            if name == "up" {
                assert!(ts.samples.iter().all(|smp| smp.value == 1.0));
            }
        }
    }
}
