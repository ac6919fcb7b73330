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
use crate::head::{merge_samples, HeadIndex};
use crate::head_chunks::MmapChunk;
use crate::labels::Labels;

/// Largest number of samples put in one packed chunk of a block.
const BLOCK_CHUNK_SAMPLES: usize = 8192;
const _: () = assert!(BLOCK_CHUNK_SAMPLES <= crate::chunkenc::MAX_PACKED_SAMPLES);

/// A block cut drops the head chunk file mappings after this many series.
const RELEASE_MAPS_EVERY: usize = 256;

/// Head data of one series inside a block range.
pub(crate) struct SeriesSnap {
    /// (name, value) symbol ids into the snapshot's symbol table.
    labels: Box<[(u32, u32)]>,
    mmapped: Vec<MmapChunk>,
    open: Option<(Vec<u8>, i64, i64, u16)>,
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

/// Copies out (under the head lock) what a block of [bmin, bmax) needs from each series.
pub(crate) fn snapshot_head_range(
    idx: &HeadIndex,
    tombstones: &crate::tombstones::Tombstones,
    bmin: i64,
    bmax: i64,
) -> HeadSnapshot {
    let mut out = Vec::new();
    for (r, s) in idx.series.iter().enumerate() {
        let Some(s) = s else { continue };
        let mmapped: Vec<MmapChunk> = s
            .mmapped
            .iter()
            .filter(|c| c.min_time >= bmin && c.max_time < bmax)
            .collect();
        let open =
            (s.open.num_samples() > 0 && s.open_min() >= bmin && s.open_max() < bmax).then(|| {
                (
                    s.open.bytes().to_vec(),
                    s.open_min(),
                    s.open_max(),
                    s.open.num_samples() as u16,
                )
            });
        let ooo: Vec<(i64, f64)> = s
            .ooo
            .iter()
            .filter(|x| x.0 >= bmin && x.0 < bmax)
            .copied()
            .collect();
        if mmapped.is_empty() && open.is_none() && ooo.is_empty() {
            continue;
        }
        out.push(SeriesSnap {
            labels: s.labels.clone(),
            mmapped,
            open,
            ooo,
            deleted: tombstones.get(r as u64).to_vec(),
        });
    }
    let syms = idx.symbols.snapshot();
    // Compared pair by pair without allocating: a Vec per comparison cost O(n log n) allocations.
    out.sort_by(|a, b| label_pairs(&syms, &a.labels).cmp(label_pairs(&syms, &b.labels)));
    HeadSnapshot {
        symbols: syms.clone(),
        series: out,
    }
}

/// A series' labels as string pairs, in order.
fn label_pairs<'a>(
    syms: &'a [std::sync::Arc<str>],
    l: &'a [(u32, u32)],
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    l.iter()
        .map(move |&(n, v)| (&*syms[n as usize], &*syms[v as usize]))
}

/// Series of one block range with the symbols their labels refer to.
pub(crate) struct HeadSnapshot {
    symbols: Vec<std::sync::Arc<str>>,
    series: Vec<SeriesSnap>,
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

/// Writes a level-1 block from a head snapshot; None when the range held no data.
pub(crate) fn write_head_block(
    db: &Db,
    snap: HeadSnapshot,
    bmin: i64,
    bmax: i64,
) -> Result<Option<BlockMeta>, Error> {
    if snap.series.is_empty() {
        return Ok(None);
    }
    let err: RefCell<Option<Error>> = RefCell::new(None);
    let syms = snap.symbols;
    let series = snap.series.into_iter().enumerate().map_while(|(i, s)| {
        // Decode everything in range (chunks, out-of-order samples), re-encode it packed.
        let n: usize = s.mmapped.iter().map(|c| c.num_samples as usize).sum();
        let mut all = Vec::with_capacity(n + s.open.as_ref().map_or(0, |o| o.3 as usize));
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
        if let Some((data, ..)) = &s.open {
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
        let chunks = block_chunks(&all);
        let labels = Labels::from_sorted(
            s.labels
                .iter()
                .map(|&(n, v)| crate::labels::Label {
                    name: syms[n as usize].to_string(),
                    value: syms[v as usize].to_string(),
                })
                .collect(),
        );
        Some((labels, chunks))
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
    let next_series = std::iter::from_fn(|| {
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
