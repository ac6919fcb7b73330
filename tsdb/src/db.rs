//! The database: head + WAL + head chunk files + blocks, behind one `Send + Sync` handle.
//!
//! Design constraints:
//! - An append returns only after its WAL records were written to the OS: an acknowledged
//!   sample survives `kill -9` (fsync happens on [`Db::sync`] and at segment cuts).
//! - One lock guards the head's index and the WAL writer, so series records always precede
//!   their samples in the WAL. Lock order: head, then head chunks, then blocks.
//! - Blocks are immutable; a block is cut once the head spans 1.5 block durations, from the
//!   oldest whole block range. After the cut the head drops that range, the WAL is
//!   checkpointed and old head chunk files are deleted.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::block::Block;
use crate::chunk_refs::ChunkRefs;
use crate::error::{Error, RejectReason};
use crate::head::{append_sample, cut_phase, insert_ooo, AppendResult, HeadIndex};
use crate::head_chunks::HeadChunks;
use crate::labels::{fingerprint_refs, Labels};
use crate::wal::{self, Record, SampleRecord, Wal, WalOptions};

/// Database options; see the field docs for units and defaults.
#[derive(Clone, Debug)]
pub struct Options {
    /// Blocks whose data is older than this (ms, relative to the newest sample) are deleted; 0 = keep.
    pub retention_time_ms: i64,
    /// Oldest blocks are deleted while blocks + WAL + head chunks exceed this many bytes; 0 = no limit.
    pub retention_size_bytes: u64,
    /// Span of a block cut from the head (ms); default 2 h.
    pub block_duration_ms: i64,
    /// How far behind a series' newest sample a sample may still be stored (ms); default 0.
    pub out_of_order_window_ms: i64,
    /// Size of one WAL segment file; default 128 MiB.
    pub wal_segment_bytes: u64,
    /// Limits checked when a new series is created by an append (not on WAL replay).
    pub limits: Limits,
}

/// Limits on new series; 0 means unlimited. Rejections count as `label_limit` / `series_limit`.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Most labels (including `__name__`) of one series; default 256.
    pub max_labels: usize,
    /// Longest label name in bytes; default 1024.
    pub max_label_name_bytes: usize,
    /// Longest label value in bytes; default 32 KiB.
    pub max_label_value_bytes: usize,
    /// Most head series with the same metric name; default 0 (unlimited).
    pub max_series_per_metric: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_labels: 256,
            max_label_name_bytes: 1024,
            max_label_value_bytes: 32 << 10,
            max_series_per_metric: 0,
        }
    }
}

impl Limits {
    /// Why a new series with these labels may not be created, if it may not.
    pub(crate) fn check_labels(&self, labels: &[(&str, &str)]) -> Option<String> {
        let over = |n: usize, max: usize| max > 0 && n > max;
        if over(labels.len(), self.max_labels) {
            return Some(format!(
                "series has {} labels, more than the limit of {}",
                labels.len(),
                self.max_labels
            ));
        }
        for (n, v) in labels {
            if over(n.len(), self.max_label_name_bytes) {
                return Some(format!(
                    "label name of {} bytes, more than the limit of {}",
                    n.len(),
                    self.max_label_name_bytes
                ));
            }
            if over(v.len(), self.max_label_value_bytes) {
                return Some(format!(
                    "value of label {:?} has {} bytes, more than the limit of {}",
                    truncate(n, 64),
                    v.len(),
                    self.max_label_value_bytes
                ));
            }
        }
        None
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retention_time_ms: 15 * 24 * 3600 * 1000,
            retention_size_bytes: 0,
            block_duration_ms: 2 * 3600 * 1000,
            out_of_order_window_ms: 0,
            wal_segment_bytes: 128 << 20,
            limits: Limits::default(),
        }
    }
}

/// One series' samples as returned by reads.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSamples {
    /// The series' labels.
    pub labels: Labels,
    /// `(timestamp ms, value)`, ascending by time.
    pub samples: Vec<(i64, f64)>,
}

/// Summary of the head.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeadStats {
    /// Series in memory.
    pub num_series: u64,
    /// Oldest sample time in the head (ms), `i64::MAX` when empty.
    pub min_time: i64,
    /// Newest sample time in the head (ms), `i64::MIN` when empty.
    pub max_time: i64,
    /// Chunks in the head (open + memory-mapped).
    pub num_chunks: u64,
}

/// Counters behind the `vitals_tsdb_*` self-metrics.
#[derive(Default)]
pub(crate) struct Metrics {
    pub samples_appended: AtomicU64,
    pub ooo_samples_appended: AtomicU64,
    pub rejected: [AtomicU64; RejectReason::ALL.len()],
    pub series_created: AtomicU64,
    pub series_removed: AtomicU64,
    pub blocks_cut: AtomicU64,
    pub compactions: AtomicU64,
    pub compaction_failures: AtomicU64,
    pub blocks_deleted: AtomicU64,
    pub wal_replay_ms: AtomicU64,
    pub checkpoints: AtomicU64,
}

pub(crate) struct HeadState {
    pub idx: HeadIndex,
    pub wal: Wal,
    /// Samples older than this are out of bounds (their range is in a block).
    pub min_valid: i64,
    pub min_time: i64,
    pub max_time: i64,
    /// Deleted intervals of head series, by ref (logged in the WAL).
    pub tombstones: crate::tombstones::Tombstones,
    pub(crate) series_buf: Vec<u8>,
    pub(crate) sample_recs: Vec<SampleRecord>,
    pub(crate) ooo_recs: Vec<SampleRecord>,
    pub(crate) enc_buf: Vec<u8>,
    /// Per series of the batch being appended: its ref, or [`crate::db_append::NO_REF`].
    pub(crate) refs: Vec<u32>,
}

/// The time-series database.
pub struct Db {
    pub(crate) dir: PathBuf,
    pub(crate) opts: Options,
    pub(crate) head: RwLock<HeadState>,
    pub(crate) chunks: Mutex<HeadChunks>,
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    pub(crate) metrics: Metrics,
    pub(crate) maintenance_lock: Mutex<()>,
    /// Held shared by reads from collecting chunk references to decoding them, and
    /// exclusively while head chunk files are deleted, so a read never meets a deleted file.
    pub(crate) reads: RwLock<()>,
}

impl Db {
    /// Opens (creating if needed) the database in `dir`; replays the WAL; returns when ready.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db, Error> {
        let dir = dir.as_ref().to_path_buf();
        if opts.block_duration_ms <= 0 {
            return Err(Error::InvalidArgument(
                "block duration must be positive".into(),
            ));
        }
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let started = Instant::now();
        let blocks = crate::compact::load_blocks(&dir)?;
        let min_valid = blocks
            .iter()
            .map(|b| b.meta().max_time)
            .max()
            .unwrap_or(i64::MIN);
        let (mut hc, mut mmapped) = HeadChunks::open(&dir.join("chunks_head"))?;
        // Refs of orphaned chunks (WAL lost) must never be handed to another series.
        let mut idx = HeadIndex {
            next_ref: mmapped.keys().max().map_or(0, |&r| r as u32 + 1),
            ..HeadIndex::default()
        };
        let metrics = Metrics::default();
        let (mut min_time, mut max_time) = (i64::MAX, i64::MIN);
        let wal_dir = dir.join("wal");
        let bd = opts.block_duration_ms;
        let mut replay_err: Option<Error> = None;
        let mut tombstones = crate::tombstones::Tombstones::default();
        let from = crate::head_snapshot::load_on_open(
            &dir,
            min_valid,
            wal::checkpoint_index(&wal_dir)?,
            &mut idx,
            &mut mmapped,
        );
        for s in idx.series.iter().flatten().filter(|s| s.has_data()) {
            min_time = min_time.min(s.min_time());
            max_time = max_time.max(s.max_time());
        }
        let stats = wal::replay_from(&wal_dir, from, |rec| {
            match rec {
                Record::Series(list) => {
                    for s in list {
                        let r = s.series_ref as u32;
                        if idx.series.get(r as usize).is_some_and(|x| x.is_some()) {
                            continue;
                        }
                        let pairs: Vec<(&str, &str)> = s
                            .labels
                            .iter()
                            .map(|l| (l.name.as_ref(), l.value.as_ref()))
                            .collect();
                        let fp = fingerprint_refs(&pairs);
                        idx.create(fp, &pairs, Some(r));
                        if let Some(mut chunks) = mmapped.remove(&s.series_ref) {
                            chunks.retain(|c| c.max_time >= min_valid);
                            let ms = idx.series[r as usize].as_mut().expect("just created");
                            if let Some(last) = chunks.last() {
                                ms.last_t = last.max_time;
                                ms.last_v = f64::NAN;
                            }
                            idx.num_mmapped_chunks += chunks.len() as u64;
                            for c in &chunks {
                                min_time = min_time.min(c.min_time);
                                max_time = max_time.max(c.max_time);
                            }
                            ms.mmapped = ChunkRefs::from_chunks(chunks);
                        }
                    }
                }
                Record::Samples(list) => {
                    for s in list {
                        let Some(Some(ms)) = idx.series.get_mut(s.series_ref as usize) else {
                            continue;
                        };
                        if s.t <= ms.last_t && ms.open.num_samples() == 0 {
                            continue; // already in a memory-mapped chunk
                        }
                        if let AppendResult::InOrder(cut) = append_sample(
                            ms,
                            s.t,
                            s.v,
                            min_valid,
                            i64::MAX,
                            bd,
                            cut_phase(s.series_ref as u32, bd),
                        ) {
                            if let Some((chunk, cmin, cmax)) = cut {
                                match hc.write(
                                    s.series_ref,
                                    cmin,
                                    cmax,
                                    chunk.num_samples() as u16,
                                    crate::chunkenc::ENCODING_XOR,
                                    chunk.bytes(),
                                ) {
                                    Ok(m) => {
                                        ms.mmapped.push(m);
                                        idx.num_mmapped_chunks += 1;
                                    }
                                    Err(e) => replay_err = Some(e),
                                }
                            }
                            min_time = min_time.min(s.t);
                            max_time = max_time.max(s.t);
                        }
                    }
                }
                Record::OooSamples(list) => {
                    for s in list {
                        let Some(Some(ms)) = idx.series.get_mut(s.series_ref as usize) else {
                            continue;
                        };
                        if s.t >= min_valid {
                            insert_ooo(ms, s.t, s.v);
                            min_time = min_time.min(s.t);
                        }
                    }
                }
                Record::Tombstones(list) => {
                    for (r, mint, maxt) in list {
                        if idx.series.get(r as usize).is_some_and(|x| x.is_some()) {
                            tombstones.add(r, mint, maxt);
                        }
                    }
                }
            }
            Ok(())
        })?;
        if let Some(e) = replay_err {
            return Err(e);
        }
        hc.flush()?;
        let wal = Wal::open(
            &wal_dir,
            WalOptions {
                segment_bytes: opts.wal_segment_bytes,
            },
        )?;
        crate::head_snapshot::remove(&dir)?;
        let elapsed = started.elapsed();
        metrics
            .wal_replay_ms
            .store(elapsed.as_millis() as u64, Ordering::Relaxed);
        tracing::info!(series = idx.num_series, blocks = blocks.len(), ?stats, snapshot_wal_segment = ?from, elapsed_ms = elapsed.as_millis() as u64, dir = %dir.display(), "tsdb opened");
        let head = HeadState {
            idx,
            wal,
            min_valid,
            min_time,
            max_time,
            tombstones,
            series_buf: Vec::new(),
            sample_recs: Vec::new(),
            ooo_recs: Vec::new(),
            enc_buf: Vec::new(),
            refs: Vec::new(),
        };
        Ok(Db {
            dir,
            opts,
            head: RwLock::new(head),
            chunks: Mutex::new(hc),
            blocks: RwLock::new(blocks),
            metrics,
            maintenance_lock: Mutex::new(()),
            reads: RwLock::new(()),
        })
    }

    /// Directory the database lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Head statistics.
    pub fn head_stats(&self) -> HeadStats {
        let st = self.head.read();
        HeadStats {
            num_series: st.idx.num_series,
            min_time: st.min_time,
            max_time: st.max_time,
            num_chunks: st.idx.num_mmapped_chunks
                + st.idx
                    .series
                    .iter()
                    .flatten()
                    .filter(|s| s.open.num_samples() > 0)
                    .count() as u64,
        }
    }

    /// Flushes and fsyncs the WAL and head chunk files.
    pub fn sync(&self) -> Result<(), Error> {
        let mut st = self.head.write();
        st.wal.sync()?;
        self.chunks.lock().flush()
    }

    /// Cuts blocks from the head, compacts, applies retention; call periodically.
    pub fn maintenance(&self) -> Result<(), Error> {
        let _g = self.maintenance_lock.lock();
        let before = self.metrics.compactions.load(Ordering::Relaxed);
        let mut cut = false;
        while self.cut_block()? {
            cut = true;
        }
        crate::compact::compact(self)?;
        crate::compact::apply_retention(self)?;
        if cut || self.metrics.compactions.load(Ordering::Relaxed) != before {
            self.chunks.lock().release_maps();
            release_free_memory();
        }
        Ok(())
    }

    /// Cuts the oldest whole block range out of the head when the head spans 1.5 block durations.
    fn cut_block(&self) -> Result<bool, Error> {
        let bd = self.opts.block_duration_ms;
        let (bmin, bmax) = {
            let st = self.head.read();
            if st.idx.num_series == 0
                || st.max_time == i64::MIN
                || st.max_time - st.min_time <= bd * 3 / 2
            {
                return Ok(false);
            }
            let bmin = st.min_time.div_euclid(bd) * bd;
            (bmin, bmin + bd)
        };
        let started = Instant::now();
        crate::head_snapshot::remove(&self.dir)?;
        let range = {
            let mut st = self.head.write();
            st.min_valid = st.min_valid.max(bmax);
            crate::compact::head_range(&st.idx, bmin, bmax)
        };
        let meta = crate::compact::write_head_block(self, range, bmin, bmax)?;
        if let Some(meta) = &meta {
            let block = Arc::new(Block::open(&self.dir.join(&meta.ulid))?);
            let mut blocks = self.blocks.write();
            blocks.push(block);
            blocks.sort_by_key(|b| b.meta().min_time);
            self.metrics.blocks_cut.fetch_add(1, Ordering::Relaxed);
        }
        // Drop the range from the head, garbage-collect empty series, checkpoint the WAL.
        let (last_seg, alive) = {
            let mut guard = self.head.write();
            let st = &mut *guard;
            let mut removed = Vec::new();
            let mut new_min = i64::MAX;
            for (r, slot) in st.idx.series.iter_mut().enumerate() {
                let Some(s) = slot.as_mut() else { continue };
                let dropped = s.mmapped.retain(|c| c.max_time >= bmax);
                st.idx.num_mmapped_chunks -= dropped as u64;
                if s.open.num_samples() > 0 && s.open_max() < bmax {
                    s.open = crate::chunkenc::XorChunk::new();
                }
                s.ooo.retain(|x| x.0 >= bmax);
                if !s.has_data() && s.last_t < bmax {
                    removed.push(r as u32);
                } else if s.has_data() {
                    new_min = new_min.min(s.min_time());
                }
            }
            for r in &removed {
                let hash = st
                    .idx
                    .hash_of(st.idx.series[*r as usize].as_ref().expect("listed"));
                st.idx.remove(*r, hash);
            }
            st.idx.shrink_postings();
            self.metrics
                .series_removed
                .fetch_add(removed.len() as u64, Ordering::Relaxed);
            st.min_time = if new_min == i64::MAX {
                bmax
            } else {
                new_min.max(bmax)
            };
            let HeadState {
                idx, tombstones, ..
            } = &mut *st;
            tombstones.retain(|r| idx.series.get(r as usize).is_some_and(|x| x.is_some()));
            if st.idx.num_series == 0 {
                st.max_time = i64::MIN;
                st.min_time = i64::MAX;
            }
            let seg = st.wal.cut_segment()?;
            // One bit per ref (a set of refs took ≈ 20 bytes a series at the cut's peak).
            let mut alive = vec![0u64; st.idx.series.len().div_ceil(64)];
            for (r, _) in st
                .idx
                .series
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_some())
            {
                alive[r / 64] |= 1 << (r % 64);
            }
            (seg - 1, alive)
        };
        {
            let _no_reads = self.reads.write();
            self.chunks.lock().truncate_before(bmax)?;
        }
        wal::checkpoint(
            &self.dir.join("wal"),
            last_seg,
            |r| {
                alive
                    .get((r / 64) as usize)
                    .is_some_and(|w| w & (1 << (r % 64)) != 0)
            },
            bmax,
        )?;
        self.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            min_time = bmin,
            max_time = bmax,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "cut block from head"
        );
        Ok(true)
    }

    /// Total bytes on disk: blocks, WAL and head chunk files.
    pub fn storage_bytes(&self) -> u64 {
        let blocks: u64 = self.blocks.read().iter().map(|b| b.size_bytes()).sum();
        blocks + dir_size(&self.dir.join("wal")) + self.chunks.lock().size_bytes()
    }

    /// The blocks currently loaded, oldest first.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.read().clone()
    }
}

/// Returns freed heap pages to the OS after a head truncation or compaction freed a lot at
/// once (glibc keeps them otherwise, and settled RSS would stay at the peak).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Fsyncs a directory, so renames and new files in it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), Error> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Sum of file sizes under `dir` (recursive); 0 when missing.
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
