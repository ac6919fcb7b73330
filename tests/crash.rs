//! Crash safety: a client streams remote-writes while the store is SIGKILLed at random
//! moments (one round ends with SIGTERM instead: a clean shutdown that writes the head
//! snapshot, loaded by the next start); after each restart every sample that got a 2xx is
//! there (series via `/api/v1/series`, values via remote-read). Prints restart-to-ready times.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, read, series_count, ts, write, Server};
use rand::{Rng, SeedableRng};
use remote::prompb::WriteRequest;

const SERIES: usize = 2000;
const STEP: i64 = 15_000;

fn request(t: i64) -> WriteRequest {
    WriteRequest {
        timeseries: (0..SERIES)
            .map(|i| {
                ts(
                    "crash_test_metric",
                    &[
                        ("job", "crash".into()),
                        ("instance", format!("host-{}", i / 20)),
                        ("core", (i % 20).to_string()),
                    ],
                    t,
                    (t / 1000) as f64 + i as f64,
                )
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn acknowledged_samples_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    // timestamp → acknowledged
    let acked: Arc<Mutex<BTreeMap<i64, bool>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let start = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        / STEP)
        * STEP
        - 24 * 3_600_000;
    let mut next_t = start;
    let mut restarts = Vec::new();
    for round in 0..5 {
        let (mut server, ready) = Server::start(dir.path(), port, &[]);
        restarts.push(ready);
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (url, acked, stop) = (server.url.clone(), acked.clone(), stop.clone());
            let mut t = next_t;
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match write(&url, &request(t)) {
                        Ok(code) if (200..300).contains(&code) => {
                            acked.lock().unwrap().insert(t, true);
                        }
                        Ok(code) => panic!("unexpected status {code}"),
                        Err(_) => break, // the server died mid-request: not acknowledged
                    }
                    t += STEP;
                }
                t
            })
        };
        std::thread::sleep(Duration::from_millis(rng.gen_range(200..1500)));
        if round == 2 {
            server.terminate();
        } else {
            server.kill9();
        }
        stop.store(true, Ordering::Relaxed);
        next_t = writer.join().unwrap() + STEP;
        eprintln!(
            "round {round}: stopped after {} acknowledged requests in total",
            acked.lock().unwrap().len()
        );
    }
    let (server, ready) = Server::start(dir.path(), port, &[]);
    restarts.push(ready);
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 5,
        "the writer should have been acknowledged several times"
    );
    assert_eq!(series_count(&server.url, "crash_test_metric"), SERIES);
    let resp = read(&server.url, "crash_test_metric", start, next_t);
    let got = &resp.results[0].timeseries;
    assert_eq!(got.len(), SERIES);
    let mut checked = 0;
    for s in got {
        let host: usize = s
            .labels
            .iter()
            .find(|l| l.name == "instance")
            .unwrap()
            .value[5..]
            .parse()
            .unwrap();
        let core: usize = s
            .labels
            .iter()
            .find(|l| l.name == "core")
            .unwrap()
            .value
            .parse()
            .unwrap();
        let i = host * 20 + core;
        let have: BTreeMap<i64, f64> = s.samples.iter().map(|x| (x.timestamp, x.value)).collect();
        for &t in acked.keys() {
            let v = have
                .get(&t)
                .unwrap_or_else(|| panic!("acknowledged sample t={t} of series {i} lost"));
            assert_eq!(*v, (t / 1000) as f64 + i as f64, "wrong value at t={t}");
            checked += 1;
        }
        // Nothing that was never sent.
        assert!(have.keys().all(|t| (t - start) % STEP == 0 && *t < next_t));
    }
    eprintln!(
        "checked {checked} acknowledged samples; restart-to-ready: {:?}",
        restarts
    );
}

/// Restart-to-ready with 120k series × 240 samples (run: cargo test --release --test crash -- --ignored --nocapture).
#[test]
#[ignore]
fn restart_time_with_120k_series() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut server, _) = Server::start(dir.path(), port, &[]);
    let t0 = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        / STEP)
        * STEP
        - 2 * 3_600_000;
    let began = Instant::now();
    for k in 0..240 {
        let t = t0 + k * STEP;
        for part in 0..12 {
            let req = WriteRequest {
                timeseries: (0..10_000)
                    .map(|i| {
                        ts(
                            "restart_metric",
                            &[
                                ("job", "r".into()),
                                ("instance", format!("host-{part}-{}", i / 100)),
                                ("idx", (i % 100).to_string()),
                            ],
                            t,
                            (k * 7 + i) as f64,
                        )
                    })
                    .collect(),
                ..Default::default()
            };
            assert_eq!(write(&server.url, &req).unwrap(), 204);
        }
    }
    eprintln!("wrote 28.8M samples in {:?}", began.elapsed());
    server.kill9();
    let (server, ready) = Server::start(dir.path(), port, &[]);
    eprintln!("restart-to-ready with 120k series, 2 h of head data, after kill -9: {ready:?}");
    assert_eq!(series_count(&server.url, "restart_metric"), 120_000);
    let mut server = server;
    server.terminate();
    let (server, ready) = Server::start(dir.path(), port, &[]);
    eprintln!("restart-to-ready after a clean shutdown (head snapshot): {ready:?}");
    assert_eq!(series_count(&server.url, "restart_metric"), 120_000);
}
