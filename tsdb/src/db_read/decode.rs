//! Decoding one series of a read plan into its samples in [mint, maxt], sorted by time.
//!
//! The usual case (blocks and head hold disjoint time ranges) decodes every chunk straight
//! into the output buffer, run after run in time order, and trims each run to its tombstones
//! and each chunk to the range in place (a chunk whose first and last sample times lie in
//! the range is kept whole: the times stored with a chunk are those of its samples). When runs turn out to overlap (out-of-order data, overlapping
//! blocks) the series is decoded again into one buffer per run and merged, head data
//! winning ties.

use crate::block::{Block, ChunkMeta};
use crate::db::Db;
use crate::error::Error;
use crate::head::merge_samples;
use crate::tombstones::is_deleted;

use super::plan::{Part, PlanData};

/// Decodes chunk `data` of `encoding`, appending all its samples to `out`.
pub(crate) fn decode_chunk(
    encoding: u8,
    data: &[u8],
    out: &mut Vec<(i64, f64)>,
) -> Result<(), String> {
    crate::chunkenc::decode_any(encoding, data, out).map_err(|e| e.to_string())
}

/// Keeps the samples of `out[from..]` (one chunk's, spanning `min..=max`) in `window`;
/// a chunk inside the window is left alone without looking at its samples.
fn trim(
    out: &mut Vec<(i64, f64)>,
    from: usize,
    (min, max): (i64, i64),
    window: Option<(i64, i64)>,
) {
    if let Some((mint, maxt)) = window {
        if min < mint || max > maxt {
            retain_from(out, from, |t| t >= mint && t <= maxt);
        }
    }
}

/// Appends the samples of block chunks `metas` of `b` to `out`, each chunk trimmed to
/// `window` when given.
fn decode_block(
    b: &Block,
    metas: &[ChunkMeta],
    window: Option<(i64, i64)>,
    out: &mut Vec<(i64, f64)>,
) -> Result<(), Error> {
    for c in metas {
        let (enc, bytes) = b.chunk(c.chunk_ref)?;
        let start = out.len();
        decode_chunk(enc, bytes, out).map_err(|detail| Error::Corrupt {
            path: b.dir().to_path_buf(),
            detail,
        })?;
        trim(out, start, (c.min_time, c.max_time), window);
    }
    Ok(())
}

/// The in-order data of a head part to decode.
struct HeadRun<'a> {
    /// Its memory-mapped chunks (a range of [`PlanData::mmapped`]).
    mmapped: std::ops::Range<usize>,
    /// Its open chunk: bytes in [`PlanData::open`], first and last sample time.
    open: Option<&'a (std::ops::Range<usize>, i64, i64)>,
    /// The window each chunk is trimmed to, if any.
    window: Option<(i64, i64)>,
}

/// Buffers one reading thread reuses from series to series.
#[derive(Default)]
pub(super) struct DecodeBufs {
    /// The series' samples.
    pub merged: Vec<(i64, f64)>,
    /// Sorted sample runs, one per part (and out-of-order samples), when runs overlap.
    runs: Vec<Vec<(i64, f64)>>,
    /// Head chunk bytes copied out under the chunks lock.
    scratch: Vec<u8>,
    /// Encoding, byte range in `scratch`, first and last sample time of each copied chunk.
    spans: Vec<(u8, usize, usize, i64, i64)>,
    /// Runs by their first chunk's time: (time, part, the part's out-of-order samples).
    order: Vec<(i64, usize, bool)>,
}

/// Keeps the samples of `v[from..]` whose time passes `keep`, in order.
fn retain_from(v: &mut Vec<(i64, f64)>, from: usize, keep: impl Fn(i64) -> bool) {
    let Some(first) = v[from..].iter().position(|s| !keep(s.0)) else {
        return;
    };
    let mut w = from + first;
    for r in w + 1..v.len() {
        if keep(v[r].0) {
            v[w] = v[r];
            w += 1;
        }
    }
    v.truncate(w);
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

/// Merges sorted runs into `out` by time; on equal timestamps the earlier run wins.
/// Runs that do not overlap in time are concatenated.
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

impl Db {
    /// Decodes one series' parts into `bufs.merged`: samples in [mint, maxt], sorted by
    /// time, head samples winning ties.
    pub(super) fn decode_series(
        &self,
        data: &PlanData,
        ps: &[Part],
        mint: i64,
        maxt: i64,
        bufs: &mut DecodeBufs,
    ) -> Result<(), Error> {
        if self.decode_in_order(data, ps, mint, maxt, bufs)? {
            return Ok(());
        }
        self.decode_runs(data, ps, mint, maxt, bufs)
    }

    /// Decodes each run of `ps` (a part's in-order chunks, or its out-of-order samples)
    /// straight into `bufs.merged`, runs in order of their first chunk's time. False when a
    /// run's first sample is not after the previous run's samples: then the runs overlap
    /// and `bufs.merged` holds nothing useful.
    fn decode_in_order(
        &self,
        data: &PlanData,
        ps: &[Part],
        mint: i64,
        maxt: i64,
        bufs: &mut DecodeBufs,
    ) -> Result<bool, Error> {
        let order = &mut bufs.order;
        order.clear();
        for (i, p) in ps.iter().enumerate() {
            match p {
                Part::Head {
                    mmapped, open, ooo, ..
                } => {
                    let first = data.mmapped[mmapped.clone()]
                        .first()
                        .map(|c| c.min_time)
                        .or(open.as_ref().map(|o| o.1));
                    if let Some(t) = first {
                        order.push((t, i, false));
                    }
                    if let Some(s) = data.ooo[ooo.clone()].first() {
                        order.push((s.0, i, true));
                    }
                }
                Part::Block { chunks, .. } => {
                    if let Some(t) = data.metas[chunks.clone()].iter().map(|c| c.min_time).min() {
                        order.push((t, i, false));
                    }
                }
            }
        }
        order.sort_unstable();
        let merged = &mut bufs.merged;
        merged.clear();
        // Last sample time of the runs placed so far.
        let mut placed_last: Option<i64> = None;
        for &(_, i, ooo_run) in bufs.order.iter() {
            let p = &ps[i];
            let start = merged.len();
            match p {
                Part::Head { ooo, .. } if ooo_run => {
                    // The plan kept only the out-of-order samples in range.
                    merged.extend_from_slice(&data.ooo[ooo.clone()]);
                }
                Part::Head { mmapped, open, .. } => {
                    let head = HeadRun {
                        mmapped: mmapped.clone(),
                        open: open.as_ref(),
                        window: Some((mint, maxt)),
                    };
                    self.decode_head(data, head, &mut bufs.scratch, &mut bufs.spans, merged)?;
                }
                Part::Block { block, chunks, .. } => {
                    let b = &data.blocks[*block];
                    decode_block(b, &data.metas[chunks.clone()], Some((mint, maxt)), merged)?;
                }
            }
            let deleted = p.deleted();
            if !deleted.is_empty() {
                retain_from(merged, start, |t| !is_deleted(deleted, t));
            }
            if merged.len() > start {
                // Runs are sorted within themselves, so the earlier runs' last time bounds
                // all of them.
                if placed_last.is_some_and(|last| merged[start].0 <= last) {
                    return Ok(false);
                }
                placed_last = Some(merged[merged.len() - 1].0);
            }
        }
        Ok(true)
    }

    /// Appends the samples of a head part's memory-mapped chunks, then of its open chunk,
    /// to `out`. The mapped chunks' bytes are copied out under the chunks lock and decoded
    /// outside it, so that parallel reads do not queue behind each other's decoding.
    fn decode_head(
        &self,
        data: &PlanData,
        run: HeadRun,
        scratch: &mut Vec<u8>,
        spans: &mut Vec<(u8, usize, usize, i64, i64)>,
        out: &mut Vec<(i64, f64)>,
    ) -> Result<(), Error> {
        scratch.clear();
        spans.clear();
        if !run.mmapped.is_empty() {
            let mut chunks = self.chunks.lock();
            for c in &data.mmapped[run.mmapped] {
                let start = scratch.len();
                let enc = chunks.with_chunk(c.chunk_ref, |enc, data| {
                    scratch.extend_from_slice(data);
                    enc
                })?;
                spans.push((enc, start, scratch.len(), c.min_time, c.max_time));
            }
        }
        for &(enc, a, b, min, max) in spans.iter() {
            let start = out.len();
            decode_chunk(enc, &scratch[a..b], out).map_err(|detail| Error::Corrupt {
                path: self.dir.join("chunks_head"),
                detail,
            })?;
            trim(out, start, (min, max), run.window);
        }
        if let Some((bytes, min, max)) = run.open {
            let start = out.len();
            decode_chunk(
                crate::chunkenc::ENCODING_XOR,
                &data.open[bytes.clone()],
                out,
            )
            .map_err(|detail| Error::Corrupt {
                path: self.dir.join("head"),
                detail,
            })?;
            trim(out, start, (*min, *max), run.window);
        }
        Ok(())
    }

    /// [`Db::decode_series`] for runs that overlap: each run decoded into a buffer of its
    /// own, filtered, then merged by time (earlier runs, the head's first, win ties).
    fn decode_runs(
        &self,
        data: &PlanData,
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
            ..
        } = bufs;
        let mut used = 0;
        for p in ps {
            let first_run = used;
            match p {
                Part::Head {
                    mmapped, open, ooo, ..
                } => {
                    let run = next_run(runs, &mut used);
                    let head = HeadRun {
                        mmapped: mmapped.clone(),
                        open: open.as_ref(),
                        window: None,
                    };
                    self.decode_head(data, head, scratch, spans, run)?;
                    if !ooo.is_empty() {
                        next_run(runs, &mut used).extend_from_slice(&data.ooo[ooo.clone()]);
                    }
                }
                Part::Block { block, chunks, .. } => {
                    let run = next_run(runs, &mut used);
                    decode_block(&data.blocks[*block], &data.metas[chunks.clone()], None, run)?;
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
}
