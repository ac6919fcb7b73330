//! Hostile input to a running store: a snappy bomb, a 100 MB body, 10k labels, a 1 MB label
//! value, too many series, a metric over its series limit, a regex that is exponential for a
//! backtracking engine, 10^9 points, slow clients. Each is answered quickly with a 4xx (or, for
//! the regex, a fast empty answer); what was stored before is still there; peak RSS is bounded.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use remote::prompb::{Label, Sample, TimeSeries, WriteRequest};

/// Largest peak RSS of the server accepted while it rejects all of the above.
const MAX_PEAK_RSS_KIB: u64 = 256 << 10;

fn series(labels: Vec<(String, String)>, t: i64) -> TimeSeries {
    let mut labels: Vec<Label> = labels
        .into_iter()
        .map(|(name, value)| Label { name, value })
        .collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    TimeSeries {
        labels,
        samples: vec![Sample {
            value: 1.0,
            timestamp: t,
        }],
        ..Default::default()
    }
}

/// POSTs a raw body to /api/v1/write; (status, body, elapsed).
fn post_raw(url: &str, body: &[u8]) -> (u16, String, Duration) {
    let t0 = Instant::now();
    let r = ureq::post(&format!("{url}/api/v1/write"))
        .set("Content-Encoding", "snappy")
        .set("Content-Type", "application/x-protobuf")
        .timeout(Duration::from_secs(30))
        .send_bytes(body);
    let (code, text) = match r {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap_or_default()),
        Err(e) => panic!("write: {e}"),
    };
    (code, text, t0.elapsed())
}

fn write(url: &str, ts: Vec<TimeSeries>) -> (u16, String, Duration) {
    let req = WriteRequest {
        timeseries: ts,
        ..Default::default()
    };
    post_raw(url, &remote::encode_write_request(&req))
}

fn get(url: &str, path_and_query: &str) -> (u16, String, Duration) {
    let t0 = Instant::now();
    let (c, s) = match ureq::get(&format!("{url}{path_and_query}"))
        .timeout(Duration::from_secs(30))
        .call()
    {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap_or_default()),
        Err(e) => panic!("GET {path_and_query}: {e}"),
    };
    (c, s, t0.elapsed())
}

/// A valid snappy block that decompresses to `n` zero bytes (n ≥ 65): one literal, then
/// copies of 64 bytes at offset 1 — about 3 bytes per 64 decompressed.
fn snappy_bomb(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut v = n as u64;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out.extend([0x00, 0x00]); // literal of length 1: a zero byte
    let mut left = n - 1;
    while left > 0 {
        let len = left.min(64);
        if len < 4 {
            out.extend([((len as u8 - 1) << 2), 0x00]); // literal
            out.extend(std::iter::repeat_n(0u8, len));
        } else {
            out.extend([((len as u8 - 1) << 2) | 0b10, 0x01, 0x00]); // copy-2, offset 1
        }
        left -= len;
    }
    out
}

fn peak_rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn assert_fast_4xx(what: &str, (code, body, took): (u16, String, Duration), want: &str) {
    assert!((400..500).contains(&code), "{what}: status {code}: {body}");
    assert!(took < Duration::from_secs(1), "{what}: took {took:?}");
    assert!(body.contains(want), "{what}: {body:?} lacks {want:?}");
    eprintln!("{what}: {code} in {took:?}");
}

#[test]
fn hostile_input_is_rejected_quickly_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let extra = [
        "--web.max-series-per-request",
        "1000",
        "--storage.max-series-per-metric",
        "100",
    ];
    let (s, _) = common::Server::start(dir.path(), port, &extra);
    let url = s.url.clone();
    let pid = s.child.id();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let a30k = "a".repeat(30_000);
    let good = || {
        vec![series(
            vec![
                ("__name__".into(), "good".into()),
                ("v".into(), a30k.clone()),
            ],
            now,
        )]
    };
    assert_eq!(write(&url, good()).0, 204);
    let count_q = format!("/api/v1/query?query=count(good)&time={}", now / 1000 + 1);
    let before = get(&url, &count_q).1;
    assert!(before.contains("\"1\""), "{before}");

    assert_fast_4xx(
        "snappy bomb (header claims 4 GiB)",
        post_raw(&url, &[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]),
        "decompressed",
    );
    let bomb = snappy_bomb(300 << 20);
    assert_fast_4xx("snappy bomb (300 MiB of zeros)", post_raw(&url, &bomb), "");
    let many: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("l{i:05}"), "x".into()))
        .chain([("__name__".to_string(), "wide".to_string())])
        .collect();
    assert_fast_4xx(
        "10k labels",
        write(&url, vec![series(many, now)]),
        "label limit",
    );
    let huge = vec![
        ("__name__".into(), "huge".into()),
        ("v".into(), "x".repeat(1 << 20)),
    ];
    assert_fast_4xx(
        "1 MiB label value",
        write(&url, vec![series(huge, now)]),
        "label limit",
    );
    let too_many: Vec<TimeSeries> = (0..1001)
        .map(|i| {
            series(
                vec![("__name__".into(), "m".into()), ("i".into(), i.to_string())],
                now,
            )
        })
        .collect();
    assert_fast_4xx("1001 series in one request", write(&url, too_many), "1000");
    let pods: Vec<TimeSeries> = (0..101)
        .map(|i| {
            series(
                vec![
                    ("__name__".into(), "pods".into()),
                    ("i".into(), i.to_string()),
                ],
                now,
            )
        })
        .collect();
    assert_fast_4xx("series per metric", write(&url, pods), "\"pods\"");
    let metrics = get(&url, "/metrics").1;
    assert!(metrics.contains("vitals_tsdb_rejected_samples_total{reason=\"series_limit\"} 1"));
    assert!(metrics.contains("vitals_tsdb_rejected_samples_total{reason=\"label_limit\"} 2"));
    assert_fast_4xx(
        "10^9 points",
        get(
            &url,
            "/api/v1/query_range?query=good&start=0&end=1000000000&step=1",
        ),
        "exceeded maximum resolution of 11,000 points per timeseries",
    );
    for re in ["(a|aa)*c", "(a*)*b", "(a+)+$x"] {
        let q = format!("/api/v1/series?match[]={{v=~\"{re}\"}}");
        let (code, body, took) = get(&url, &q);
        assert_eq!(code, 200, "{re}: {body}");
        assert!(body.contains("\"data\":[]"), "{re}: {body}");
        assert!(took < Duration::from_secs(1), "{re} took {took:?}");
    }
    let (code, body, took) = huge_body(port);
    assert_eq!(code, 413, "100 MB body: {body}");
    assert!(took < Duration::from_secs(1), "100 MB body took {took:?}");

    assert_eq!(get(&url, &count_q).1, before, "stored data changed");
    assert_eq!(write(&url, good()).0, 204, "still writable");
    let rss = peak_rss_kib(pid);
    eprintln!("server peak RSS: {} MiB", rss >> 10);
    assert!(rss < MAX_PEAK_RSS_KIB, "peak RSS {rss} KiB");
}

/// Sends a 100 MB body in a thread; returns the status line's code, the head, and the time
/// until the answer arrived.
fn huge_body(port: u16) -> (u16, String, Duration) {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let t0 = Instant::now();
    write!(
        sock,
        "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Encoding: snappy\r\nContent-Length: {}\r\n\r\n",
        100 << 20
    )
    .unwrap();
    let mut w = sock.try_clone().unwrap();
    std::thread::spawn(move || {
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..100 {
            if w.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    read_head(&mut sock, t0)
}

fn read_head(sock: &mut TcpStream, t0: Instant) -> (u16, String, Duration) {
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&got).to_string();
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head, t0.elapsed())
}

#[test]
fn slow_clients_are_cut_off_after_the_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let (_s, _) = common::Server::start(dir.path(), port, &["--web.read-timeout", "1s"]);
    // Headers never finished: the connection is closed.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let t0 = Instant::now();
    sock.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (_, _, took) = read_head(&mut sock, t0);
    assert!(
        took < Duration::from_secs(5),
        "slow headers kept for {took:?}"
    );
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
    // A body that never arrives: 408.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let t0 = Instant::now();
    sock.write_all(
        b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .unwrap();
    let (code, head, took) = read_head(&mut sock, t0);
    assert_eq!(code, 408, "{head}");
    assert!(took < Duration::from_secs(5), "slow body kept for {took:?}");
}

#[test]
fn decompressed_size_cap_is_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let (s, _) = common::Server::start(
        dir.path(),
        port,
        &["--web.max-decompressed-bytes", "1048576"],
    );
    let url = s.url.clone();
    // 2 MiB decompressed: over the 1 MiB cap, refused before decoding.
    let (code, body, took) = post_raw(&url, &snappy_bomb(2 << 20));
    assert_eq!(code, 413, "{body}");
    assert!(body.contains("limit of 1048576 bytes"), "{body}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // 512 KiB passes the cap (and then fails as protobuf: zeros are not a message).
    let (code, body, _) = post_raw(&url, &snappy_bomb(512 << 10));
    assert_eq!(code, 400, "{body}");
    // An ordinary write is unaffected; the flag shows in /api/v1/status/flags.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ts = series(vec![("__name__".into(), "ok".into())], now);
    assert_eq!(write(&url, vec![ts]).0, 204);
    let flags = get(&url, "/api/v1/status/flags").1;
    assert!(
        flags.contains("\"web.max-decompressed-bytes\":\"1048576\""),
        "{flags}"
    );
}
