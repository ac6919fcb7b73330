//! Series entries of the block index: version 1 (every entry self-contained, one offset per
//! series) and version 2 (groups of [`GROUP`] entries, one offset per group, each entry coded
//! against the previous one of its group). Layout: FORMAT.md ("Index").

use super::ChunkMeta;
use crate::chunkenc::bstream_util::{get_uvarint, get_varint, put_uvarint, put_varint};

/// Series per group of a version-2 index.
pub(super) const GROUP: usize = 16;

/// One decoded series entry: label pairs as symbol ids and chunk metas.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Entry {
    /// (name, value) symbol ids, names ascending.
    pub labels: Vec<(u32, u32)>,
    /// Chunk metas in time order.
    pub chunks: Vec<ChunkMeta>,
    /// The last chunk reference of this entry or, without chunks, of the entries before it
    /// in its group (0 at a group start).
    pub last_ref: u64,
}

/// Appends a version-2 entry; `prev` is the group's previous entry (the default at its start).
pub(super) fn put_v2(b: &mut Vec<u8>, prev: &Entry, cur: &Entry, block_min: i64) {
    put_uvarint(b, cur.labels.len() as u64);
    for (i, &(n, v)) in cur.labels.iter().enumerate() {
        match prev.labels.get(i) {
            Some(&p) if p == (n, v) => put_uvarint(b, 0),
            Some(&(pn, _)) if pn == n => {
                put_uvarint(b, 1);
                put_uvarint(b, v as u64);
            }
            _ => {
                put_uvarint(b, n as u64 + 2);
                put_uvarint(b, v as u64);
            }
        }
    }
    put_chunks(b, &cur.chunks, block_min, prev.last_ref);
}

/// Chunk metas: count, then per chunk min_t (the first minus `base_t`, then minus the previous
/// max_t), max_t − min_t, and the reference minus the previous one (the first: minus `base_ref`).
pub(super) fn put_chunks(b: &mut Vec<u8>, metas: &[ChunkMeta], base_t: i64, base_ref: u64) {
    put_uvarint(b, metas.len() as u64);
    let (mut pt, mut pref) = (base_t, base_ref);
    for m in metas {
        put_varint(b, m.min_time.wrapping_sub(pt));
        put_uvarint(b, m.max_time.wrapping_sub(m.min_time) as u64);
        put_varint(b, m.chunk_ref.wrapping_sub(pref) as i64);
        pt = m.max_time;
        pref = m.chunk_ref;
    }
}

fn get_chunks(b: &[u8], pos: &mut usize, base_t: i64, base_ref: u64) -> Option<Vec<ChunkMeta>> {
    let mut metas = Vec::new();
    get_chunks_into(b, pos, base_t, base_ref, &mut metas)?;
    Some(metas)
}

/// As [`get_chunks`], into `metas` (cleared first).
pub(super) fn get_chunks_into(
    b: &[u8],
    pos: &mut usize,
    base_t: i64,
    base_ref: u64,
    metas: &mut Vec<ChunkMeta>,
) -> Option<()> {
    metas.clear();
    let nc = get_uvarint(b, pos)? as usize;
    if nc > b.len() {
        return None;
    }
    metas.reserve(nc);
    let (mut pt, mut pref) = (base_t, base_ref);
    for _ in 0..nc {
        let min_time = pt.wrapping_add(get_varint(b, pos)?);
        let max_time = min_time.wrapping_add(get_uvarint(b, pos)? as i64);
        let chunk_ref = pref.wrapping_add(get_varint(b, pos)? as u64);
        metas.push(ChunkMeta {
            min_time,
            max_time,
            chunk_ref,
        });
        pt = max_time;
        pref = chunk_ref;
    }
    Some(())
}

/// Reads a version-2 entry at `*pos`; `prev` as for [`put_v2`]. None when malformed
/// (symbols are checked against `num_symbols`, names must ascend).
#[cfg(test)]
pub(super) fn get_v2(
    b: &[u8],
    pos: &mut usize,
    prev: &Entry,
    num_symbols: usize,
    block_min: i64,
) -> Option<Entry> {
    let mut e = Entry::default();
    get_v2_into(b, pos, prev, num_symbols, block_min, &mut e)?;
    Some(e)
}

/// As [`get_v2`], into `e` (its buffers reused).
pub(super) fn get_v2_into(
    b: &[u8],
    pos: &mut usize,
    prev: &Entry,
    num_symbols: usize,
    block_min: i64,
    e: &mut Entry,
) -> Option<()> {
    let n = get_uvarint(b, pos)? as usize;
    if n > b.len() {
        return None;
    }
    let labels = &mut e.labels;
    labels.clear();
    labels.reserve(n);
    for i in 0..n {
        let pair = match get_uvarint(b, pos)? {
            0 => *prev.labels.get(i)?,
            1 => (
                prev.labels.get(i)?.0,
                u32::try_from(get_uvarint(b, pos)?).ok()?,
            ),
            c => (
                u32::try_from(c - 2).ok()?,
                u32::try_from(get_uvarint(b, pos)?).ok()?,
            ),
        };
        if pair.0 as usize >= num_symbols
            || pair.1 as usize >= num_symbols
            || labels.last().is_some_and(|l| l.0 >= pair.0)
        {
            return None;
        }
        labels.push(pair);
    }
    get_chunks_into(b, pos, block_min, prev.last_ref, &mut e.chunks)?;
    e.last_ref = e.chunks.last().map_or(prev.last_ref, |c| c.chunk_ref);
    Some(())
}

/// Reads a version-1 entry at `*pos` (labels as plain symbol pairs, the first chunk's min_t
/// and reference absolute). None when malformed.
pub(super) fn get_v1(b: &[u8], pos: &mut usize, num_symbols: usize) -> Option<Entry> {
    let n = get_uvarint(b, pos)? as usize;
    if n > b.len() {
        return None;
    }
    let mut labels: Vec<(u32, u32)> = Vec::with_capacity(n);
    for _ in 0..n {
        let name = u32::try_from(get_uvarint(b, pos)?).ok()?;
        let value = u32::try_from(get_uvarint(b, pos)?).ok()?;
        if name as usize >= num_symbols
            || value as usize >= num_symbols
            || labels.last().is_some_and(|l| l.0 >= name)
        {
            return None;
        }
        labels.push((name, value));
    }
    let chunks = get_chunks(b, pos, 0, 0)?;
    let last_ref = chunks.last().map_or(0, |c| c.chunk_ref);
    Some(Entry {
        labels,
        chunks,
        last_ref,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_entries_round_trip_against_the_previous() {
        let entries = [
            Entry {
                labels: vec![(0, 5), (2, 7), (3, 9)],
                chunks: vec![
                    ChunkMeta {
                        min_time: 1000,
                        max_time: 2000,
                        chunk_ref: 8,
                    },
                    ChunkMeta {
                        min_time: 2015,
                        max_time: 3000,
                        chunk_ref: 400,
                    },
                ],
                last_ref: 400,
            },
            Entry {
                labels: vec![(0, 5), (2, 8), (4, 1)],
                chunks: vec![],
                last_ref: 400,
            },
            Entry {
                labels: vec![(1, 1)],
                chunks: vec![ChunkMeta {
                    min_time: 1000,
                    max_time: 1000,
                    chunk_ref: (1 << 32) | 8,
                }],
                last_ref: (1 << 32) | 8,
            },
        ];
        let mut b = Vec::new();
        let mut prev = Entry::default();
        for e in &entries {
            put_v2(&mut b, &prev, e, 1000);
            prev = e.clone();
        }
        // Same pair: one byte; same name: one byte and the value.
        assert_eq!(&b[17..21], &[3, 0, 1, 8]);
        let (mut pos, mut prev) = (0, Entry::default());
        for e in &entries {
            let got = get_v2(&b, &mut pos, &prev, 10, 1000).unwrap();
            assert_eq!(&got, e);
            prev = got;
        }
        assert_eq!(pos, b.len());
        for n in 0..b.len() {
            let (mut pos, mut prev, mut ok) = (0, Entry::default(), true);
            for _ in &entries {
                match get_v2(&b[..n], &mut pos, &prev, 10, 1000) {
                    Some(e) => prev = e,
                    None => ok = false,
                }
            }
            assert!(!ok, "prefix of {n} bytes decoded");
        }
        // Symbols out of range and a first entry referring to a previous one are errors.
        assert!(get_v2(&b, &mut 0, &Entry::default(), 6, 1000).is_none());
        assert!(get_v2(&[1, 0, 0], &mut 0, &Entry::default(), 10, 0).is_none());
    }
}
