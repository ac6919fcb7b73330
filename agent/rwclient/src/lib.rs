//! A durable Prometheus remote-write client: samples are batched per lane (by series
//! hash, so each series stays in order), written to a disk-backed queue before they are
//! sent, and delivered with retries and backoff by a number of sender threads (shards)
//! that follows the load between `min_shards` and `max_shards`.

mod config;
mod queue;
mod send;
mod shards;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use remote::prompb;

pub use config::{QueueConfig, RemoteWriteConfig};
pub use promconfig::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
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

/// One sample to send: labels sorted by name (`__name__` included), timestamp in ms, value.
pub type Row = (Vec<(String, String)>, i64, f64);

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
    /// How often the number of sending shards is recomputed (Prometheus: 10 s).
    pub reshard_interval: Duration,
}

impl Options {
    /// Options with a queue in `dir` holding at most `max_disk_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_disk_bytes: u64) -> Options {
        Options {
            dir: dir.into(),
            max_disk_bytes,
            segment_bytes: 8 << 20,
            external_labels: Vec::new(),
            reshard_interval: Duration::from_secs(10),
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

/// Starts sender threads on demand (they idle while above the current shard count).
struct Spawner {
    lanes: Arc<shards::Lanes>,
    sender: Arc<send::Sender>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    backoff: (Duration, Duration),
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Spawner {
    /// Makes sure senders `0..n` run.
    fn ensure(self: &Arc<Self>, n: usize) {
        let mut th = self.threads.lock();
        while th.len() < n {
            let w = th.len();
            let me = self.clone();
            match std::thread::Builder::new()
                .name(format!("remote-write-{w}"))
                .spawn(move || {
                    shards::worker(w, &me.lanes, &me.sender, &me.counters, &me.stop, me.backoff)
                }) {
                Ok(h) => th.push(h),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start a remote-write sender");
                    return;
                }
            }
        }
    }
}

/// A remote-write client for one `remote_write` entry.
pub struct Client {
    cfg: RemoteWriteConfig,
    opts: Options,
    lanes: Arc<shards::Lanes>,
    pending: Vec<Mutex<Pending>>,
    counters: Arc<Counters>,
    spawner: Arc<Spawner>,
    controller: Mutex<Option<std::thread::JoinHandle<()>>>,
    stop: Arc<AtomicBool>,
}

impl Client {
    /// Opens the queue (resuming what an earlier run left unsent) and starts the senders
    /// (`min_shards` of them; more when the queue falls behind).
    pub fn start(cfg: RemoteWriteConfig, opts: Options) -> Result<Arc<Client>, Error> {
        cfg.validate()?;
        let lanes_n = cfg.queue_config.max_shards.clamp(1, 64);
        let per_lane = opts.max_disk_bytes / lanes_n as u64;
        let mut queues = Vec::with_capacity(lanes_n);
        for i in 0..lanes_n {
            let dir = opts.dir.join(format!("shard-{i}"));
            queues.push(Arc::new(Queue::open(
                &dir,
                opts.segment_bytes.min(per_lane.max(1)),
                per_lane,
            )?));
        }
        let lanes = Arc::new(shards::Lanes::new(queues, cfg.queue_config.min_shards));
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let spawner = Arc::new(Spawner {
            lanes: lanes.clone(),
            sender: Arc::new(send::Sender::new(&cfg)?),
            counters: counters.clone(),
            stop: stop.clone(),
            backoff: (
                cfg.queue_config.min_backoff_duration(),
                cfg.queue_config.max_backoff_duration(),
            ),
            threads: Mutex::new(Vec::new()),
        });
        spawner.ensure(lanes.active.load(Ordering::Relaxed));
        let controller = {
            let (sp, every) = (spawner.clone(), opts.reshard_interval);
            std::thread::Builder::new()
                .name("remote-write-reshard".into())
                .spawn(move || {
                    shards::controller(&sp.lanes, &sp.counters, &sp.stop, every, &|n| sp.ensure(n))
                })
                .map_err(|e| Error::Io {
                    path: PathBuf::from("thread"),
                    source: e,
                })?
        };
        Ok(Arc::new(Client {
            pending: (0..lanes_n)
                .map(|_| Mutex::new(Pending::default()))
                .collect(),
            cfg,
            opts,
            lanes,
            counters,
            spawner,
            controller: Mutex::new(Some(controller)),
            stop,
        }))
    }

    /// Adds samples: `(labels sorted by name, __name__ included; timestamp ms; value)`.
    /// Full batches (`max_samples_per_send`) go to the disk queue at once; call
    /// [`Client::flush`] after a collection round, or [`Client::flush_due`] regularly.
    pub fn append(&self, rows: &[Row]) -> Result<(), Error> {
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
        self.lanes.queues[shard].append(&body, samples)?;
        self.lanes.appended.fetch_add(samples, Ordering::Relaxed);
        Ok(())
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
        for q in &self.lanes.queues {
            q.stop();
        }
        if let Some(t) = self.controller.lock().take() {
            let _ = t.join();
        }
        for t in self.spawner.threads.lock().drain(..) {
            let _ = t.join();
        }
        for q in &self.lanes.queues {
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
            + self
                .lanes
                .queues
                .iter()
                .map(|q| q.dropped_samples())
                .sum::<u64>()
    }

    /// Senders running now (between `min_shards` and `max_shards`).
    pub fn shards(&self) -> usize {
        self.lanes.active.load(Ordering::Relaxed)
    }

    /// Bytes waiting on disk.
    pub fn pending_bytes(&self) -> u64 {
        self.lanes.queues.iter().map(|q| q.pending_bytes()).sum()
    }

    /// Appends the client's self-metrics in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let url = self.cfg.url.replace('\\', r"\\").replace('"', "\\\"");
        let c = &self.counters;
        let disk_dropped: u64 = self.lanes.queues.iter().map(|q| q.dropped_samples()).sum();
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
                "Sending shards running now (min_shards..max_shards, following the load).",
                self.shards() as u64,
            ),
            (
                "vitals_remote_write_shards_max",
                "gauge",
                "Most sending shards (queue_config.max_shards; one disk lane each).",
                self.lanes.max() as u64,
            ),
            (
                "vitals_remote_write_reshards_total",
                "counter",
                "Changes of the number of sending shards.",
                self.lanes.reshards.load(Ordering::Relaxed),
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
