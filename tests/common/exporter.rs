//! Helpers for tests of the exporter subcommands (`vitals node-exporter`, `vitals cadvisor`):
//! a child process killed on drop, and `/metrics` scrapes.

use std::io::{Read, Write};
use std::process::Child;
use std::time::{Duration, Instant};

/// A child process, killed and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `url` with an optional `Accept`: (Content-Type, body).
pub fn get(url: &str, accept: Option<&str>) -> Result<(String, String), String> {
    let mut req = ureq::get(url).timeout(Duration::from_secs(10));
    if let Some(a) = accept {
        req = req.set("Accept", a);
    }
    let resp = req.call().map_err(|e| e.to_string())?;
    let ctype = resp.header("Content-Type").unwrap_or("").to_string();
    let body = resp.into_string().map_err(|e| e.to_string())?;
    Ok((ctype, body))
}

/// GET `path` with `Accept-Encoding: gzip` over a raw connection (ureq would decode it
/// silently): the lowercased response headers, which must say gzip, and the decoded body.
pub fn get_gzip(port: u16, path: &str) -> (String, String) {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let headers = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    assert!(headers.starts_with("http/1.1 200"), "{headers}");
    assert!(
        headers.contains("content-encoding: gzip"),
        "not gzipped: {headers}"
    );
    let mut body = String::new();
    flate2::read::GzDecoder::new(&raw[split + 4..])
        .read_to_string(&mut body)
        .expect("gzip body");
    (headers, body)
}

/// Waits (up to 30 s) until `url` answers.
pub fn wait_ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(url, None).is_err() {
        assert!(Instant::now() < deadline, "{url} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}
