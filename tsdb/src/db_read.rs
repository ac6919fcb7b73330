//! Reads over blocks and the head: series, samples, label names and values, self-metrics.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::db::{Db, SeriesSamples};
use crate::error::{Error, RejectReason};
use crate::head::merge_samples;
use crate::head_chunks::MmapChunk;
use crate::labels::Labels;
use crate::matcher::Matcher;
use crate::tombstones::{covers, Intervals};

/// Where one series' data in a read lives.
enum Part {
    /// Chunks of an immutable block.
    Block(
        std::sync::Arc<crate::block::Block>,
        Vec<crate::block::ChunkMeta>,
        Intervals,
    ),
    /// Head chunks: memory-mapped, the open chunk's bytes, out-of-order samples.
    Head {
        mmapped: Vec<MmapChunk>,
        /// The open chunk's bytes and first and last sample times.
        open: Option<(Vec<u8>, i64, i64)>,
        ooo: Vec<(i64, f64)>,
        /// Deleted intervals (tombstones).
        deleted: Intervals,
    },
}

/// Fewest chunks for which [`Db::for_each_series_par`] starts threads: below this, starting
/// and waking them costs more than decoding (and a woken thread may wait a scheduler tick).
const MIN_PARALLEL_CHUNKS: usize = 512;

impl Part {
    /// Number of chunks to decode (an out-of-order buffer counts as one).
    fn num_chunks(&self) -> usize {
        match self {
            Part::Block(_, metas, _) => metas.len(),
            Part::Head {
                mmapped, open, ooo, ..
            } => mmapped.len() + usize::from(open.is_some()) + usize::from(!ooo.is_empty()),
        }
    }

    /// The part's deleted intervals.
    fn deleted(&self) -> &[(i64, i64)] {
        match self {
            Part::Block(_, _, d) | Part::Head { deleted: d, .. } => d,
        }
    }
}

/// The callback of [`Db::for_each_series_par`]: a series' ordinal in label order, its
/// labels and samples; called from several threads at once.
pub type ParSeriesFn<'f, E> = dyn Fn(usize, Labels, &[(i64, f64)]) -> Result<(), E> + Sync + 'f;

/// One series' labels and where its data lives.
type SeriesParts = (Labels, Vec<Part>);

/// Buffers one reading thread reuses from series to series.
#[derive(Default)]
struct DecodeBufs {
    /// Sorted sample runs, one per part (and out-of-order samples).
    runs: Vec<Vec<(i64, f64)>>,
    /// The series' merged samples.
    merged: Vec<(i64, f64)>,
    /// Head chunk bytes copied out under the chunks lock.
    scratch: Vec<u8>,
    /// Encoding and byte range in `scratch` of each copied chunk.
    spans: Vec<(u8, usize, usize)>,
}

/// The next cleared run buffer of `runs`.
fn next_run<'a>(runs: &'a mut Vec<Vec<(i64, f64)>>, used: &mut usize) -> &'a mut Vec<(i64, f64)> {
    if runs.len() == *used {
        runs.push(Vec::new());
    }
    *used += 1;
    let r = &mut runs[*used - 1];
    r.clear();
    r
}

/// Merges a block's series (sorted by labels) into `acc` (sorted by labels): a series already
/// there gets the block's part appended, others are inserted in order.
fn merge_parts(acc: Vec<SeriesParts>, found: Vec<(Labels, Part)>) -> Vec<SeriesParts> {
    if found.is_empty() {
        return acc;
    }
    let mut out: Vec<SeriesParts> = Vec::with_capacity(acc.len() + found.len());
    let mut acc = acc.into_iter().peekable();
    for (labels, part) in found {
        while let Some(a) = acc.next_if(|a| a.0 < labels) {
            out.push(a);
        }
        match acc.next_if(|a| a.0 == labels) {
            Some(mut a) => {
                a.1.push(part);
                out.push(a);
            }
            None => out.push((labels, vec![part])),
        }
    }
    out.extend(acc);
    out
}

/// Merges sorted runs into `out` by time; on equal timestamps the earlier run wins.
/// Runs that do not overlap in time (the usual case: blocks and head) are concatenated.
fn merge_runs(runs: &mut [Vec<(i64, f64)>], out: &mut Vec<(i64, f64)>) {
    out.clear();
    let mut order: Vec<usize> = (0..runs.len()).filter(|&i| !runs[i].is_empty()).collect();
    order.sort_by_key(|&i| (runs[i][0].0, i));
    let disjoint = order
        .windows(2)
        .all(|w| runs[w[0]].last().map(|l| l.0) < Some(runs[w[1]][0].0));
    if disjoint {
        for i in order {
            out.extend_from_slice(&runs[i]);
        }
        return;
    }
    *out = merge_samples(runs.iter_mut().map(std::mem::take).collect());
}

/// Decodes chunk `data` of `encoding`, appending all its samples to `out`.
pub(crate) fn decode_chunk(
    encoding: u8,
    data: &[u8],
    out: &mut Vec<(i64, f64)>,
) -> Result<(), String> {
    crate::chunkenc::decode_any(encoding, data, out).map_err(|e| e.to_string())
}

/// A matcher every series passes (`__name__=~".*"`).
fn match_all() -> Matcher {
    Matcher::new(crate::matcher::MatchOp::Regex, "__name__", ".*").expect("BUG: constant regex")
}

/// Samples per chunk when a read re-encodes XOR chunks (as Prometheus cuts them).
const XOR_CHUNK_SAMPLES: usize = 120;

/// One XOR chunk of a series, as [`Db::for_each_series_chunks`] returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct RawChunk {
    /// First sample time (ms).
    pub min_time: i64,
    /// Last sample time (ms).
    pub max_time: i64,
    /// Prometheus XOR chunk bytes.
    pub data: Vec<u8>,
}

impl Db {
    /// Calls `f` with every series matching `matchers` in blocks overlapping [mint, maxt].
    fn for_each_block_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        mut f: impl FnMut(
            &crate::block::Block,
            Labels,
            Vec<crate::block::ChunkMeta>,
        ) -> Result<(), Error>,
    ) -> Result<(), Error> {
        for b in self.blocks.read().iter() {
            let m = b.meta();
            if m.max_time <= mint || m.min_time > maxt {
                continue;
            }
            for id in b.select(matchers)? {
                let (labels, chunks) = b.series(id)?;
                f(b, labels, chunks)?;
            }
        }
        Ok(())
    }

    /// Label sets of series matching all matchers with data in [mint, maxt], sorted.
    pub fn select_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, Error> {
        if self.has_tombstones() {
            return self.select_series_decoded(matchers, mint, maxt);
        }
        let mut set: BTreeSet<Labels> = BTreeSet::new();
        self.for_each_block_series(matchers, mint, maxt, |_, labels, chunks| {
            if chunks
                .iter()
                .any(|c| c.min_time <= maxt && c.max_time >= mint)
            {
                set.insert(labels);
            }
            Ok(())
        })?;
        let st = self.head.read();
        for r in st.idx.select(matchers) {
            let s = st.idx.series[r as usize]
                .as_ref()
                .expect("BUG: postings point at a removed series");
            if s.overlaps(mint, maxt) {
                set.insert(st.idx.labels_of(s));
            }
        }
        Ok(set.into_iter().collect())
    }

    /// Whether the head or a loaded block holds tombstones.
    pub(crate) fn has_tombstones(&self) -> bool {
        !self.head.read().tombstones.is_empty()
            || self
                .blocks
                .read()
                .iter()
                .any(|b| !b.tombstones().is_empty())
    }

    /// [`Db::select_series`] when tombstones exist: a series with deleted intervals is
    /// decoded and listed only if samples in [mint, maxt] remain.
    fn select_series_decoded(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, Error> {
        let _reading = self.reads.read_recursive();
        let mut bufs = DecodeBufs::default();
        let mut out = Vec::new();
        for (labels, ps) in self.series_parts(matchers, mint, maxt)? {
            if ps.iter().any(|p| !p.deleted().is_empty()) {
                self.decode_parts(&ps, mint, maxt, &mut bufs)?;
                if bufs.merged.is_empty() {
                    continue;
                }
            }
            out.push(labels);
        }
        Ok(out)
    }

    /// Samples in [mint, maxt] of series matching all matchers, sorted by labels.
    pub fn select_samples(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesSamples>, Error> {
        let mut out = Vec::new();
        self.for_each_series(matchers, mint, maxt, |labels, samples| {
            out.push(SeriesSamples {
                labels,
                samples: samples.to_vec(),
            });
            Ok::<(), Error>(())
        })?;
        Ok(out)
    }

    /// Calls `f` with each series matching all matchers (in label order) and its samples in
    /// [mint, maxt]; series are decoded one at a time into a reused buffer, so memory holds
    /// chunk references of all series but the samples of one.
    pub fn for_each_series<E: From<Error>>(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        mut f: impl FnMut(Labels, &[(i64, f64)]) -> Result<(), E>,
    ) -> Result<(), E> {
        let _reading = self.reads.read_recursive();
        let parts = self.series_parts(matchers, mint, maxt)?;
        let mut bufs = DecodeBufs::default();
        for (labels, ps) in parts {
            self.decode_parts(&ps, mint, maxt, &mut bufs)?;
            if !bufs.merged.is_empty() {
                f(labels, &bufs.merged)?;
            }
        }
        Ok(())
    }

    /// As [`Db::for_each_series`], but series are decoded and passed to `f` on up to
    /// `threads` threads at once (the caller's among them), each with its ordinal in label
    /// order; calls come in no particular order. The first error stops the walk.
    pub fn for_each_series_par<E: From<Error> + Send>(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        threads: usize,
        f: &ParSeriesFn<'_, E>,
    ) -> Result<(), E> {
        let _reading = self.reads.read_recursive();
        let mut parts: Vec<SeriesParts> = self.series_parts(matchers, mint, maxt)?;
        // Series handed to a thread at a time: up to 16, about four batches per thread.
        let threads = threads.max(1);
        let batch = (parts.len() / (threads * 4)).clamp(1, 16);
        let threads = threads.min(parts.len().div_ceil(batch));
        let work_chunks: usize = parts
            .iter()
            .flat_map(|(_, ps)| ps.iter().map(Part::num_chunks))
            .sum();
        if threads <= 1 || work_chunks < MIN_PARALLEL_CHUNKS {
            let mut bufs = DecodeBufs::default();
            for (i, (labels, ps)) in parts.into_iter().enumerate() {
                self.decode_parts(&ps, mint, maxt, &mut bufs)?;
                if !bufs.merged.is_empty() {
                    f(i, labels, &bufs.merged)?;
                }
            }
            return Ok(());
        }
        let batches: Vec<parking_lot::Mutex<&mut [SeriesParts]>> = parts
            .chunks_mut(batch)
            .map(parking_lot::Mutex::new)
            .collect();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let first_err: parking_lot::Mutex<Option<E>> = parking_lot::Mutex::new(None);
        let work = || {
            let mut bufs = DecodeBufs::default();
            while !failed.load(Ordering::Relaxed) {
                let b = next.fetch_add(1, Ordering::Relaxed);
                let Some(series) = batches.get(b) else { break };
                let mut series = series.lock();
                for (k, (labels, ps)) in series.iter_mut().enumerate() {
                    let r = match self.decode_parts(ps, mint, maxt, &mut bufs) {
                        Err(e) => Err(E::from(e)),
                        Ok(()) if bufs.merged.is_empty() => Ok(()),
                        Ok(()) => f(b * batch + k, std::mem::take(labels), &bufs.merged),
                    };
                    if let Err(e) = r {
                        failed.store(true, Ordering::Relaxed);
                        first_err.lock().get_or_insert(e);
                        break;
                    }
                }
            }
        };
        std::thread::scope(|sc| {
            for _ in 1..threads {
                sc.spawn(work);
            }
            work();
        });
        match first_err.into_inner() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Calls `f` with each series matching all matchers (in label order) and XOR chunks
    /// covering its samples in [mint, maxt]. Stored XOR chunks are passed as they are (they
    /// may hold samples outside the range); a series with out-of-order samples, overlapping
    /// or densely encoded chunks is decoded, merged and re-encoded (120 samples a chunk).
    pub fn for_each_series_chunks<E: From<Error>>(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        mut f: impl FnMut(Labels, &[RawChunk]) -> Result<(), E>,
    ) -> Result<(), E> {
        let _reading = self.reads.read_recursive();
        let parts = self.series_parts(matchers, mint, maxt)?;
        let mut bufs = DecodeBufs::default();
        let mut chunks: Vec<RawChunk> = Vec::new();
        for (labels, ps) in parts {
            chunks.clear();
            if !self.stored_xor_chunks(&ps, &mut chunks)? {
                chunks.clear();
                self.decode_parts(&ps, mint, maxt, &mut bufs)?;
                for part in bufs.merged.chunks(XOR_CHUNK_SAMPLES) {
                    let mut c = crate::chunkenc::XorChunk::new();
                    for &(t, v) in part {
                        c.append(t, v);
                    }
                    chunks.push(RawChunk {
                        min_time: part[0].0,
                        max_time: part[part.len() - 1].0,
                        data: c.into_bytes(),
                    });
                }
            }
            if !chunks.is_empty() {
                f(labels, &chunks)?;
            }
        }
        Ok(())
    }

    /// Where the data of each series matching `matchers` in [mint, maxt] lives, sorted by
    /// labels (head part first, then blocks in order). Each source's series are sorted once
    /// and merged in one pass, rather than inserted one by one into a map.
    fn series_parts(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesParts>, Error> {
        let mut parts: Vec<SeriesParts> = Vec::new();
        {
            let st = self.head.read();
            for r in st.idx.select(matchers) {
                let s = st.idx.series[r as usize]
                    .as_ref()
                    .expect("BUG: postings point at a removed series");
                let deleted = st.tombstones.get(r as u64);
                if !s.overlaps(mint, maxt) || covers(deleted, mint, maxt) {
                    continue;
                }
                let open =
                    (s.open.num_samples() > 0 && s.open_min() <= maxt && s.open_max() >= mint)
                        .then(|| (s.open.bytes().to_vec(), s.open_min(), s.open_max()));
                let head = Part::Head {
                    mmapped: s
                        .mmapped
                        .iter()
                        .filter(|c| c.min_time <= maxt && c.max_time >= mint)
                        .collect(),
                    open,
                    ooo: s
                        .ooo
                        .iter()
                        .filter(|x| x.0 >= mint && x.0 <= maxt)
                        .copied()
                        .collect(),
                    deleted: deleted.to_vec(),
                };
                parts.push((st.idx.labels_of(s), vec![head]));
            }
        }
        parts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let blocks: Vec<std::sync::Arc<crate::block::Block>> = self.blocks.read().clone();
        for b in &blocks {
            let m = b.meta();
            if m.max_time <= mint || m.min_time > maxt {
                continue;
            }
            let tombstones = b.tombstones();
            let mut found: Vec<(Labels, Part)> = Vec::new();
            for id in b.select(matchers)? {
                let (labels, chunks) = b.series(id)?;
                let deleted = tombstones.get(id as u64);
                let chunks: Vec<_> = chunks
                    .into_iter()
                    .filter(|c| c.min_time <= maxt && c.max_time >= mint)
                    .filter(|c| !covers(deleted, c.min_time, c.max_time))
                    .collect();
                if !chunks.is_empty() {
                    found.push((labels, Part::Block(b.clone(), chunks, deleted.to_vec())));
                }
            }
            // A block's series come in label order; sort in case they do not.
            if !found.is_sorted_by(|a, b| a.0 <= b.0) {
                found.sort_by(|a, b| a.0.cmp(&b.0));
            }
            parts = merge_parts(parts, found);
        }
        Ok(parts)
    }

    /// Decodes one series' parts into `merged`: samples in [mint, maxt], sorted by time,
    /// head samples winning ties.
    fn decode_parts(
        &self,
        ps: &[Part],
        mint: i64,
        maxt: i64,
        bufs: &mut DecodeBufs,
    ) -> Result<(), Error> {
        let DecodeBufs {
            runs,
            merged,
            scratch,
            spans,
        } = bufs;
        let mut used = 0;
        for p in ps {
            let first_run = used;
            // Head data comes first: it wins ties against blocks.
            match p {
                Part::Head {
                    mmapped, open, ooo, ..
                } => {
                    // Copy the chunks out under the lock and decode outside it, so that
                    // parallel reads do not queue behind each other's decoding.
                    scratch.clear();
                    spans.clear();
                    if !mmapped.is_empty() {
                        let mut chunks = self.chunks.lock();
                        for c in mmapped {
                            let start = scratch.len();
                            let enc = chunks.with_chunk(c.chunk_ref, |enc, data| {
                                scratch.extend_from_slice(data);
                                enc
                            })?;
                            spans.push((enc, start, scratch.len()));
                        }
                    }
                    let run = next_run(runs, &mut used);
                    for &(enc, a, b) in spans.iter() {
                        decode_chunk(enc, &scratch[a..b], run).map_err(|detail| {
                            Error::Corrupt {
                                path: self.dir.join("chunks_head"),
                                detail,
                            }
                        })?;
                    }
                    if let Some((open, _, _)) = open {
                        decode_chunk(crate::chunkenc::ENCODING_XOR, open, run).map_err(
                            |detail| Error::Corrupt {
                                path: self.dir.join("head"),
                                detail,
                            },
                        )?;
                    }
                    if !ooo.is_empty() {
                        next_run(runs, &mut used).extend_from_slice(ooo);
                    }
                }
                Part::Block(b, chunks, _) => {
                    let run = next_run(runs, &mut used);
                    for c in chunks {
                        let (enc, data) = b.chunk(c.chunk_ref)?;
                        decode_chunk(enc, data, run).map_err(|detail| Error::Corrupt {
                            path: b.dir().to_path_buf(),
                            detail,
                        })?;
                    }
                }
            }
            for r in &mut runs[first_run..used] {
                crate::tombstones::filter_samples(p.deleted(), r);
            }
        }
        for r in &mut runs[..used] {
            r.retain(|s| s.0 >= mint && s.0 <= maxt);
        }
        merge_runs(&mut runs[..used], merged);
        Ok(())
    }

    /// Copies one series' stored chunks into `out` when all are XOR, in time order and
    /// disjoint, with no out-of-order samples; false (and `out` partly filled) otherwise.
    fn stored_xor_chunks(&self, ps: &[Part], out: &mut Vec<RawChunk>) -> Result<bool, Error> {
        use crate::chunkenc::ENCODING_XOR;
        for p in ps {
            if !p.deleted().is_empty() {
                // Tombstoned samples are cut: the chunks are re-encoded.
                return Ok(false);
            }
            match p {
                Part::Head {
                    mmapped, open, ooo, ..
                } => {
                    if !ooo.is_empty() {
                        return Ok(false);
                    }
                    let mut chunks = self.chunks.lock();
                    for c in mmapped {
                        let (enc, data) = chunks.with_chunk(c.chunk_ref, |e, d| (e, d.to_vec()))?;
                        if enc != ENCODING_XOR {
                            return Ok(false);
                        }
                        out.push(RawChunk {
                            min_time: c.min_time,
                            max_time: c.max_time,
                            data,
                        });
                    }
                    if let Some((data, min_time, max_time)) = open {
                        out.push(RawChunk {
                            min_time: *min_time,
                            max_time: *max_time,
                            data: data.clone(),
                        });
                    }
                }
                Part::Block(b, chunks, _) => {
                    for c in chunks {
                        let (enc, data) = b.chunk(c.chunk_ref)?;
                        if enc != ENCODING_XOR {
                            return Ok(false);
                        }
                        out.push(RawChunk {
                            min_time: c.min_time,
                            max_time: c.max_time,
                            data: data.to_vec(),
                        });
                    }
                }
            }
        }
        out.sort_by_key(|c| c.min_time);
        Ok(out.windows(2).all(|w| w[0].max_time < w[1].min_time))
    }

    /// Sorted label names of matching series (all series when `matchers` is empty) with data in [mint, maxt].
    pub fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, Error> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        if matchers.is_empty() && self.has_tombstones() {
            return self.label_names(&[match_all()], mint, maxt);
        }
        if matchers.is_empty() {
            for b in self.blocks.read().iter() {
                let m = b.meta();
                if m.max_time > mint && m.min_time <= maxt {
                    names.extend(b.label_names());
                }
            }
            let st = self.head.read();
            if st.min_time <= maxt && st.max_time >= mint {
                names.extend(
                    st.idx
                        .postings
                        .keys()
                        .map(|&n| st.idx.symbols.get(n).to_string()),
                );
            }
        } else {
            for l in self.select_series(matchers, mint, maxt)? {
                names.extend(l.iter().map(|l| l.name.clone()));
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Sorted values of label `name` across matching series (all series when `matchers` is empty).
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, Error> {
        let mut values: BTreeSet<String> = BTreeSet::new();
        if matchers.is_empty() && self.has_tombstones() {
            return self.label_values(name, &[match_all()], mint, maxt);
        }
        if matchers.is_empty() {
            for b in self.blocks.read().iter() {
                let m = b.meta();
                if m.max_time > mint && m.min_time <= maxt {
                    values.extend(b.label_values(name));
                }
            }
            let st = self.head.read();
            if st.min_time <= maxt && st.max_time >= mint {
                values.extend(crate::postings::PostingsSource::label_values(&st.idx, name));
            }
        } else {
            for l in self.select_series(matchers, mint, maxt)? {
                if let Some(v) = l.get(name) {
                    values.insert(v.to_string());
                }
            }
        }
        Ok(values.into_iter().collect())
    }

    /// Appends the database's self-metrics in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let m = &self.metrics;
        let hs = self.head_stats();
        let blocks = self.blocks.read().clone();
        let wal_bytes = self.head.read().wal.bytes_written();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        counter(
            out,
            "vitals_tsdb_head_samples_appended_total",
            "Samples appended to the head in order.",
            m.samples_appended.load(Ordering::Relaxed),
        );
        counter(
            out,
            "vitals_tsdb_head_out_of_order_samples_appended_total",
            "Samples appended within the out-of-order window.",
            m.ooo_samples_appended.load(Ordering::Relaxed),
        );
        let _ = writeln!(out, "# HELP vitals_tsdb_rejected_samples_total Samples not stored, by reason.\n# TYPE vitals_tsdb_rejected_samples_total counter");
        for r in RejectReason::ALL {
            let _ = writeln!(
                out,
                "vitals_tsdb_rejected_samples_total{{reason=\"{}\"}} {}",
                r.as_str(),
                m.rejected[r as usize].load(Ordering::Relaxed)
            );
        }
        counter(
            out,
            "vitals_tsdb_head_series_created_total",
            "Series created in the head.",
            m.series_created.load(Ordering::Relaxed),
        );
        counter(
            out,
            "vitals_tsdb_head_series_removed_total",
            "Series removed from the head after a block cut.",
            m.series_removed.load(Ordering::Relaxed),
        );
        gauge(
            out,
            "vitals_tsdb_head_series",
            "Series in the head.",
            hs.num_series as f64,
        );
        gauge(
            out,
            "vitals_tsdb_head_chunks",
            "Chunks in the head (open and memory-mapped).",
            hs.num_chunks as f64,
        );
        gauge(
            out,
            "vitals_tsdb_head_min_time_seconds",
            "Oldest sample time in the head.",
            if hs.min_time == i64::MAX {
                0.0
            } else {
                hs.min_time as f64 / 1000.0
            },
        );
        gauge(
            out,
            "vitals_tsdb_head_max_time_seconds",
            "Newest sample time in the head.",
            if hs.max_time == i64::MIN {
                0.0
            } else {
                hs.max_time as f64 / 1000.0
            },
        );
        counter(
            out,
            "vitals_tsdb_wal_bytes_written_total",
            "Bytes written to the WAL since start.",
            wal_bytes,
        );
        counter(
            out,
            "vitals_tsdb_head_chunk_bytes_written_total",
            "Bytes written to head chunk files since start.",
            self.chunks.lock().bytes_written(),
        );
        counter(
            out,
            "vitals_tsdb_wal_checkpoints_total",
            "WAL checkpoints written.",
            m.checkpoints.load(Ordering::Relaxed),
        );
        gauge(
            out,
            "vitals_tsdb_wal_replay_seconds",
            "Time the last open spent loading head chunks and replaying the WAL.",
            m.wal_replay_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        );
        counter(
            out,
            "vitals_tsdb_blocks_cut_total",
            "Blocks cut from the head.",
            m.blocks_cut.load(Ordering::Relaxed),
        );
        counter(
            out,
            "vitals_tsdb_compactions_total",
            "Block compactions completed.",
            m.compactions.load(Ordering::Relaxed),
        );
        counter(
            out,
            "vitals_tsdb_compactions_failed_total",
            "Block compactions that failed.",
            m.compaction_failures.load(Ordering::Relaxed),
        );
        counter(
            out,
            "vitals_tsdb_blocks_deleted_total",
            "Blocks deleted by retention.",
            m.blocks_deleted.load(Ordering::Relaxed),
        );
        gauge(
            out,
            "vitals_tsdb_blocks_loaded",
            "Blocks loaded.",
            blocks.len() as f64,
        );
        gauge(
            out,
            "vitals_tsdb_storage_blocks_bytes",
            "Bytes of all loaded blocks.",
            blocks.iter().map(|b| b.size_bytes()).sum::<u64>() as f64,
        );
    }
}
