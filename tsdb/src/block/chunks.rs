//! Chunk segment files of a block (`chunks/000001`…), Prometheus' block chunk layout.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::chunkenc::bstream_util::{get_uvarint, put_uvarint};
use crate::error::Error;

const MAGIC: u32 = 0x85BD_40DD;
const VERSION: u8 = 1;
const HEADER_LEN: u64 = 8;
/// Largest chunk segment file.
pub const MAX_SEGMENT_BYTES: u64 = 512 << 20;

/// Writes chunks into numbered segment files.
pub struct ChunkWriter {
    dir: PathBuf,
    seq: u32,
    w: Option<BufWriter<File>>,
    size: u64,
}

impl ChunkWriter {
    /// Starts writing segments into `dir` (created).
    pub fn new(dir: &Path) -> Result<ChunkWriter, Error> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(ChunkWriter {
            dir: dir.to_path_buf(),
            seq: 0,
            w: None,
            size: 0,
        })
    }

    /// Appends one chunk; returns its reference.
    pub fn write(&mut self, encoding: u8, data: &[u8]) -> Result<u64, Error> {
        let mut head = Vec::with_capacity(11);
        put_uvarint(&mut head, data.len() as u64);
        let rec = head.len() as u64 + 1 + data.len() as u64 + 4;
        if self.w.is_none() || self.size + rec > MAX_SEGMENT_BYTES {
            self.finish_segment()?;
            self.seq += 1;
            let path = self.dir.join(format!("{:06}", self.seq));
            let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            let mut hdr = [0u8; HEADER_LEN as usize];
            hdr[0..4].copy_from_slice(&MAGIC.to_be_bytes());
            hdr[4] = VERSION;
            w.write_all(&hdr).map_err(|e| Error::io(&path, e))?;
            self.w = Some(w);
            self.size = HEADER_LEN;
        }
        let r = ((self.seq as u64) << 32) | self.size;
        let path = self.dir.join(format!("{:06}", self.seq));
        let w = self.w.as_mut().expect("segment open");
        let crc = crc32c::crc32c_append(crc32c::crc32c(&[encoding]), data);
        w.write_all(&head)
            .and_then(|_| w.write_all(&[encoding]))
            .and_then(|_| w.write_all(data))
            .and_then(|_| w.write_all(&crc.to_be_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        self.size += rec;
        Ok(r)
    }

    fn finish_segment(&mut self) -> Result<(), Error> {
        if let Some(w) = self.w.take() {
            let path = self.dir.join(format!("{:06}", self.seq));
            let f = w
                .into_inner()
                .map_err(|e| Error::io(&path, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    /// Flushes and fsyncs the last segment.
    pub fn finish(mut self) -> Result<(), Error> {
        self.finish_segment()
    }
}

/// Reads chunks of a block through mmap.
pub struct ChunkReader {
    dir: PathBuf,
    segments: Vec<Mmap>,
}

impl ChunkReader {
    /// Maps every segment in `dir`, checking headers.
    pub fn open(dir: &Path) -> Result<ChunkReader, Error> {
        let mut names: Vec<(u32, PathBuf)> = fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
            .collect();
        names.sort();
        let mut segments = Vec::new();
        for (i, (seq, path)) in names.into_iter().enumerate() {
            if seq as usize != i + 1 {
                return Err(Error::Corrupt {
                    path,
                    detail: "chunk segments are not numbered 1..n".into(),
                });
            }
            let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
            // SAFETY: block files are immutable once renamed into place.
            let m = unsafe { Mmap::map(&f) }.map_err(|e| Error::io(&path, e))?;
            if m.len() < HEADER_LEN as usize
                || u32::from_be_bytes(m[0..4].try_into().expect("4")) != MAGIC
                || m[4] != VERSION
            {
                return Err(Error::Corrupt {
                    path,
                    detail: "bad chunk segment header".into(),
                });
            }
            segments.push(m);
        }
        Ok(ChunkReader {
            dir: dir.to_path_buf(),
            segments,
        })
    }

    /// Releases the segments' resident pages (see [`super::release_mapped`]).
    pub fn release_pages(&self) {
        self.segments.iter().for_each(super::release_mapped);
    }

    /// The encoding and bytes of chunk `r`, CRC verified.
    pub fn chunk(&self, r: u64) -> Result<(u8, &[u8]), Error> {
        let seq = (r >> 32) as usize;
        let off = (r & 0xffff_ffff) as usize;
        let bad = |d: &str| Error::Corrupt {
            path: self.dir.join(format!("{seq:06}")),
            detail: format!("chunk at {off}: {d}"),
        };
        let m = seq
            .checked_sub(1)
            .and_then(|i| self.segments.get(i))
            .ok_or_else(|| bad("no such segment"))?;
        if off < HEADER_LEN as usize || off >= m.len() {
            return Err(bad("offset out of range"));
        }
        let mut pos = off;
        let len = get_uvarint(m, &mut pos).ok_or_else(|| bad("bad length"))? as usize;
        let end = pos.checked_add(1 + len).ok_or_else(|| bad("bad length"))?;
        if end + 4 > m.len() {
            return Err(bad("truncated"));
        }
        let want = u32::from_be_bytes(m[end..end + 4].try_into().expect("4"));
        if crc32c::crc32c(&m[pos..end]) != want {
            return Err(bad("checksum mismatch"));
        }
        Ok((m[pos], &m[pos + 1..end]))
    }
}
