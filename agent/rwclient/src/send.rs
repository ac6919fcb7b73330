//! Delivery of one queued record: posted, retrying 429, 5xx and transport errors with doubling waits (or the server's `Retry-After`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::RemoteWriteConfig;
use crate::queue::Record;
use crate::{Counters, Error};

/// What became of one request.
enum Outcome {
    Delivered,
    /// Retry after this long (the server's `Retry-After` when it sent one).
    Retry(Option<Duration>, String),
    /// The server refused the data for good.
    Refused(u16, String),
}

/// How to post to the endpoint.
pub(crate) struct Sender {
    agent: ureq::Agent,
    cfg: RemoteWriteConfig,
}

impl Sender {
    pub(crate) fn new(cfg: &RemoteWriteConfig) -> Result<Sender, Error> {
        let agent = cfg
            .http
            .agent_builder(cfg.timeout())
            .map_err(|e| Error::Config(e.to_string()))?
            .build();
        Ok(Sender {
            agent,
            cfg: cfg.clone(),
        })
    }

    fn post(&self, body: &[u8]) -> Outcome {
        let mut req = self
            .agent
            .post(&self.cfg.url)
            .set("Content-Encoding", "snappy")
            .set("Content-Type", "application/x-protobuf")
            .set("X-Prometheus-Remote-Write-Version", "0.1.0")
            .set("User-Agent", concat!("vitals/", env!("CARGO_PKG_VERSION")));
        for (k, v) in &self.cfg.headers {
            req = req.set(k, v);
        }
        match self.cfg.http.header() {
            Ok(Some(a)) => req = req.set("Authorization", &a),
            Ok(None) => {}
            Err(e) => return Outcome::Retry(None, e.to_string()),
        }
        match req.send_bytes(body) {
            Ok(_) => Outcome::Delivered,
            Err(ureq::Error::Status(code, resp)) => {
                let after = resp
                    .header("Retry-After")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let msg = resp.into_string().unwrap_or_default();
                let msg = msg.trim().chars().take(512).collect::<String>();
                if code == 429 || code >= 500 {
                    Outcome::Retry(after, format!("{code}: {msg}"))
                } else {
                    Outcome::Refused(code, msg)
                }
            }
            Err(ureq::Error::Transport(e)) => Outcome::Retry(None, e.to_string()),
        }
    }
}

/// Sleeps `d` in small steps, returning early (false) when `stop` is set.
pub(crate) fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let end = std::time::Instant::now() + d;
    while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    !stop.load(Ordering::Relaxed)
}

/// Sends one record until it is delivered or refused (true), or the client stops (false).
pub(crate) fn deliver(
    rec: &Record,
    s: &Sender,
    c: &Counters,
    stop: &AtomicBool,
    (min_backoff, max_backoff): (Duration, Duration),
) -> bool {
    let mut wait = min_backoff;
    loop {
        c.requests.fetch_add(1, Ordering::Relaxed);
        match s.post(&rec.payload) {
            Outcome::Delivered => {
                c.sent.fetch_add(rec.samples, Ordering::Relaxed);
                return true;
            }
            Outcome::Refused(code, msg) => {
                c.failed.fetch_add(rec.samples, Ordering::Relaxed);
                tracing::error!(url = %s.cfg.url, code, response = %msg, samples = rec.samples, "remote-write refused; dropping the batch");
                return true;
            }
            Outcome::Retry(after, msg) => {
                c.retried.fetch_add(rec.samples, Ordering::Relaxed);
                tracing::warn!(url = %s.cfg.url, error = %msg, "remote-write failed; retrying");
                let d = after.unwrap_or(wait).min(Duration::from_secs(300));
                if !sleep_unless_stopped(d, stop) {
                    return false;
                }
                wait = (wait * 2).min(max_backoff);
            }
        }
    }
}
