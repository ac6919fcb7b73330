//! Tests against a fake `libnvidia-ml.so` (`fake_nvml.c`, compiled by `gpu_collector::fake`
//! with the `cc` crate): golden dcgm-exporter output for two GPUs, and the error paths.
//! `UPDATE_GOLDEN=1` rewrites the expected file.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use expo::{Format, MetricSet};
use gpu_collector::{Error, GpuCollector, Options, PodMap, PodRef};

const GPU0: &str = "GPU-8f3c1a52-6b0e-4d2a-9c7e-1f2a3b4c5d6e";

fn fake_lib(dir: &Path, defines: &[&str]) -> PathBuf {
    gpu_collector::fake::build(dir, defines).expect("building the fake NVML")
}

/// Opens the collector on a fake built with `defines`; the temp dir must outlive it.
fn open(defines: &[&str]) -> (tempfile::TempDir, Result<GpuCollector, Error>) {
    let dir = tempfile::tempdir().unwrap();
    let lib = fake_lib(dir.path(), defines);
    let opts = Options {
        lib_path: Some(lib),
        hostname: "gpu-node-1".into(),
    };
    let c = GpuCollector::open(&opts);
    (dir, c)
}

fn collect(c: &mut GpuCollector, pods: &PodMap) -> String {
    let mut set = MetricSet::new();
    c.collect(pods, &mut set).unwrap();
    let mut text = String::new();
    expo::render(&set, Format::Text, &mut text);
    text
}

fn names(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect()
}

#[test]
fn two_gpus_golden() {
    let (_dir, c) = open(&[]);
    let mut c = c.unwrap();
    assert_eq!(c.driver_version(), "550.54.15");
    let mut pods = PodMap::new();
    pods.insert(
        GPU0.into(),
        PodRef {
            namespace: "ml".into(),
            pod: "trainer-0".into(),
            container: "pytorch".into(),
        },
    );
    let text = collect(&mut c, &pods);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/two_gpus.prom");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text, want,
        "golden mismatch; rerun with UPDATE_GOLDEN=1 to see"
    );
    // The consumer card has no HBM temperature, row remapping, energy counter or XID events.
    let consumer: Vec<&str> = text.lines().filter(|l| l.contains("gpu=\"1\"")).collect();
    for absent in [
        "DCGM_FI_DEV_MEMORY_TEMP",
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "DCGM_FI_DEV_ROW_REMAP_FAILURE",
        "DCGM_FI_DEV_XID_ERRORS",
    ] {
        assert!(!consumer.iter().any(|l| l.starts_with(absent)), "{absent}");
        assert!(text.contains(&format!("{absent}{{")), "{absent} on GPU 0");
    }
    assert_eq!(consumer.len(), 14, "{consumer:#?}");
    // The last XID stays after its event was taken.
    let again = collect(&mut c, &pods);
    let xid = again
        .lines()
        .find(|l| l.starts_with("DCGM_FI_DEV_XID_ERRORS{"))
        .unwrap();
    assert!(xid.ends_with("} 13"), "{xid}");
}

#[test]
fn dashboard_panels_have_their_series() {
    let (_dir, c) = open(&[]);
    let text = collect(&mut c.unwrap(), &PodMap::new());
    for (name, gpu0, gpu1) in [
        ("DCGM_FI_DEV_GPU_TEMP", "34", "52"),
        ("DCGM_FI_DEV_GPU_UTIL", "87", "0"),
        ("DCGM_FI_DEV_POWER_USAGE", "61.944", "23.5"),
        ("DCGM_FI_DEV_FB_USED", "10240", "1024"),
        ("DCGM_FI_DEV_FB_FREE", "30100", "23226"),
        ("DCGM_FI_DEV_SM_CLOCK", "1410", "210"),
    ] {
        for (gpu, want) in [("0", gpu0), ("1", gpu1)] {
            let line = text
                .lines()
                .find(|l| {
                    l.starts_with(&format!("{name}{{")) && l.contains(&format!("gpu=\"{gpu}\""))
                })
                .unwrap_or_else(|| panic!("{name} gpu {gpu} missing"));
            assert!(line.ends_with(&format!("}} {want}")), "{line}");
            assert!(line.contains("Hostname=\"gpu-node-1\""), "{line}");
            assert!(line.contains(&format!("device=\"nvidia{gpu}\"")), "{line}");
        }
    }
    assert!(!text.contains("pod=\""), "no pod labels without a pod map");
}

#[test]
fn failing_call_skips_only_that_field() {
    let (_dir, c) = open(&["FAKE_POWER_FAILS"]);
    let text = collect(&mut c.unwrap(), &PodMap::new());
    let got = names(&text);
    assert!(!got.contains(&"DCGM_FI_DEV_POWER_USAGE"), "{got:?}");
    let (_dir2, full) = open(&[]);
    let mut want = names(&collect(&mut full.unwrap(), &PodMap::new())).join(",");
    want = want.replace("DCGM_FI_DEV_POWER_USAGE,", "");
    assert_eq!(got.join(","), want);
}

#[test]
fn missing_symbol_skips_only_that_field() {
    let (_dir, c) = open(&["FAKE_NO_ENERGY_SYM"]);
    let text = collect(&mut c.unwrap(), &PodMap::new());
    let got = names(&text);
    assert!(
        !got.contains(&"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"),
        "{got:?}"
    );
    assert!(got.contains(&"DCGM_FI_DEV_POWER_USAGE"), "{got:?}");
    assert_eq!(got.len(), 19, "{got:?}");
}

/// A `MakeWriter` collecting log output.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged(f: impl FnOnce()) -> String {
    let logs = Logs::default();
    let w = logs.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || w.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(sub, f);
    let out = logs.0.lock().unwrap().clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn init_failure_disables_with_one_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        lib_path: Some(fake_lib(dir.path(), &["FAKE_INIT_FAILS"])),
        hostname: String::new(),
    };
    assert!(matches!(
        GpuCollector::open(&opts),
        Err(Error::Init(nvml_wrapper::error::NvmlError::DriverNotLoaded))
    ));
    let mut got = None;
    let log = logged(|| got = Some(GpuCollector::open_or_log(&opts).is_none()));
    assert_eq!(got, Some(true));
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.contains("GPU collector disabled"), "{log}");
}

#[test]
fn missing_library_disables() {
    let opts = Options {
        lib_path: Some("/nonexistent/libnvidia-ml.so.1".into()),
        hostname: String::new(),
    };
    let err = GpuCollector::open(&opts).err().expect("must fail");
    assert!(matches!(err, Error::Init(_)), "{err}");
    let mut got = None;
    let log = logged(|| got = Some(GpuCollector::open_or_log(&opts).is_none()));
    assert_eq!(got, Some(true));
    assert_eq!(log.lines().count(), 1, "{log}");
}
