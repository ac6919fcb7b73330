//! Dynamic sharding: the disk queue is split into `max_shards` lanes by series hash (fixed,
//! so a series always lands in the same lane and its files survive restarts); a varying
//! number of sender threads, between `min_shards` and `max_shards`, deliver them.
//!
//! Design constraints:
//! - per-series order: a lane is sent by at most one thread at a time (its lock is held from
//!   reading a record until it is committed), and records of a lane go out in file order;
//! - durability: resharding never touches the queue files, only which thread reads them;
//! - the shard count is recomputed every `reshard_interval` from the time one sample takes
//!   to send, the incoming rate and the backlog (as Prometheus' `calculateDesiredShards`);
//!   it does not change while sends fail (more senders would not help an outage) or while
//!   the desired count is within 30 % of the current one.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::queue::Queue;
use crate::send::{deliver, Sender};
use crate::Counters;

/// The lanes of one client and the current number of senders.
pub(crate) struct Lanes {
    pub queues: Vec<Arc<Queue>>,
    locks: Vec<Mutex<()>>,
    /// Senders that should run now (`min_shards..=max_shards`).
    pub active: AtomicUsize,
    min: usize,
    /// Samples appended to the queues since start.
    pub appended: AtomicU64,
    /// Nanoseconds spent in requests that delivered, since start.
    pub busy_nanos: AtomicU64,
    /// Bytes delivered since start.
    pub sent_bytes: AtomicU64,
    /// Resharding decisions taken (up and down).
    pub reshards: AtomicU64,
}

impl Lanes {
    pub(crate) fn new(queues: Vec<Arc<Queue>>, min: usize) -> Lanes {
        let max = queues.len();
        let min = min.clamp(1, max);
        Lanes {
            locks: (0..max).map(|_| Mutex::new(())).collect(),
            queues,
            active: AtomicUsize::new(min),
            min,
            appended: AtomicU64::new(0),
            busy_nanos: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            reshards: AtomicU64::new(0),
        }
    }

    /// Most senders (the lane count).
    pub(crate) fn max(&self) -> usize {
        self.queues.len()
    }
}

/// Sender `w`: serves lanes `l` with `l % active == w` while `w < active`, one record at a
/// time per lane.
pub(crate) fn worker(
    w: usize,
    lanes: &Lanes,
    s: &Sender,
    c: &Counters,
    stop: &AtomicBool,
    backoff: (Duration, Duration),
) {
    while !stop.load(Ordering::Relaxed) {
        let k = lanes.active.load(Ordering::Relaxed).max(1);
        if w >= k {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let mut sent_any = false;
        for l in (w..lanes.max()).step_by(k) {
            let Some(_guard) = lanes.locks[l].try_lock() else {
                continue; // the lane's previous owner is still sending
            };
            let q = &lanes.queues[l];
            let rec = match q.next(Duration::ZERO) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "remote-write queue: skipping a corrupt segment");
                    q.skip_segment();
                    continue;
                }
            };
            let t0 = Instant::now();
            if !deliver(&rec, s, c, stop, backoff) {
                return;
            }
            lanes
                .busy_nanos
                .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
            lanes
                .sent_bytes
                .fetch_add(rec.payload.len() as u64, Ordering::Relaxed);
            q.commit(rec.next);
            sent_any = true;
        }
        if !sent_any {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Counter values at one resharding tick.
#[derive(Clone, Copy, Default)]
struct Tick {
    appended: u64,
    sent: u64,
    busy_nanos: u64,
    sent_bytes: u64,
    failed_requests: u64,
}

/// Recomputes the shard count every `every` until stopped; `spawn(n)` makes sure senders
/// `0..n` exist.
pub(crate) fn controller(
    lanes: &Lanes,
    c: &Counters,
    stop: &AtomicBool,
    every: Duration,
    spawn: &dyn Fn(usize),
) {
    let read = || Tick {
        appended: lanes.appended.load(Ordering::Relaxed),
        sent: c.sent.load(Ordering::Relaxed),
        busy_nanos: lanes.busy_nanos.load(Ordering::Relaxed),
        sent_bytes: lanes.sent_bytes.load(Ordering::Relaxed),
        failed_requests: c.retried.load(Ordering::Relaxed),
    };
    let mut last = read();
    let mut time_per_sample = 0.0f64;
    let mut bytes_per_sample = 0.0f64;
    while crate::send::sleep_unless_stopped(every, stop) {
        let now = read();
        let dt = every.as_secs_f64();
        let sent = now.sent - last.sent;
        if sent > 0 {
            time_per_sample = (now.busy_nanos - last.busy_nanos) as f64 / 1e9 / sent as f64;
            bytes_per_sample = (now.sent_bytes - last.sent_bytes) as f64 / sent as f64;
        }
        let failing = now.failed_requests > last.failed_requests && sent == 0;
        let rate_in = (now.appended - last.appended) as f64 / dt;
        let pending: u64 = lanes.queues.iter().map(|q| q.pending_bytes()).sum();
        let backlog = if bytes_per_sample > 0.0 {
            pending as f64 / bytes_per_sample
        } else {
            0.0
        };
        last = now;
        let cur = lanes.active.load(Ordering::Relaxed);
        let desired = desired_shards(time_per_sample, rate_in, backlog, dt);
        let next = (desired.ceil() as usize).clamp(lanes.min, lanes.max());
        let within = desired >= cur as f64 * 0.7 && desired <= cur as f64 * 1.3;
        if failing || next == cur || (within && next > lanes.min) {
            continue;
        }
        spawn(next);
        lanes.active.store(next, Ordering::Relaxed);
        lanes.reshards.fetch_add(1, Ordering::Relaxed);
        tracing::info!(from = cur, to = next, desired, "remote-write resharding");
    }
}

/// Senders needed to send the incoming rate plus a fifth of the backlog each interval,
/// given how long one sample takes to send.
fn desired_shards(time_per_sample: f64, rate_in: f64, backlog: f64, dt: f64) -> f64 {
    time_per_sample * (rate_in + backlog / (5.0 * dt))
}

#[cfg(test)]
mod tests {
    use super::desired_shards;

    #[test]
    fn desired() {
        // 10 ms per sample, 100 samples/s in, no backlog: one sender.
        assert!((desired_shards(0.01, 100.0, 0.0, 1.0) - 1.0).abs() < 1e-9);
        // The same plus 1000 samples waiting, 1 s ticks: 3 senders.
        assert!((desired_shards(0.01, 100.0, 1000.0, 1.0) - 3.0).abs() < 1e-9);
        // Idle: none wanted (clamped to min_shards by the caller).
        assert_eq!(desired_shards(0.01, 0.0, 0.0, 1.0), 0.0);
    }
}
