//! A real Prometheus (Debian package) remote-writes its scrapes to Vitals; what Vitals stores
//! equals what Prometheus itself stored. Skips loudly without `prometheus` on PATH, fails
//! instead when VITALS_REQUIRE_PEERS=1.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, peer_binary, read, series_count, Server};

#[test]
fn prometheus_remote_writes_to_vitals() {
    let Some(bin) = peer_binary("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (vport, pport) = (free_port(), free_port());
    let (vitals, _) = Server::start(&dir.path().join("vitals"), vport, &[]);
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prom\n    static_configs: [{{targets: ['127.0.0.1:{pport}']}}]\n  - job_name: vitals\n    static_configs: [{{targets: ['127.0.0.1:{vport}']}}]\nremote_write:\n  - url: http://127.0.0.1:{vport}/api/v1/write\n    queue_config: {{batch_send_deadline: 1s}}\n"
        ),
    )
    .unwrap();
    let mut prom = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while series_count(&vitals.url, "{job=\"prom\"}") < 100 {
        assert!(
            Instant::now() < deadline,
            "Prometheus' samples did not arrive in Vitals"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(4));
    // `up` as Prometheus stored it vs as Vitals stored it, over a window both have complete.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (start, end) = (now - 60_000, now - 3_000);
    let ours = up_by_job(&vitals.url, start, end);
    let theirs = up_by_job(&format!("http://127.0.0.1:{pport}"), start, end);
    let _ = prom.kill();
    let _ = prom.wait();
    assert_eq!(ours.keys().collect::<Vec<_>>(), ["prom", "vitals"]);
    for (job, samples) in &theirs {
        assert!(!samples.is_empty());
        assert_eq!(
            ours.get(job),
            Some(samples),
            "job {job}: Vitals differs from Prometheus"
        );
    }
}

/// `up` samples per job, remote-read from `url`.
fn up_by_job(url: &str, start: i64, end: i64) -> BTreeMap<String, Vec<(i64, f64)>> {
    read(url, "up", start, end).results[0]
        .timeseries
        .iter()
        .map(|s| {
            let job = s
                .labels
                .iter()
                .find(|l| l.name == "job")
                .unwrap()
                .value
                .clone();
            (
                job,
                s.samples.iter().map(|x| (x.timestamp, x.value)).collect(),
            )
        })
        .collect()
}
