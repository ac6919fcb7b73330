//! Dynamic resharding: against a receiver that takes 40 ms per request, a backlog makes the
//! client grow from `min_shards` towards `max_shards` (requests then overlap), every sample
//! arrives once in order per series, and an idle client shrinks back to `min_shards`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use remote::prompb::WriteRequest;
use remote::prost::Message;
use rwclient::{Client, Options, RemoteWriteConfig};

/// What the receiver saw: samples by series in arrival order, most requests in flight.
#[derive(Default)]
struct Seen {
    series: BTreeMap<String, Vec<i64>>,
    samples: usize,
}

/// A receiver serving each connection on its own thread, answering after `delay`.
fn slow_receiver(delay: Duration) -> (String, Arc<Mutex<Seen>>, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (in_flight, max_in_flight) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (s2, m2) = (seen.clone(), max_in_flight.clone());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(c) = conn else { continue };
            let (seen, in_flight, max) = (s2.clone(), in_flight.clone(), m2.clone());
            std::thread::spawn(move || serve(c, delay, &seen, &in_flight, &max));
        }
    });
    (url, seen, max_in_flight)
}

/// Serves requests on one keep-alive connection.
fn serve(
    mut c: std::net::TcpStream,
    delay: Duration,
    seen: &Mutex<Seen>,
    in_flight: &AtomicUsize,
    max: &AtomicUsize,
) {
    let mut r = BufReader::new(c.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(now, Ordering::SeqCst);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let req = WriteRequest::decode(raw.as_slice()).unwrap();
        {
            // Recorded on arrival: a later batch of a series must never arrive first.
            let mut s = seen.lock().unwrap();
            for ts in req.timeseries {
                let key = ts
                    .labels
                    .iter()
                    .map(|l| l.value.clone())
                    .collect::<Vec<_>>()
                    .join(",");
                for smp in ts.samples {
                    s.series.entry(key.clone()).or_default().push(smp.timestamp);
                    s.samples += 1;
                }
            }
        }
        std::thread::sleep(delay);
        in_flight.fetch_sub(1, Ordering::SeqCst);
        if c.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn config(url: &str) -> RemoteWriteConfig {
    serde_json::from_value(serde_json::json!({
        "url": url,
        "queue_config": {
            "min_shards": 1,
            "max_shards": 8,
            "max_samples_per_send": 50,
            "min_backoff": "10ms",
        },
    }))
    .unwrap()
}

#[test]
fn shards_follow_the_backlog_and_keep_order() {
    let (url, seen, max_in_flight) = slow_receiver(Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(dir.path(), 256 << 20);
    opts.reshard_interval = Duration::from_millis(250);
    let client = Client::start(config(&url), opts).unwrap();
    assert_eq!(client.shards(), 1);
    // 200 series x 60 rounds = 12,000 samples = 240 requests: 9.6 s for one sender.
    let (series, rounds) = (200usize, 60usize);
    for round in 0..rounds {
        let rows: Vec<_> = (0..series)
            .map(|s| {
                (
                    vec![
                        ("__name__".to_string(), "m".to_string()),
                        ("s".to_string(), format!("{s:03}")),
                    ],
                    round as i64 * 1000,
                    round as f64,
                )
            })
            .collect();
        client.append(&rows).unwrap();
    }
    client.flush().unwrap();
    let total = series * rounds;
    let t0 = Instant::now();
    let mut most = 1;
    while seen.lock().unwrap().samples < total {
        most = most.max(client.shards());
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "not delivered in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = t0.elapsed();
    eprintln!(
        "delivered {total} samples in {took:?}; most shards {most}, most requests in flight {}",
        max_in_flight.load(Ordering::SeqCst)
    );
    assert!(most >= 4, "shards never grew: {most}");
    assert!(
        max_in_flight.load(Ordering::SeqCst) >= 2,
        "requests never overlapped"
    );
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.series.len(), series);
        for (k, ts) in &s.series {
            let want: Vec<i64> = (0..rounds as i64).map(|r| r * 1000).collect();
            assert_eq!(ts, &want, "series {k}: out of order or duplicated");
        }
    }
    // Idle: back to min_shards within a few intervals.
    let t1 = Instant::now();
    while client.shards() > 1 {
        assert!(
            t1.elapsed() < Duration::from_secs(10),
            "shards stayed at {}",
            client.shards()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut m = String::new();
    client.render_metrics(&mut m);
    assert!(m.contains("vitals_remote_write_shards_max{url="), "{m}");
    // The last request may still be in flight (the receiver records on arrival).
    let t2 = Instant::now();
    while client.pending_bytes() > 0 {
        assert!(
            t2.elapsed() < Duration::from_secs(5),
            "backlog left on disk"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(client.samples_sent(), total as u64);
    client.stop().unwrap();
}
