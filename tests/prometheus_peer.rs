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
    let mut prom = start_prometheus(&bin, dir.path(), pport, &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prom\n    static_configs: [{{targets: ['127.0.0.1:{pport}']}}]\n  - job_name: vitals\n    static_configs: [{{targets: ['127.0.0.1:{vport}']}}]\nremote_write:\n  - url: http://127.0.0.1:{vport}/api/v1/write\n    queue_config: {{batch_send_deadline: 1s}}\n"
        ));
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

/// Starts Prometheus on `port` with `config`, storing under `dir/prom`.
fn start_prometheus(
    bin: &std::path::Path,
    dir: &std::path::Path,
    port: u16,
    config: &str,
) -> std::process::Child {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
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

/// A real Prometheus reads Vitals' data through `remote_read` and its queries return exactly
/// the written samples. (Prometheus 2.42's client asks for SAMPLES; STREAMED_XOR_CHUNKS is
/// checked frame by frame in `query/tests/remote_read.rs`.)
#[test]
fn prometheus_remote_reads_from_vitals() {
    use remote::prompb::{Label, Sample, TimeSeries, WriteRequest};
    let Some(bin) = peer_binary("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (vport, pport) = (free_port(), free_port());
    let (vitals, _) = Server::start(&dir.path().join("vitals"), vport, &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let t0 = (now - 3 * 3_600_000) / 15_000 * 15_000;
    let n = 480; // 2 h at 15 s: four XOR chunks per series.
    let value = |s: usize, i: usize| (i * (s + 3)) as f64 * 0.5 + (s as f64).sqrt();
    let timeseries: Vec<TimeSeries> = (0..10)
        .map(|s| TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: "rr_gauge".into(),
                },
                Label {
                    name: "instance".into(),
                    value: format!("host-{s}"),
                },
            ],
            samples: (0..n)
                .map(|i| Sample {
                    value: value(s, i),
                    timestamp: t0 + i as i64 * 15_000,
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let status = common::write(
        &vitals.url,
        &WriteRequest {
            timeseries,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(status, 204);
    let mut prom = start_prometheus(
        &bin,
        dir.path(),
        pport,
        &format!(
            "remote_read:\n  - url: http://127.0.0.1:{vport}/api/v1/read\n    read_recent: true\n"
        ),
    );
    let purl = format!("http://127.0.0.1:{pport}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while ureq::get(&format!("{purl}/-/ready")).call().is_err() {
        assert!(Instant::now() < deadline, "prometheus not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let end = t0 + (n as i64 - 1) * 15_000;
    let resp: serde_json::Value = ureq::get(&format!("{purl}/api/v1/query_range"))
        .query("query", "rr_gauge")
        .query("start", &format!("{}", t0 / 1000))
        .query("end", &format!("{}", end / 1000))
        .query("step", "15")
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let _ = prom.kill();
    let _ = prom.wait();
    let result = resp["data"]["result"].as_array().expect("a matrix");
    assert_eq!(result.len(), 10, "{resp}");
    for r in result {
        let inst = r["metric"]["instance"].as_str().unwrap();
        let s: usize = inst.trim_start_matches("host-").parse().unwrap();
        let got: Vec<(i64, f64)> = r["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    (p[0].as_f64().unwrap() * 1000.0).round() as i64,
                    p[1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        let want: Vec<(i64, f64)> = (0..n)
            .map(|i| (t0 + i as i64 * 15_000, value(s, i)))
            .collect();
        assert_eq!(got, want, "{inst}");
    }
}
