//! Immutable blocks: `meta.json`, chunk segment files and an index with postings.
//!
//! Design constraints:
//! - A block is written under `<ulid>.tmp`, fsynced and renamed: a reader never sees half a block.
//! - Every index section carries a CRC32C, verified at open; every chunk carries one, verified
//!   on each read. Readers return `Error::Corrupt`, never panic, on malformed files.
//! - Index and chunks are read through mmap; only symbols and the postings offset table are
//!   decoded into memory at open.

mod chunks;
mod index;
mod meta;
mod series_entry;

pub use chunks::{ChunkReader, ChunkWriter};
pub use index::{write_block, Block, BlockInfo};
pub use meta::{new_ulid, BlockMeta};

use std::borrow::Cow;

use memmap2::{Mmap, UncheckedAdvice};

/// Drops this process's page-table entries for `m`, a read-only mapping of an immutable file:
/// the pages stay in the page cache and the next read faults them back in, so a pass over a
/// whole block (a checksum at open, a compaction) does not stay in resident memory.
fn release_mapped(m: &Mmap) {
    if m.is_empty() {
        return;
    }
    // SAFETY: `m` maps a file read-only and shared; MADV_DONTNEED on such a mapping only
    // unmaps pages, their contents are re-read from the same unchanged file on access.
    let _ = unsafe { m.unchecked_advise(UncheckedAdvice::DontNeed) };
}

/// Where a chunk of a series lives in a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkMeta {
    /// First sample time (ms).
    pub min_time: i64,
    /// Last sample time (ms).
    pub max_time: i64,
    /// (segment << 32) | offset in the block's chunk files.
    pub chunk_ref: u64,
}

/// A chunk handed to the block writer.
#[derive(Clone, Debug)]
pub struct ChunkData<'a> {
    /// First sample time (ms).
    pub min_time: i64,
    /// Last sample time (ms).
    pub max_time: i64,
    /// Encoding byte (see `chunkenc`).
    pub encoding: u8,
    /// Encoded bytes.
    pub data: Cow<'a, [u8]>,
}
