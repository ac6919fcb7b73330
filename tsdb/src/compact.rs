//! Writing blocks from the head, compacting blocks into larger ones, and retention.
//!
//! Design constraints:
//! - Every block, cut from the head (level 1) or compacted, holds packed chunks (see FORMAT.md
//!   for the measurements behind that choice): a block cut re-encodes each series' head
//!   chunks and out-of-order samples in range into one packed chunk.
//! - Compaction merges blocks that lie inside one aligned range of 3×, 9×, 27×… the block
//!   duration once that range is complete.
//! - A block is written under `<ulid>.tmp` and renamed; sources are deleted only after the
//!   new block is renamed, and a crash in between leaves blocks whose sources overlap: on
//!   open, blocks listed as sources of another loaded block are deleted.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::block::{write_block, Block, BlockMeta, ChunkData};
use crate::chunkenc::ENCODING_XOR;
use crate::db::Db;
use crate::db_read::decode_chunk;
use crate::error::Error;
use crate::head::{merge_samples, HeadIndex, MemSeries};
use crate::head_chunks::MmapChunk;
use crate::labels::Labels;

/// Largest number of samples put in one packed chunk of a block.
const BLOCK_CHUNK_SAMPLES: usize = 8192;
const _: () = assert!(BLOCK_CHUNK_SAMPLES <= crate::chunkenc::MAX_PACKED_SAMPLES);

/// A block cut drops the head chunk file mappings after this many series: every chunk read
/// maps up to 64 KiB of page cache around it (the kernel's fault-around), so 256 series (≈ 1,200
/// chunks) could hold 70 MiB of file-backed pages in the process' RSS.
const RELEASE_MAPS_EVERY: usize = 16;

/// Compaction releases its source blocks' resident mapped pages after this many series.
const RELEASE_BLOCK_PAGES_EVERY: usize = 256;

/// Head data of one series inside a block range, copied out of the head when the block cut
/// reaches the series.
struct SeriesSnap {
    labels: Labels,
    mmapped: Vec<MmapChunk>,
    /// The open chunk's bytes and sample count.
    open: Option<(Vec<u8>, u16)>,
    ooo: Vec<(i64, f64)>,
    /// Deleted intervals (tombstones) of the series.
    deleted: crate::tombstones::Intervals,
}

/// Opens every complete block under `dir`, removing leftovers of interrupted writes/compactions.
pub(crate) fn load_blocks(dir: &Path) -> Result<Vec<Arc<Block>>, Error> {
    let mut blocks = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if !path.is_dir() {
            continue;
        }
        if name.ends_with(".tmp") {
            fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
            continue;
        }
        if name.len() == 26 && path.join("meta.json").exists() {
            blocks.push(Arc::new(Block::open(&path)?));
        }
    }
    // A crash after a compaction's rename but before its sources were deleted.
    let replaced: HashSet<String> = blocks
        .iter()
        .filter(|b| b.meta().level > 1)
        .flat_map(|b| {
            b.meta()
                .sources
                .iter()
                .filter(|s| **s != b.meta().ulid)
                .cloned()
        })
        .collect();
    let mut kept = Vec::new();
    for b in blocks {
        if replaced.contains(&b.meta().ulid) {
            tracing::info!(block = %b.meta().ulid, "deleting block already compacted into another");
            fs::remove_dir_all(b.dir()).map_err(|e| Error::io(b.dir(), e))?;
        } else {
            kept.push(b);
        }
    }
    kept.sort_by_key(|b| b.meta().min_time);
    Ok(kept)
}

/// The series of the head with data in one block range, in label order. Only refs: each
/// series' data is copied out of the head when the cut reaches it, so the cut holds one
/// series' chunk list at a time (a copy of every series' list and labels up front cost
/// ≈ 350 bytes a series, most of the cut's memory peak).
pub(crate) struct HeadRange {
    refs: Vec<u32>,
}

/// Lists the series with data in [bmin, bmax), sorted by labels. Called under the head lock
/// after the head's lower bound was raised to `bmax`, so no sample can enter the range any
/// more; until the cut drops the range from the head its data only moves from the open
/// chunk to the chunk files, and deletions wait for maintenance.
pub(crate) fn head_range(idx: &HeadIndex, bmin: i64, bmax: i64) -> HeadRange {
    let in_range = |s: &MemSeries| {
        s.mmapped
            .iter()
            .any(|c| c.min_time >= bmin && c.max_time < bmax)
            || open_in_range(s, bmin, bmax)
            || s.ooo.iter().any(|x| x.0 >= bmin && x.0 < bmax)
    };
    let mut refs: Vec<u32> = idx
        .series
        .iter()
        .enumerate()
        .filter(|(_, s)| s.as_deref().is_some_and(in_range))
        .map(|(r, _)| r as u32)
        .collect();
    // Symbols ranked in string order: comparing label sets by rank compares them by string,
    // without touching the strings.
    let rank = idx.symbols.ranks();
    let key = |r: &u32| {
        let s = idx.series[*r as usize]
            .as_deref()
            .expect("BUG: listed series");
        s.labels
            .iter()
            .map(|(n, v)| (rank[n as usize], rank[v as usize]))
    };
    refs.sort_unstable_by(|a, b| key(a).cmp(key(b)));
    HeadRange { refs }
}

fn open_in_range(s: &MemSeries, bmin: i64, bmax: i64) -> bool {
    s.open.num_samples() > 0 && s.open_min() >= bmin && s.open_max() < bmax
}

/// Copies what a block of [bmin, bmax) needs from series `r` (under the head's read lock).
fn series_in_range(db: &Db, r: u32, bmin: i64, bmax: i64) -> Option<SeriesSnap> {
    let st = db.head.read();
    let s = st.idx.series.get(r as usize)?.as_deref()?;
    Some(SeriesSnap {
        labels: st.idx.labels_of(s),
        mmapped: s
            .mmapped
            .iter()
            .filter(|c| c.min_time >= bmin && c.max_time < bmax)
            .collect(),
        open: open_in_range(s, bmin, bmax)
            .then(|| (s.open.bytes().to_vec(), s.open.num_samples() as u16)),
        ooo: s
            .ooo
            .iter()
            .filter(|x| x.0 >= bmin && x.0 < bmax)
            .copied()
            .collect(),
        deleted: st.tombstones.get(r as u64).to_vec(),
    })
}

/// Encodes sorted samples into packed chunks of at most [`BLOCK_CHUNK_SAMPLES`] samples.
fn block_chunks(samples: &[(i64, f64)]) -> Vec<(ChunkData<'static>, u32)> {
    samples
        .chunks(BLOCK_CHUNK_SAMPLES)
        .map(|part| {
            let cd = ChunkData {
                min_time: part[0].0,
                max_time: part[part.len() - 1].0,
                encoding: crate::chunkenc::ENCODING_PACKED,
                data: crate::chunkenc::encode_packed(part).into(),
            };
            (cd, part.len() as u32)
        })
        .collect()
}

/// Writes a level-1 block of the head's series in `range`; None when the range held no data.
pub(crate) fn write_head_block(
    db: &Db,
    range: HeadRange,
    bmin: i64,
    bmax: i64,
) -> Result<Option<BlockMeta>, Error> {
    if range.refs.is_empty() {
        return Ok(None);
    }
    let err: RefCell<Option<Error>> = RefCell::new(None);
    let series = range.refs.into_iter().enumerate().map_while(|(i, r)| {
        // Only this cut removes series from the head; a missing one would have no data.
        let Some(s) = series_in_range(db, r, bmin, bmax) else {
            return Some((Labels::default(), Vec::new()));
        };
        // Decode everything in range (chunks, out-of-order samples), re-encode it packed.
        let n: usize = s.mmapped.iter().map(|c| c.num_samples as usize).sum();
        let mut all = Vec::with_capacity(n + s.open.as_ref().map_or(0, |o| o.1 as usize));
        let corrupt = |detail: String| Error::Corrupt {
            path: db.dir.join("chunks_head"),
            detail,
        };
        let mut hc = db.chunks.lock();
        if i % RELEASE_MAPS_EVERY == 0 {
            // Series come in label order, not file order: bound the touched mapped pages.
            hc.release_maps();
        }
        for c in &s.mmapped {
            let res = hc.with_chunk(c.chunk_ref, |enc, data| decode_chunk(enc, data, &mut all));
            if let Err(e) = res.and_then(|r| r.map_err(corrupt)) {
                *err.borrow_mut() = Some(e);
                return None;
            }
        }
        drop(hc);
        if let Some((data, _)) = &s.open {
            if let Err(detail) = decode_chunk(ENCODING_XOR, data, &mut all) {
                *err.borrow_mut() = Some(corrupt(detail));
                return None;
            }
        }
        let mut all = if s.ooo.is_empty() {
            all
        } else {
            merge_samples(vec![all, s.ooo])
        };
        crate::tombstones::filter_samples(&s.deleted, &mut all);
        Some((s.labels, block_chunks(&all)))
    });
    let series = series.filter(|(_, c)| !c.is_empty());
    let meta = write_block(&db.dir, bmin, bmax, 1, Vec::new(), series);
    if let Some(e) = err.into_inner() {
        if let Ok(m) = &meta {
            let _ = fs::remove_dir_all(db.dir.join(&m.ulid));
        }
        return Err(e);
    }
    meta.map(Some)
}

/// Block ranges used by compaction: 3×, 9×, … the block duration, up to `max`.
fn compaction_ranges(block_duration: i64, max: i64) -> Vec<i64> {
    let mut v = Vec::new();
    let mut r = block_duration * 3;
    while r <= max {
        v.push(r);
        r *= 3;
    }
    v
}

/// Compacts groups of blocks lying inside one complete aligned range.
pub(crate) fn compact(db: &Db) -> Result<(), Error> {
    let bd = db.opts.block_duration_ms;
    let max_range = if db.opts.retention_time_ms > 0 {
        (db.opts.retention_time_ms / 10).min(31 * 24 * 3600 * 1000)
    } else {
        31 * 24 * 3600 * 1000
    };
    loop {
        let blocks = db.blocks();
        let Some(newest) = blocks.iter().map(|b| b.meta().max_time).max() else {
            return Ok(());
        };
        let mut plan: Option<Vec<Arc<Block>>> = None;
        'ranges: for r in compaction_ranges(bd, max_range) {
            let mut i = 0;
            while i < blocks.len() {
                let start = blocks[i].meta().min_time.div_euclid(r) * r;
                let end = start + r;
                let group: Vec<Arc<Block>> = blocks
                    .iter()
                    .filter(|b| b.meta().min_time >= start && b.meta().max_time <= end)
                    .cloned()
                    .collect();
                if group.len() >= 2 && end <= newest {
                    plan = Some(group);
                    break 'ranges;
                }
                i += 1;
            }
        }
        let Some(group) = plan else { return Ok(()) };
        match compact_blocks(db, &group).and_then(|meta| replace_blocks(db, &group, meta)) {
            Ok(meta) => {
                db.metrics.compactions.fetch_add(1, Ordering::Relaxed);
                tracing::info!(block = %meta.ulid, sources = group.len(), min_time = meta.min_time, max_time = meta.max_time, "compacted blocks");
            }
            Err(e) => {
                db.metrics
                    .compaction_failures
                    .fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        }
    }
}

/// Loads the new block `meta` in place of `group`, then deletes the old blocks' files.
pub(crate) fn replace_blocks(
    db: &Db,
    group: &[Arc<Block>],
    meta: BlockMeta,
) -> Result<BlockMeta, Error> {
    let new_block = Arc::new(Block::open(&db.dir.join(&meta.ulid))?);
    {
        let mut bl = db.blocks.write();
        let ids: HashSet<&str> = group.iter().map(|b| b.meta().ulid.as_str()).collect();
        bl.retain(|b| !ids.contains(b.meta().ulid.as_str()));
        bl.push(new_block);
        bl.sort_by_key(|b| b.meta().min_time);
    }
    for b in group {
        fs::remove_dir_all(b.dir()).map_err(|e| Error::io(b.dir(), e))?;
    }
    Ok(meta)
}

/// Merges `group` (sorted by time) into one block with packed chunks, dropping tombstoned
/// samples.
pub(crate) fn compact_blocks(db: &Db, group: &[Arc<Block>]) -> Result<BlockMeta, Error> {
    let min_time = group
        .iter()
        .map(|b| b.meta().min_time)
        .min()
        .expect("non-empty group");
    let max_time = group
        .iter()
        .map(|b| b.meta().max_time)
        .max()
        .expect("non-empty group");
    let level = group.iter().map(|b| b.meta().level).max().unwrap_or(1) + 1;
    let mut sources: Vec<String> = group
        .iter()
        .flat_map(|b| b.meta().sources.iter().cloned())
        .collect();
    sources.extend(group.iter().map(|b| b.meta().ulid.clone()));
    sources.sort();
    sources.dedup();
    // K-way merge of the blocks' label-sorted series.
    let mut cursors: Vec<(usize, Vec<u32>, usize)> = group
        .iter()
        .enumerate()
        .map(|(i, b)| (i, b.all_series_ids(), 0))
        .collect();
    let err: RefCell<Option<Error>> = RefCell::new(None);
    let mut heads: Vec<Option<(Labels, Vec<crate::block::ChunkMeta>, u32)>> =
        (0..group.len()).map(|_| None).collect();
    let mut merged = 0usize;
    let next_series = std::iter::from_fn(|| {
        merged += 1;
        if merged.is_multiple_of(RELEASE_BLOCK_PAGES_EVERY) {
            // Every source page is read once: do not let them all stay resident.
            group.iter().for_each(|b| b.release_pages());
        }
        for (bi, ids, pos) in cursors.iter_mut() {
            if heads[*bi].is_none() && *pos < ids.len() {
                match group[*bi].series(ids[*pos]) {
                    Ok((l, c)) => heads[*bi] = Some((l, c, ids[*pos])),
                    Err(e) => {
                        *err.borrow_mut() = Some(e);
                        return None;
                    }
                }
                *pos += 1;
            }
        }
        let min_labels = heads.iter().flatten().map(|(l, ..)| l).min()?.clone();
        let mut runs = Vec::new();
        for (bi, h) in heads.iter_mut().enumerate() {
            if h.as_ref().is_some_and(|(l, ..)| *l == min_labels) {
                let (_, metas, id) = h.take().expect("checked");
                let mut out = Vec::new();
                for m in &metas {
                    let res = group[bi].chunk(m.chunk_ref).and_then(|(enc, data)| {
                        decode_chunk(enc, data, &mut out).map_err(|detail| Error::Corrupt {
                            path: group[bi].dir().to_path_buf(),
                            detail,
                        })
                    });
                    if let Err(e) = res {
                        *err.borrow_mut() = Some(e);
                        return None;
                    }
                }
                crate::tombstones::filter_samples(group[bi].tombstones().get(id as u64), &mut out);
                runs.push(out);
            }
        }
        // Later blocks win ties: put them first.
        runs.reverse();
        let samples = merge_samples(runs);
        let chunks = block_chunks(&samples);
        Some((min_labels, chunks))
    });
    let meta = write_block(
        &db.dir,
        min_time,
        max_time,
        level,
        sources,
        next_series.filter(|(_, c)| !c.is_empty()),
    );
    if let Some(e) = err.into_inner() {
        if let Ok(m) = &meta {
            let _ = fs::remove_dir_all(db.dir.join(&m.ulid));
        }
        return Err(e);
    }
    meta
}

/// Deletes blocks beyond the time and size retention.
pub(crate) fn apply_retention(db: &Db) -> Result<(), Error> {
    let blocks = db.blocks();
    if blocks.is_empty() {
        return Ok(());
    }
    let mut doomed: Vec<Arc<Block>> = Vec::new();
    if db.opts.retention_time_ms > 0 {
        let head_max = db.head.read().max_time;
        let newest = blocks
            .iter()
            .map(|b| b.meta().max_time)
            .max()
            .unwrap_or(i64::MIN)
            .max(head_max);
        let cutoff = newest - db.opts.retention_time_ms;
        doomed.extend(
            blocks
                .iter()
                .filter(|b| b.meta().max_time <= cutoff)
                .cloned(),
        );
    }
    if db.opts.retention_size_bytes > 0 {
        let mut total = db.storage_bytes();
        for b in blocks.iter() {
            if total <= db.opts.retention_size_bytes {
                break;
            }
            total = total.saturating_sub(b.size_bytes());
            if !doomed.iter().any(|d| d.meta().ulid == b.meta().ulid) {
                doomed.push(b.clone());
            }
        }
    }
    if doomed.is_empty() {
        return Ok(());
    }
    {
        let ids: HashSet<&str> = doomed.iter().map(|b| b.meta().ulid.as_str()).collect();
        db.blocks
            .write()
            .retain(|b| !ids.contains(b.meta().ulid.as_str()));
    }
    for b in &doomed {
        tracing::info!(block = %b.meta().ulid, max_time = b.meta().max_time, "deleting block beyond retention");
        fs::remove_dir_all(b.dir()).map_err(|e| Error::io(b.dir(), e))?;
        db.metrics.blocks_deleted.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_grow_by_three() {
        assert_eq!(compaction_ranges(2, 60), vec![6, 18, 54]);
    }
}
