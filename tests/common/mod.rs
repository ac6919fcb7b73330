//! Helpers for end-to-end tests: run the `vitals` binary, write and read over HTTP.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use remote::prompb::{
    Label, LabelMatcher, Query, ReadRequest, ReadResponse, Sample, TimeSeries, WriteRequest,
};
use remote::prost::Message;

pub mod exporter;
pub mod manifests;
pub mod pki;

/// A `vitals agent` command for node `node` on the fixture tree `root` (`proc`, `sys`,
/// `root`), collecting every second, its disk queue in `dir`, its own HTTP on a free port;
/// callers add where to push, the log level and stdio.
pub fn agent_command(node: &str, root: &Path, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vitals"));
    c.arg("agent")
        .args(["--node-name", node])
        .arg(format!("--path.procfs={}", root.join("proc").display()))
        .arg(format!("--path.sysfs={}", root.join("sys").display()))
        .arg(format!("--path.rootfs={}", root.join("root").display()))
        .args(["--collect.interval", "1s"])
        .arg(format!("--storage.agent.path={}", dir.display()))
        .args([
            "--web.listen-address",
            &format!("127.0.0.1:{}", free_port()),
        ]);
    c
}

/// `name` on PATH; None with a loud SKIPPED message if absent (a panic if VITALS_REQUIRE_PEERS=1).
pub fn peer_binary(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    });
    if found.is_none() {
        if std::env::var("VITALS_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{name} not on PATH and VITALS_REQUIRE_PEERS=1");
        }
        eprintln!("\n!!! SKIPPED: {name} not on PATH (apt-get install prometheus) !!!\n");
    }
    found
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `vitals store`.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Its base URL.
    pub url: String,
}

impl Server {
    /// Spawns `vitals store` on `dir` listening on 127.0.0.1:`port`, without waiting.
    pub fn spawn(dir: &Path, port: u16, extra: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_vitals"))
            .args(["store", "--storage.tsdb.path"])
            .arg(dir)
            .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning vitals")
    }

    /// Starts `vitals store` on `dir` and waits until `/-/ready`; returns it and the time that took.
    pub fn start(dir: &Path, port: u16, extra: &[&str]) -> (Server, Duration) {
        let started = Instant::now();
        let child = Server::spawn(dir, port, extra);
        let url = format!("http://127.0.0.1:{port}");
        let s = Server { child, url };
        let deadline = started + Duration::from_secs(60);
        loop {
            if let Ok(r) = ureq::get(&format!("{}/-/ready", s.url))
                .timeout(Duration::from_millis(500))
                .call()
            {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "vitals did not become ready within 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        (s, started.elapsed())
    }

    /// SIGTERMs the process (clean shutdown) and waits for it to exit.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// SIGKILLs the process.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One series with one sample.
pub fn ts(name: &str, labels: &[(&str, String)], t: i64, v: f64) -> TimeSeries {
    let mut l = vec![Label {
        name: "__name__".into(),
        value: name.into(),
    }];
    l.extend(labels.iter().map(|(n, v)| Label {
        name: n.to_string(),
        value: v.clone(),
    }));
    l.sort_by(|a, b| a.name.cmp(&b.name));
    TimeSeries {
        labels: l,
        samples: vec![Sample {
            value: v,
            timestamp: t,
        }],
        ..Default::default()
    }
}

/// Sends a remote-write request; Ok(status) or Err on transport failure.
pub fn write(url: &str, req: &WriteRequest) -> Result<u16, String> {
    let body = remote::encode_write_request(req);
    match ureq::post(&format!("{url}/api/v1/write"))
        .set("Content-Encoding", "snappy")
        .set("Content-Type", "application/x-protobuf")
        .set("X-Prometheus-Remote-Write-Version", "0.1.0")
        .timeout(Duration::from_secs(30))
        .send_bytes(&body)
    {
        Ok(r) => Ok(r.status()),
        Err(ureq::Error::Status(code, _)) => Ok(code),
        Err(e) => Err(e.to_string()),
    }
}

/// A snappy remote-read request body for every series with `__name__=name` in [start, end].
pub fn read_body(name: &str, start: i64, end: i64) -> Vec<u8> {
    let req = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers: vec![LabelMatcher {
                r#type: 0,
                name: "__name__".into(),
                value: name.into(),
            }],
            hints: None,
        }],
        accepted_response_types: vec![0],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap()
}

/// Remote-reads every series with `__name__=name` in [start, end].
pub fn read(url: &str, name: &str, start: i64, end: i64) -> ReadResponse {
    let body = read_body(name, start, end);
    let resp = match ureq::post(&format!("{url}/api/v1/read"))
        .set("Content-Encoding", "snappy")
        .set("Content-Type", "application/x-protobuf")
        .timeout(Duration::from_secs(120))
        .send_bytes(&body)
    {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            panic!(
                "remote read: {code}: {}",
                r.into_string().unwrap_or_default()
            )
        }
        Err(e) => panic!("remote read: {e}"),
    };
    let mut raw = Vec::new();
    resp.into_reader().read_to_end(&mut raw).unwrap();
    ReadResponse::decode(&snap::raw::Decoder::new().decompress_vec(&raw).unwrap()[..]).unwrap()
}

/// `/api/v1/series` for a selector: the number of series.
pub fn series_count(url: &str, selector: &str) -> usize {
    series_labels(url, selector).len()
}

/// `/api/v1/series` for a selector: each series' labels, sorted by name.
pub fn series_labels(
    url: &str,
    selector: &str,
) -> std::collections::BTreeSet<Vec<(String, String)>> {
    let r: serde_json::Value = ureq::get(&format!("{url}/api/v1/series"))
        .query("match[]", selector)
        .call()
        .expect("series")
        .into_json()
        .unwrap();
    assert_eq!(r["status"], "success");
    r["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut l: Vec<(String, String)> = s
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            l.sort();
            l
        })
        .collect()
}

use std::io::Read as _;

/// The value of label `name` of a remote-read series.
pub fn label<'a>(ts: &'a TimeSeries, name: &str) -> Option<&'a str> {
    ts.labels
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.value.as_str())
}
