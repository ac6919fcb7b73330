//! A durable Prometheus remote-write client: samples are batched per shard (by series
//! hash, so each series stays in order), written to a disk-backed queue before they are
//! sent, and delivered by one thread per shard with retries and backoff.

mod config;
mod queue;
mod send;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use remote::prompb;

pub use config::{QueueConfig, RemoteWriteConfig};
pub use promconfig::{Authorization, BasicAuth};
pub use queue::Queue;

/// Why the client failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the queue could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A queue record failed its checksum or framing.
    #[error("{path} at {offset}: corrupt record: {detail}")]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// The record's offset.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The configuration is invalid.
    #[error("remote_write: {0}")]
    Config(String),
}

/// Settings that do not come from the `remote_write` block.
#[derive(Clone, Debug)]
pub struct Options {
    /// Directory of the disk queue (one sub-directory per shard).
    pub dir: PathBuf,
    /// Most bytes the queue keeps on disk; the oldest unsent data is dropped beyond it.
    pub max_disk_bytes: u64,
    /// Size at which a queue segment file is closed and a new one started.
    pub segment_bytes: u64,
    /// Labels added to every series that lacks them (`global.external_labels`).
    pub external_labels: Vec<(String, String)>,
}

impl Options {
    /// Options with a queue in `dir` holding at most `max_disk_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_disk_bytes: u64) -> Options {
        Options {
            dir: dir.into(),
            max_disk_bytes,
            segment_bytes: 8 << 20,
            external_labels: Vec::new(),
        }
    }
}

/// Delivery counters of one client.
#[derive(Default)]
pub(crate) struct Counters {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub requests: AtomicU64,
}

/// Samples waiting in memory for one shard.
#[derive(Default)]
struct Pending {
    series: Vec<prompb::TimeSeries>,
    index: HashMap<u64, Vec<usize>>,
    samples: usize,
    since: Option<Instant>,
}

/// A remote-write client for one `remote_write` entry.
pub struct Client {
    cfg: RemoteWriteConfig,
    opts: Options,
    queues: Vec<Arc<Queue>>,
    pending: Vec<Mutex<Pending>>,
    counters: Arc<Counters>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Client {
    /// Opens the queue (resuming what an earlier run left unsent) and starts the senders.
    pub fn start(cfg: RemoteWriteConfig, opts: Options) -> Result<Arc<Client>, Error> {
        cfg.validate()?;
        let shards = cfg.queue_config.max_shards.clamp(1, 64);
        let per_shard = opts.max_disk_bytes / shards as u64;
        let mut queues = Vec::with_capacity(shards);
        for i in 0..shards {
            let dir = opts.dir.join(format!("shard-{i}"));
            queues.push(Arc::new(Queue::open(
                &dir,
                opts.segment_bytes.min(per_shard.max(1)),
                per_shard,
            )?));
        }
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sender = Arc::new(send::Sender::new(&cfg)?);
        let mut threads = Vec::new();
        for (i, q) in queues.iter().enumerate() {
            let (q, c, s, st) = (q.clone(), counters.clone(), sender.clone(), stop.clone());
            let backoff = (
                cfg.queue_config.min_backoff_duration(),
                cfg.queue_config.max_backoff_duration(),
            );
            threads.push(
                std::thread::Builder::new()
                    .name(format!("remote-write-{i}"))
                    .spawn(move || send::shard_loop(&q, &s, &c, &st, backoff))
                    .map_err(|e| Error::Io {
                        path: PathBuf::from("thread"),
                        source: e,
                    })?,
            );
        }
        let client = Arc::new(Client {
            pending: (0..shards)
                .map(|_| Mutex::new(Pending::default()))
                .collect(),
            cfg,
            opts,
            queues,
            counters,
            threads: Mutex::new(threads),
            stop,
        });
        Ok(client)
    }

    /// Adds samples: `(labels sorted by name, __name__ included; timestamp ms; value)`.
    /// Full batches (`max_samples_per_send`) go to the disk queue at once; call
    /// [`Client::flush`] after a collection round, or [`Client::flush_due`] regularly.
    pub fn append(&self, rows: &[(Vec<(String, String)>, i64, f64)]) -> Result<(), Error> {
        let n = self.pending.len() as u64;
        for (labels, t, v) in rows {
            let h = hash(labels);
            let shard = (h % n) as usize;
            let mut p = self.pending[shard].lock();
            let idx = p.index.get(&h).and_then(|c| {
                c.iter()
                    .copied()
                    .find(|&i| same(&p.series[i].labels, labels))
            });
            let i = match idx {
                Some(i) => i,
                None => {
                    p.series.push(prompb::TimeSeries {
                        labels: self.series_labels(labels),
                        ..Default::default()
                    });
                    let i = p.series.len() - 1;
                    p.index.entry(h).or_default().push(i);
                    i
                }
            };
            p.series[i].samples.push(prompb::Sample {
                value: *v,
                timestamp: *t,
            });
            p.samples += 1;
            p.since.get_or_insert_with(Instant::now);
            if p.samples >= self.cfg.queue_config.max_samples_per_send.max(1) {
                self.write_batch(shard, &mut p)?;
            }
        }
        Ok(())
    }

    /// The labels of a series as sent: its own plus external labels it lacks, sorted.
    fn series_labels(&self, labels: &[(String, String)]) -> Vec<prompb::Label> {
        let mut out: Vec<prompb::Label> = labels
            .iter()
            .map(|(n, v)| prompb::Label {
                name: n.clone(),
                value: v.clone(),
            })
            .collect();
        for (n, v) in &self.opts.external_labels {
            if !labels.iter().any(|(m, _)| m == n) {
                out.push(prompb::Label {
                    name: n.clone(),
                    value: v.clone(),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Writes one shard's pending samples to its disk queue.
    fn write_batch(&self, shard: usize, p: &mut Pending) -> Result<(), Error> {
        if p.samples == 0 {
            return Ok(());
        }
        let req = prompb::WriteRequest {
            timeseries: std::mem::take(&mut p.series),
            ..Default::default()
        };
        let body = remote::encode_write_request(&req);
        let samples = p.samples as u64;
        p.index.clear();
        p.samples = 0;
        p.since = None;
        self.queues[shard].append(&body, samples)
    }

    /// Writes every shard's pending samples to the disk queue.
    pub fn flush(&self) -> Result<(), Error> {
        for (i, p) in self.pending.iter().enumerate() {
            self.write_batch(i, &mut p.lock())?;
        }
        Ok(())
    }

    /// Writes pending samples older than `batch_send_deadline` to the disk queue.
    pub fn flush_due(&self) -> Result<(), Error> {
        let deadline = self.cfg.queue_config.batch_send_deadline_duration();
        for (i, p) in self.pending.iter().enumerate() {
            let mut p = p.lock();
            if p.since.is_some_and(|s| s.elapsed() >= deadline) {
                self.write_batch(i, &mut p)?;
            }
        }
        Ok(())
    }

    /// Flushes, stops the senders (unsent data stays on disk for the next start) and saves
    /// the queue cursors.
    pub fn stop(&self) -> Result<(), Error> {
        let res = self.flush();
        self.stop.store(true, Ordering::Relaxed);
        for q in &self.queues {
            q.stop();
        }
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
        for q in &self.queues {
            q.save();
        }
        res
    }

    /// Samples delivered so far.
    pub fn samples_sent(&self) -> u64 {
        self.counters.sent.load(Ordering::Relaxed)
    }

    /// Samples dropped: refused by the receiver (4xx other than 429) or over the disk limit.
    pub fn samples_dropped(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
            + self.queues.iter().map(|q| q.dropped_samples()).sum::<u64>()
    }

    /// Bytes waiting on disk.
    pub fn pending_bytes(&self) -> u64 {
        self.queues.iter().map(|q| q.pending_bytes()).sum()
    }

    /// Appends the client's self-metrics in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let url = self.cfg.url.replace('\\', r"\\").replace('"', "\\\"");
        let c = &self.counters;
        let disk_dropped: u64 = self.queues.iter().map(|q| q.dropped_samples()).sum();
        for (name, kind, help, v) in [
            (
                "vitals_remote_write_sent_samples_total",
                "counter",
                "Samples delivered to the remote endpoint.",
                c.sent.load(Ordering::Relaxed),
            ),
            (
                "vitals_remote_write_failed_samples_total",
                "counter",
                "Samples the remote endpoint refused (4xx other than 429); not retried.",
                c.failed.load(Ordering::Relaxed),
            ),
            (
                "vitals_remote_write_retried_samples_total",
                "counter",
                "Samples sent again after a 429, 5xx or transport error.",
                c.retried.load(Ordering::Relaxed),
            ),
            (
                "vitals_remote_write_dropped_samples_total",
                "counter",
                "Unsent samples dropped because the disk buffer was full.",
                disk_dropped,
            ),
            (
                "vitals_remote_write_requests_total",
                "counter",
                "Remote-write requests attempted.",
                c.requests.load(Ordering::Relaxed),
            ),
            (
                "vitals_remote_write_pending_bytes",
                "gauge",
                "Bytes of unsent data in the disk buffer.",
                self.pending_bytes(),
            ),
            (
                "vitals_remote_write_shards",
                "gauge",
                "Sending shards.",
                self.queues.len() as u64,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{url=\"{url}\"}} {v}"
            );
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if !self.stop.load(Ordering::Relaxed) {
            let _ = self.stop();
        }
    }
}

/// Hash of a label set (which shard a series goes to).
fn hash(labels: &[(String, String)]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for (n, v) in labels {
        h.update(n.as_bytes());
        h.update(&[0xff]);
        h.update(v.as_bytes());
        h.update(&[0xff]);
    }
    h.digest()
}

/// Whether a queued series' labels (external labels included) are `labels`' series.
fn same(have: &[prompb::Label], labels: &[(String, String)]) -> bool {
    labels
        .iter()
        .all(|(n, v)| have.iter().any(|l| &l.name == n && &l.value == v))
}
