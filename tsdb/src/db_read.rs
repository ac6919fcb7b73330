//! Reads over blocks and the head: series, samples, label names and values, self-metrics.
//!
//! A read first makes a plan (`plan`: matching series in label order, where their chunks
//! are), then decodes series one at a time into a reused buffer (`decode`), on one thread or
//! several.

mod decode;
mod labels;
mod metrics;
mod plan;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::db::{Db, SeriesSamples};
use crate::error::Error;
use crate::labels::Labels;
use crate::matcher::Matcher;

pub(crate) use decode::decode_chunk;
use decode::DecodeBufs;
use plan::{Part, Plan, PlanData, SeriesParts};

/// Fewest chunks for which [`Db::for_each_series_par`] starts threads: below this, starting
/// and waking them costs more than decoding (and a woken thread may wait a scheduler tick).
const MIN_PARALLEL_CHUNKS: usize = 512;

/// The callback of [`Db::for_each_series_par`]: a series' ordinal in label order, its
/// labels and samples; called from several threads at once.
pub type ParSeriesFn<'f, E> = dyn Fn(usize, Labels, &[(i64, f64)]) -> Result<(), E> + Sync + 'f;

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
        for b in self.blocks.read().iter() {
            let m = b.meta();
            if m.max_time <= mint || m.min_time > maxt {
                continue;
            }
            b.for_each_entry(&b.select(matchers)?, |_, pairs, chunks| {
                if chunks
                    .iter()
                    .any(|c| c.min_time <= maxt && c.max_time >= mint)
                {
                    set.insert(b.labels(pairs));
                }
                Ok(())
            })?;
        }
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
        let Plan { series, data } = self.read_plan(matchers, mint, maxt, false)?;
        for (labels, ps) in series {
            if ps.iter().any(|p| !p.deleted().is_empty()) {
                self.decode_series(&data, &ps, mint, maxt, &mut bufs)?;
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
        let Plan { series, data } = self.read_plan(matchers, mint, maxt, false)?;
        let mut bufs = DecodeBufs::default();
        for (labels, ps) in series {
            self.decode_series(&data, &ps, mint, maxt, &mut bufs)?;
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
        self.read_par(matchers, mint, maxt, false, threads, f)
    }

    /// As [`Db::for_each_series_par`], for readers that use only each series' newest sample
    /// in [mint, maxt] (an instant selector): older samples may be left out. Where the head
    /// holds that sample it is read as it is, without decoding any chunk.
    pub fn for_each_last_par<E: From<Error> + Send>(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        threads: usize,
        f: &ParSeriesFn<'_, E>,
    ) -> Result<(), E> {
        self.read_par(matchers, mint, maxt, true, threads, f)
    }

    /// [`Db::for_each_series_par`], or with `last` [`Db::for_each_last_par`].
    fn read_par<E: From<Error> + Send>(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        last: bool,
        threads: usize,
        f: &ParSeriesFn<'_, E>,
    ) -> Result<(), E> {
        let _reading = self.reads.read_recursive();
        let Plan { mut series, data } = self.read_plan(matchers, mint, maxt, last)?;
        // Series handed to a thread at a time: up to 16, about four batches per thread.
        let threads = threads.max(1);
        let batch = (series.len() / (threads * 4)).clamp(1, 16);
        let threads = threads.min(series.len().div_ceil(batch));
        let work_chunks: usize = series
            .iter()
            .flat_map(|(_, ps)| ps.iter().map(Part::num_chunks))
            .sum();
        if threads <= 1 || work_chunks < MIN_PARALLEL_CHUNKS {
            let mut bufs = DecodeBufs::default();
            for (i, (labels, ps)) in series.into_iter().enumerate() {
                self.decode_series(&data, &ps, mint, maxt, &mut bufs)?;
                if !bufs.merged.is_empty() {
                    f(i, labels, &bufs.merged)?;
                }
            }
            return Ok(());
        }
        let batches: Vec<parking_lot::Mutex<&mut [SeriesParts]>> = series
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
                    let r = match self.decode_series(&data, ps, mint, maxt, &mut bufs) {
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
        let Plan { series, data } = self.read_plan(matchers, mint, maxt, false)?;
        let mut bufs = DecodeBufs::default();
        let mut chunks: Vec<RawChunk> = Vec::new();
        for (labels, ps) in series {
            chunks.clear();
            if !self.stored_xor_chunks(&data, &ps, &mut chunks)? {
                chunks.clear();
                self.decode_series(&data, &ps, mint, maxt, &mut bufs)?;
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

    /// Copies one series' stored chunks into `out` when all are XOR, in time order and
    /// disjoint, with no out-of-order samples; false (and `out` partly filled) otherwise.
    fn stored_xor_chunks(
        &self,
        data: &PlanData,
        ps: &[Part],
        out: &mut Vec<RawChunk>,
    ) -> Result<bool, Error> {
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
                    for c in &data.mmapped[mmapped.clone()] {
                        let (enc, bytes) =
                            chunks.with_chunk(c.chunk_ref, |e, d| (e, d.to_vec()))?;
                        if enc != ENCODING_XOR {
                            return Ok(false);
                        }
                        out.push(RawChunk {
                            min_time: c.min_time,
                            max_time: c.max_time,
                            data: bytes,
                        });
                    }
                    if let Some((bytes, min_time, max_time)) = open {
                        out.push(RawChunk {
                            min_time: *min_time,
                            max_time: *max_time,
                            data: data.open[bytes.clone()].to_vec(),
                        });
                    }
                }
                Part::Block { block, chunks, .. } => {
                    let b = &data.blocks[*block];
                    for c in &data.metas[chunks.clone()] {
                        let (enc, bytes) = b.chunk(c.chunk_ref)?;
                        if enc != ENCODING_XOR {
                            return Ok(false);
                        }
                        out.push(RawChunk {
                            min_time: c.min_time,
                            max_time: c.max_time,
                            data: bytes.to_vec(),
                        });
                    }
                }
            }
        }
        out.sort_by_key(|c| c.min_time);
        Ok(out.windows(2).all(|w| w[0].max_time < w[1].min_time))
    }
}
