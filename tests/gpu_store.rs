//! GPU metrics against a fake `libnvidia-ml.so` (two GPUs, see
//! `exporters/gpu/tests/fake_nvml.c`): the store's built-in collector
//! (`--gpu.scrape-interval`) writes dcgm-exporter's names with `job="dcgm-exporter"`, and
//! `vitals dcgm-exporter` serves them on `/metrics`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, label, read, series_count, Server};

#[test]
fn gpu_metrics_land_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let lib = gpu_collector::fake::build(dir.path(), &[]).unwrap();
    let data = dir.path().join("data");
    let (s, _) = Server::start(
        &data,
        free_port(),
        &[
            "--gpu.scrape-interval=1s",
            &format!("--gpu.nvml-library={}", lib.display()),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while series_count(&s.url, "{__name__=\"DCGM_FI_DEV_GPU_TEMP\"}") < 2 {
        assert!(Instant::now() < deadline, "no GPU metrics stored");
        std::thread::sleep(Duration::from_millis(200));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // The dcgm dashboard's panels (its tensor-core panel needs DCGM profiling).
    for name in [
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_DEV_SM_CLOCK",
    ] {
        let resp = read(&s.url, name, now - 60_000, now + 60_000);
        let series = &resp.results[0].timeseries;
        assert_eq!(series.len(), 2, "{name}: one series per GPU");
        for ts in series {
            assert_eq!(label(ts, "job"), Some("dcgm-exporter"), "{name}");
            assert!(label(ts, "instance").is_some_and(|i| !i.is_empty()));
            assert!(label(ts, "Hostname").is_some_and(|h| !h.is_empty()));
            assert_eq!(label(ts, "DCGM_FI_DRIVER_VERSION"), Some("550.54.15"));
            let gpu = label(ts, "gpu").unwrap();
            assert_eq!(label(ts, "device"), Some(format!("nvidia{gpu}").as_str()));
        }
    }
    let resp = read(
        &s.url,
        "DCGM_FI_DEV_POWER_USAGE",
        now - 60_000,
        now + 60_000,
    );
    let a100 = resp.results[0]
        .timeseries
        .iter()
        .find(|ts| label(ts, "gpu") == Some("0"))
        .unwrap();
    assert_eq!(a100.samples[0].value, 61.944, "watts");
    assert!(series_count(&s.url, "{__name__=\"up\",job=\"dcgm-exporter\"}") == 1);
}

#[test]
fn dcgm_exporter_serves_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let lib = gpu_collector::fake::build(dir.path(), &[]).unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["dcgm-exporter", "--web.listen-address"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--nvml.library")
        .arg(&lib)
        .env("NODE_NAME", "gpu-node-7")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Ok(r) = ureq::get(&format!("http://127.0.0.1:{port}/metrics")).call() {
            break r.into_string().unwrap();
        }
        assert!(Instant::now() < deadline, "dcgm-exporter did not answer");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(body.contains("# TYPE DCGM_FI_DEV_GPU_TEMP gauge"), "{body}");
    let line = body
        .lines()
        .find(|l| l.starts_with("DCGM_FI_DEV_FB_USED{") && l.contains("gpu=\"1\""))
        .expect("FB_USED of GPU 1");
    assert!(line.contains("Hostname=\"gpu-node-7\""), "{line}");
    assert!(
        line.contains("modelName=\"NVIDIA GeForce RTX 3090\""),
        "{line}"
    );
    assert!(line.ends_with(" 1024"), "{line}");
}

#[test]
fn dcgm_exporter_without_nvml_fails() {
    let out = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["dcgm-exporter", "--web.listen-address", "127.0.0.1:0"])
        .args(["--nvml.library", "/nonexistent/libnvidia-ml.so.1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NVML unavailable"), "{err}");
}
