//! A series' list of full head chunks (where each lives in the head chunk files, its time
//! range and sample count), held as varints in one exact-size allocation.
//!
//! Design constraints:
//! - The head holds one list per series and a series keeps ~6 full chunks (3 h at 15 s), so
//!   the list's size is most of what a series costs beyond its open chunk: 32-byte
//!   [`MmapChunk`] entries in a doubling `Vec` took ≈ 270 bytes a series; varints against the
//!   previous entry take 12 bytes an entry and the allocation is exact.
//! - Entries are appended (a chunk is cut about every 30 min per series), read in order and
//!   dropped by a predicate at head truncation; no random access is needed, so `push` and
//!   `retain` rebuild the allocation (one copy of a few dozen bytes).
//! - Any [`MmapChunk`] round-trips (deltas wrap), ordered or not; in-order lists are smallest.
//!
//! Entry encoding, each field against the previous entry (the first against zeros):
//! `min_time - prev max_time` (zigzag varint), `max_time - min_time` (uvarint, wrapping),
//! `num_samples` (uvarint), `file - prev file` (zigzag varint), byte offset (uvarint).

use crate::chunkenc::bstream_util::{get_uvarint, get_varint, put_uvarint, put_varint};
use crate::head_chunks::MmapChunk;

/// Full head chunks of one series, oldest first.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub(crate) struct ChunkRefs {
    bytes: Box<[u8]>,
}

/// Decoder state: the previous entry's max time and file index.
#[derive(Clone, Copy, Default)]
struct Prev {
    max_time: i64,
    file: u32,
}

fn encode(out: &mut Vec<u8>, prev: Prev, c: &MmapChunk) {
    put_varint(out, c.min_time.wrapping_sub(prev.max_time));
    put_uvarint(out, c.max_time.wrapping_sub(c.min_time) as u64);
    put_uvarint(out, c.num_samples as u64);
    let file = (c.chunk_ref >> 32) as u32;
    put_varint(out, file.wrapping_sub(prev.file) as i32 as i64);
    put_uvarint(out, c.chunk_ref & 0xffff_ffff);
}

impl ChunkRefs {
    /// A list holding `chunks` in the given order.
    pub fn from_chunks(chunks: impl IntoIterator<Item = MmapChunk>) -> ChunkRefs {
        let mut out = Vec::new();
        let mut prev = Prev::default();
        for c in chunks {
            encode(&mut out, prev, &c);
            prev = Prev {
                max_time: c.max_time,
                file: (c.chunk_ref >> 32) as u32,
            };
        }
        ChunkRefs {
            bytes: out.into_boxed_slice(),
        }
    }

    /// The chunks, oldest first.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            bytes: &self.bytes,
            pos: 0,
            prev: Prev::default(),
        }
    }

    /// Number of chunks.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when there are no chunks.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The oldest chunk.
    pub fn first(&self) -> Option<MmapChunk> {
        self.iter().next()
    }

    /// Appends a chunk (after the newest).
    pub fn push(&mut self, c: MmapChunk) {
        let mut it = self.iter();
        for _ in &mut it {}
        let mut entry = Vec::with_capacity(32);
        encode(&mut entry, it.prev, &c);
        let mut v = Vec::with_capacity(self.bytes.len() + entry.len());
        v.extend_from_slice(&self.bytes);
        v.extend_from_slice(&entry);
        self.bytes = v.into_boxed_slice();
    }

    /// Keeps the chunks for which `keep` is true; returns how many were dropped.
    pub fn retain(&mut self, mut keep: impl FnMut(&MmapChunk) -> bool) -> usize {
        let (mut kept, mut dropped) = (Vec::new(), 0);
        for c in self.iter() {
            if keep(&c) {
                kept.push(c);
            } else {
                dropped += 1;
            }
        }
        if dropped > 0 {
            *self = ChunkRefs::from_chunks(kept);
        }
        dropped
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// Iterator over a [`ChunkRefs`] list.
pub(crate) struct Iter<'a> {
    bytes: &'a [u8],
    pos: usize,
    prev: Prev,
}

impl Iterator for Iter<'_> {
    type Item = MmapChunk;

    fn next(&mut self) -> Option<MmapChunk> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        const BUG: &str = "BUG: malformed chunk ref list";
        let (b, p) = (self.bytes, &mut self.pos);
        let min_time = get_varint(b, p)
            .expect(BUG)
            .wrapping_add(self.prev.max_time);
        let max_time = (get_uvarint(b, p).expect(BUG) as i64).wrapping_add(min_time);
        let num_samples = get_uvarint(b, p).expect(BUG) as u16;
        let file = (get_varint(b, p).expect(BUG) as i32 as u32).wrapping_add(self.prev.file);
        let offset = get_uvarint(b, p).expect(BUG);
        self.prev = Prev { max_time, file };
        Some(MmapChunk {
            min_time,
            max_time,
            chunk_ref: ((file as u64) << 32) | offset,
            num_samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunk(min_time: i64, max_time: i64, file: u32, offset: u32, n: u16) -> MmapChunk {
        MmapChunk {
            min_time,
            max_time,
            chunk_ref: ((file as u64) << 32) | offset as u64,
            num_samples: n,
        }
    }

    fn any_chunk() -> impl Strategy<Value = MmapChunk> {
        prop_oneof![
            (
                any::<i64>(),
                any::<i64>(),
                any::<u32>(),
                any::<u32>(),
                any::<u16>()
            )
                .prop_map(|(a, b, f, o, n)| chunk(a, b, f, o, n)),
            (
                0..1_000_000i64,
                0..2_000_000i64,
                0..4u32,
                0..(128u32 << 20),
                1..121u16
            )
                .prop_map(|(a, d, f, o, n)| chunk(a, a + d, f, o, n)),
        ]
    }

    proptest! {
        /// Pushes and retains against a `Vec` model.
        #[test]
        fn matches_a_vec(ops in proptest::collection::vec((any_chunk(), 0..4u8, any::<i64>()), 0..60)) {
            let mut refs = ChunkRefs::default();
            let mut model: Vec<MmapChunk> = Vec::new();
            for (c, op, cut) in ops {
                if op == 0 {
                    let dropped = refs.retain(|x| x.max_time >= cut);
                    let before = model.len();
                    model.retain(|x| x.max_time >= cut);
                    prop_assert_eq!(dropped, before - model.len());
                } else {
                    refs.push(c);
                    model.push(c);
                }
                prop_assert_eq!(refs.iter().collect::<Vec<_>>(), model.clone());
                prop_assert_eq!(refs.len(), model.len());
                prop_assert_eq!(refs.is_empty(), model.is_empty());
                prop_assert_eq!(refs.first(), model.first().copied());
            }
            prop_assert_eq!(ChunkRefs::from_chunks(model.iter().copied()), refs);
        }
    }

    #[test]
    fn in_order_chunks_take_about_twelve_bytes() {
        // Six 120-sample chunks at 15 s, as a series holds after 3 h of the standard workload.
        let t0 = 1_764_000_000_000i64;
        let chunks: Vec<MmapChunk> = (0..6)
            .map(|i| {
                let min = t0 + i * 1_800_000;
                chunk(
                    min,
                    min + 1_785_000,
                    1,
                    10_000_000 + i as u32 * 20_000_000,
                    120,
                )
            })
            .collect();
        let refs = ChunkRefs::from_chunks(chunks.iter().copied());
        assert_eq!(refs.iter().collect::<Vec<_>>(), chunks);
        // First entry: 6-byte time, 3-byte span, 1-byte count, 1-byte file, 4-byte offset;
        // then the 15 s gap to the previous chunk takes 3 bytes instead of the time's 6.
        assert_eq!(refs.heap_bytes(), 15 + 5 * 12);
    }
}
