//! The client against a small HTTP receiver: order per series, outages and restarts lose
//! nothing, the disk limit drops the oldest data, 4xx is not retried, Retry-After is honoured.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use remote::prompb::WriteRequest;
use remote::prost::Message;
use rwclient::{Client, Options, RemoteWriteConfig};

/// One received request: when, its `Authorization` header, the decoded body.
struct Got {
    at: Instant,
    auth: String,
    req: WriteRequest,
}

/// A receiver answering each request with the next `(status, Retry-After)` (then 204).
fn receiver(script: Vec<(u16, Option<u64>)>) -> (String, mpsc::Receiver<Got>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut script = script.into_iter();
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let (mut len, mut auth, mut line) = (0usize, String::new(), String::new());
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("authorization:") {
                    auth = h["authorization:".len()..].trim().to_string();
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let (code, after) = script.next().unwrap_or((204, None));
            let extra = after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
            let _ = write!(
                c,
                "HTTP/1.1 {code} X\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
            let req = WriteRequest::decode(raw.as_slice()).unwrap();
            let _ = tx.send(Got {
                at: Instant::now(),
                auth,
                req,
            });
        }
    });
    (url, rx)
}

fn config(url: &str, shards: usize) -> RemoteWriteConfig {
    serde_json::from_value(serde_json::json!({
        "url": url,
        "remote_timeout": "2s",
        "queue_config": {
            "max_shards": shards,
            "max_samples_per_send": 100,
            "min_backoff": "10ms",
            "max_backoff": "100ms",
        },
    }))
    .unwrap()
}

/// `rounds` rounds of one sample for each of `series` series, at 15 s steps.
fn rows(round: usize, series: usize) -> Vec<rwclient::Row> {
    (0..series)
        .map(|s| {
            (
                vec![
                    ("__name__".to_string(), "m".to_string()),
                    ("series".to_string(), format!("{s:04}")),
                ],
                round as i64 * 15_000,
                (round * 1000 + s) as f64,
            )
        })
        .collect()
}

/// Every sample received within `wait` of the last one, by series: (timestamp, value).
fn drain(
    rx: &mpsc::Receiver<Got>,
    want: usize,
) -> std::collections::BTreeMap<String, Vec<(i64, f64)>> {
    let mut out: std::collections::BTreeMap<String, Vec<(i64, f64)>> = Default::default();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while n < want {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(g) = rx.recv_timeout(left) else {
            panic!("only {n} of {want} samples arrived");
        };
        for ts in g.req.timeseries {
            let key = ts
                .labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect::<Vec<_>>()
                .join(",");
            for s in ts.samples {
                out.entry(key.clone())
                    .or_default()
                    .push((s.timestamp, s.value));
                n += 1;
            }
        }
    }
    out
}

#[test]
fn delivers_every_sample_in_order_per_series() {
    let (url, rx) = receiver(Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(dir.path(), 64 << 20);
    opts.external_labels = vec![("cluster".into(), "home".into())];
    let mut cfg = config(&url, 3);
    cfg.http.bearer_token = Some("t0ken".into());
    let c = Client::start(cfg, opts).unwrap();
    for round in 0..20 {
        c.append(&rows(round, 50)).unwrap();
        c.flush().unwrap();
    }
    let got = drain(&rx, 1000);
    assert_eq!(got.len(), 50);
    for (key, samples) in &got {
        assert!(key.starts_with("__name__=m,cluster=home,series="), "{key}");
        let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
        assert_eq!(ts, (0..20).map(|r| r * 15_000).collect::<Vec<_>>(), "{key}");
    }
    c.stop().unwrap();
    assert_eq!(c.samples_sent(), 1000);
    assert_eq!(c.pending_bytes(), 0);
    let mut m = String::new();
    c.render_metrics(&mut m);
    assert!(
        m.contains(&format!(
            "vitals_remote_write_sent_samples_total{{url=\"{url}\"}} 1000"
        )),
        "{m}"
    );
}

#[test]
fn server_errors_are_retried_until_delivered() {
    let (url, rx) = receiver(vec![(503, None), (500, None), (429, None)]);
    let dir = tempfile::tempdir().unwrap();
    let c = Client::start(config(&url, 1), Options::new(dir.path(), 64 << 20)).unwrap();
    c.append(&rows(0, 10)).unwrap();
    c.flush().unwrap();
    // Three refusals, then the same batch again.
    let mut bodies = Vec::new();
    for _ in 0..4 {
        bodies.push(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0].req == w[1].req));
    assert!(bodies.iter().all(|g| g.auth.is_empty()));
    c.stop().unwrap();
    assert_eq!(c.samples_sent(), 10);
    assert_eq!(c.samples_dropped(), 0);
}

#[test]
fn retry_after_is_honoured_and_4xx_is_not_retried() {
    let (url, rx) = receiver(vec![(429, Some(1)), (204, None), (400, None)]);
    let dir = tempfile::tempdir().unwrap();
    let c = Client::start(config(&url, 1), Options::new(dir.path(), 64 << 20)).unwrap();
    c.append(&rows(0, 5)).unwrap();
    c.flush().unwrap();
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let second = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        second.at - first.at >= Duration::from_millis(950),
        "Retry-After: 1"
    );
    c.append(&rows(1, 5)).unwrap();
    c.flush().unwrap();
    rx.recv_timeout(Duration::from_secs(10)).unwrap(); // refused with 400
    c.append(&rows(2, 5)).unwrap();
    c.flush().unwrap();
    let next = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        next.req.timeseries[0].samples[0].timestamp, 30_000,
        "the refused batch is not sent again"
    );
    c.stop().unwrap();
    assert_eq!((c.samples_sent(), c.samples_dropped()), (10, 5));
}

#[test]
fn an_outage_and_a_restart_lose_nothing() {
    // Nothing listens on this port: every send fails and the backlog stays on disk.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/api/v1/write", l.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let c = Client::start(config(&dead, 2), Options::new(dir.path(), 64 << 20)).unwrap();
    for round in 0..10 {
        c.append(&rows(round, 30)).unwrap();
        c.flush().unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    c.stop().unwrap();
    assert_eq!(c.samples_sent(), 0);
    assert!(c.pending_bytes() > 0);
    drop(c);
    // The next run, with the receiver back, sends the whole backlog, then new data.
    let (url, rx) = receiver(Vec::new());
    let c = Client::start(config(&url, 2), Options::new(dir.path(), 64 << 20)).unwrap();
    c.append(&rows(10, 30)).unwrap();
    c.flush().unwrap();
    let got = drain(&rx, 330);
    for samples in got.values() {
        let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
        assert_eq!(ts, (0..11).map(|r| r * 15_000).collect::<Vec<_>>());
    }
    c.stop().unwrap();
    assert_eq!(c.pending_bytes(), 0);
}

#[test]
fn the_disk_limit_drops_the_oldest_data() {
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/api/v1/write", l.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(dir.path(), 16 << 10);
    opts.segment_bytes = 2 << 10;
    let c = Client::start(config(&dead, 1), opts.clone()).unwrap();
    for round in 0..200 {
        c.append(&rows(round, 20)).unwrap();
        c.flush().unwrap();
    }
    c.stop().unwrap();
    let dropped = c.samples_dropped();
    assert!(dropped > 0, "over the limit something is dropped");
    assert!(
        c.pending_bytes() <= 16 << 10,
        "{} bytes kept",
        c.pending_bytes()
    );
    drop(c);
    let (url, rx) = receiver(Vec::new());
    let c = Client::start(config(&url, 1), opts).unwrap();
    let kept = 4000 - dropped as usize;
    let got = drain(&rx, kept);
    for samples in got.values() {
        // What is left is the newest data, without holes.
        assert_eq!(samples.last().unwrap().0, 199 * 15_000);
        assert!(samples.windows(2).all(|w| w[1].0 - w[0].0 == 15_000));
        assert!(samples[0].0 > 0, "the oldest rounds were dropped");
    }
    c.stop().unwrap();
}
