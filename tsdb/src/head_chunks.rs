//! Memory-mapped head chunk files: full chunks leave the heap and live in append-only files.
//!
//! Design constraints:
//! - Files are `chunks_head/NNNNNN`, at most [`MAX_FILE_BYTES`] each; written with `write(2)`
//!   through a buffer and read through `mmap`, so full chunks cost page cache, not heap.
//! - Every record carries a CRC32C; a torn tail (crash mid-write) is cut off on open.
//! - The WAL stays the source of truth: these files only spare WAL replay the decoding and
//!   re-encoding of full chunks. A file is deleted once every chunk in it is older than the
//!   head's lower bound (its data is in a block).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::Error;

/// Largest head chunk file before a new one is started.
pub const MAX_FILE_BYTES: u64 = 128 << 20;
const MAGIC: u32 = 0x5648_4331; // "VHC1"
const VERSION: u8 = 1;
const HEADER_LEN: usize = 8;
/// series_ref u64 | min_time i64 | max_time i64 | num_samples u16 | encoding u8 | len u32
const REC_HEAD: usize = 8 + 8 + 8 + 2 + 1 + 4;

/// Where a full head chunk lives: (file index << 32) | byte offset of its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapChunk {
    /// Time of the first sample (ms).
    pub min_time: i64,
    /// Time of the last sample (ms).
    pub max_time: i64,
    /// File and offset reference.
    pub chunk_ref: u64,
    /// Number of samples in the chunk.
    pub num_samples: u16,
}

struct ChunkFile {
    index: u32,
    path: PathBuf,
    /// Bytes known to be on disk (flushed); the mapping covers at most this.
    len: u64,
    map: Option<Mmap>,
    /// Largest chunk max_time in the file: the file can go once this is below the head bound.
    max_time: i64,
}

/// The set of head chunk files with one being appended to.
pub struct HeadChunks {
    dir: PathBuf,
    files: Vec<ChunkFile>,
    writer: Option<BufWriter<File>>,
    /// Bytes in `writer` not yet written to the OS.
    buffered: u64,
    bytes_written: u64,
}

impl HeadChunks {
    /// Opens `dir`, validating every file; returns the chunks found per series ref.
    pub fn open(dir: &Path) -> Result<(HeadChunks, HashMap<u64, Vec<MmapChunk>>), Error> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut indexes: Vec<u32> = fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
            .collect();
        indexes.sort_unstable();
        let mut found: HashMap<u64, Vec<MmapChunk>> = HashMap::new();
        let mut files = Vec::new();
        for index in indexes {
            let path = dir.join(format!("{index:06}"));
            let data = fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let (valid_len, max_time) = scan_file(&data, index, &mut found);
            if (valid_len as usize) < data.len() {
                tracing::warn!(file = %path.display(), valid_len, len = data.len(),
                    "head chunk file has a torn or corrupt tail; truncating");
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                f.set_len(valid_len).map_err(|e| Error::io(&path, e))?;
            }
            files.push(ChunkFile {
                index,
                path,
                len: valid_len,
                map: None,
                max_time,
            });
        }
        for v in found.values_mut() {
            v.sort_by_key(|c| c.min_time);
        }
        let hc = HeadChunks {
            dir: dir.to_path_buf(),
            files,
            writer: None,
            buffered: 0,
            bytes_written: 0,
        };
        Ok((hc, found))
    }

    /// Appends a chunk of series `series_ref`; returns its location. Buffered: call `flush` before reads.
    pub fn write(
        &mut self,
        series_ref: u64,
        min_time: i64,
        max_time: i64,
        num_samples: u16,
        encoding: u8,
        data: &[u8],
    ) -> Result<MmapChunk, Error> {
        let rec_len = (REC_HEAD + data.len() + 4) as u64;
        let need_new = match self.files.last() {
            None => true,
            Some(f) => self.writer.is_none() || f.len + self.buffered + rec_len > MAX_FILE_BYTES,
        };
        if need_new {
            self.start_file()?;
        }
        let f = self
            .files
            .last_mut()
            .expect("BUG: no head chunk file after start_file");
        let offset = f.len + self.buffered;
        let mut head = [0u8; REC_HEAD];
        head[0..8].copy_from_slice(&series_ref.to_le_bytes());
        head[8..16].copy_from_slice(&min_time.to_le_bytes());
        head[16..24].copy_from_slice(&max_time.to_le_bytes());
        head[24..26].copy_from_slice(&num_samples.to_le_bytes());
        head[26] = encoding;
        head[27..31].copy_from_slice(&(data.len() as u32).to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&head), data);
        let w = self
            .writer
            .as_mut()
            .expect("BUG: head chunk writer missing");
        let path = &f.path;
        w.write_all(&head).map_err(|e| Error::io(path, e))?;
        w.write_all(data).map_err(|e| Error::io(path, e))?;
        w.write_all(&crc.to_le_bytes())
            .map_err(|e| Error::io(path, e))?;
        self.buffered += rec_len;
        self.bytes_written += rec_len;
        f.max_time = f.max_time.max(max_time);
        Ok(MmapChunk {
            min_time,
            max_time,
            chunk_ref: ((f.index as u64) << 32) | offset,
            num_samples,
        })
    }

    fn start_file(&mut self) -> Result<(), Error> {
        self.flush()?;
        let index = self.files.last().map_or(1, |f| f.index + 1);
        let path = self.dir.join(format!("{index:06}"));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut hdr = [0u8; HEADER_LEN];
        hdr[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        hdr[4] = VERSION;
        file.write_all(&hdr).map_err(|e| Error::io(&path, e))?;
        self.files.push(ChunkFile {
            index,
            path,
            len: HEADER_LEN as u64,
            map: None,
            max_time: i64::MIN,
        });
        self.writer = Some(BufWriter::with_capacity(256 << 10, file));
        self.buffered = 0;
        Ok(())
    }

    /// Writes buffered records to the OS.
    pub fn flush(&mut self) -> Result<(), Error> {
        if let Some(w) = self.writer.as_mut() {
            let f = self.files.last_mut().expect("BUG: writer without file");
            w.flush().map_err(|e| Error::io(&f.path, e))?;
            f.len += self.buffered;
            self.buffered = 0;
        }
        Ok(())
    }

    /// Bytes of chunk data written since open (for self-metrics).
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Total size of the files on disk.
    pub fn size_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum::<u64>() + self.buffered
    }

    /// Calls `f` with the encoding and bytes of the chunk at `chunk_ref` (CRC verified).
    pub fn with_chunk<R>(
        &mut self,
        chunk_ref: u64,
        f: impl FnOnce(u8, &[u8]) -> R,
    ) -> Result<R, Error> {
        let index = (chunk_ref >> 32) as u32;
        let offset = (chunk_ref & 0xffff_ffff) as usize;
        let pos = self
            .files
            .iter()
            .position(|f| f.index == index)
            .ok_or_else(|| Error::Corrupt {
                path: self.dir.join(format!("{index:06}")),
                detail: "reference to a deleted head chunk file".into(),
            })?;
        if pos + 1 == self.files.len() && self.buffered > 0 && offset as u64 >= self.files[pos].len
        {
            self.flush()?;
        }
        let file = &mut self.files[pos];
        let mapped = file.map.as_ref().map_or(0, |m| m.len());
        if offset + REC_HEAD > mapped || mapped < file.len as usize {
            let fd = File::open(&file.path).map_err(|e| Error::io(&file.path, e))?;
            // SAFETY: the file is append-only while mapped; bytes below `len` never change.
            file.map = Some(unsafe { Mmap::map(&fd) }.map_err(|e| Error::io(&file.path, e))?);
        }
        let m = file.map.as_ref().expect("BUG: mapping missing");
        let bad = |d: &str| Error::Corrupt {
            path: file.path.clone(),
            detail: format!("chunk at offset {offset}: {d}"),
        };
        if offset + REC_HEAD > m.len() {
            return Err(bad("beyond end of file"));
        }
        let head = &m[offset..offset + REC_HEAD];
        let len = u32::from_le_bytes(head[27..31].try_into().expect("4 bytes")) as usize;
        let end = offset + REC_HEAD + len;
        if end + 4 > m.len() {
            return Err(bad("truncated"));
        }
        let data = &m[offset + REC_HEAD..end];
        let want = u32::from_le_bytes(m[end..end + 4].try_into().expect("4 bytes"));
        if crc32c::crc32c_append(crc32c::crc32c(head), data) != want {
            return Err(bad("checksum mismatch"));
        }
        Ok(f(head[26], data))
    }

    /// Drops every file mapping (remapped on the next read), so pages touched by a bulk read
    /// such as a block cut stop counting in the process' resident memory.
    pub fn release_maps(&mut self) {
        for f in &mut self.files {
            f.map = None;
        }
    }

    /// Deletes files whose chunks all end before `mint`; starts a new file so the current one can go later.
    pub fn truncate_before(&mut self, mint: i64) -> Result<(), Error> {
        if self.files.last().is_some_and(|f| f.max_time < mint) {
            self.flush()?;
            self.writer = None;
        }
        let keep_last = self.writer.is_some();
        let n = self.files.len();
        let mut kept = Vec::with_capacity(n);
        for (i, f) in self.files.drain(..).enumerate() {
            let is_current = keep_last && i + 1 == n;
            if !is_current && f.max_time < mint {
                drop(f.map);
                fs::remove_file(&f.path).map_err(|e| Error::io(&f.path, e))?;
            } else {
                kept.push(f);
            }
        }
        self.files = kept;
        Ok(())
    }
}

/// Validates records of one file, recording chunks; returns (valid length, max time).
fn scan_file(data: &[u8], index: u32, found: &mut HashMap<u64, Vec<MmapChunk>>) -> (u64, i64) {
    if data.len() < HEADER_LEN
        || u32::from_be_bytes(data[0..4].try_into().expect("4")) != MAGIC
        || data[4] != VERSION
    {
        return (0, i64::MIN);
    }
    let mut off = HEADER_LEN;
    let mut max_time = i64::MIN;
    while off + REC_HEAD + 4 <= data.len() {
        let head = &data[off..off + REC_HEAD];
        let len = u32::from_le_bytes(head[27..31].try_into().expect("4")) as usize;
        let end = off + REC_HEAD + len;
        if end + 4 > data.len() {
            break;
        }
        let want = u32::from_le_bytes(data[end..end + 4].try_into().expect("4"));
        if crc32c::crc32c_append(crc32c::crc32c(head), &data[off + REC_HEAD..end]) != want {
            break;
        }
        let series_ref = u64::from_le_bytes(head[0..8].try_into().expect("8"));
        let min_time = i64::from_le_bytes(head[8..16].try_into().expect("8"));
        let mt = i64::from_le_bytes(head[16..24].try_into().expect("8"));
        let num_samples = u16::from_le_bytes(head[24..26].try_into().expect("2"));
        max_time = max_time.max(mt);
        found.entry(series_ref).or_default().push(MmapChunk {
            min_time,
            max_time: mt,
            chunk_ref: ((index as u64) << 32) | off as u64,
            num_samples,
        });
        off = end + 4;
    }
    (off as u64, max_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_reopen_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (mut hc, found) = HeadChunks::open(dir.path()).unwrap();
        assert!(found.is_empty());
        let a = hc.write(7, 0, 10, 3, 1, b"abc").unwrap();
        let b = hc.write(8, 5, 20, 2, 1, b"defgh").unwrap();
        assert_eq!(
            hc.with_chunk(b.chunk_ref, |e, d| (e, d.to_vec())).unwrap(),
            (1, b"defgh".to_vec())
        );
        let c = hc.write(7, 11, 30, 4, 1, b"ij").unwrap();
        assert_eq!(
            hc.with_chunk(c.chunk_ref, |_, d| d.to_vec()).unwrap(),
            b"ij"
        );
        assert_eq!(
            hc.with_chunk(a.chunk_ref, |_, d| d.to_vec()).unwrap(),
            b"abc"
        );
        hc.flush().unwrap();
        drop(hc);
        // Tear the last record.
        let path = dir.path().join("000001");
        let len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 2)
            .unwrap();
        let (mut hc, found) = HeadChunks::open(dir.path()).unwrap();
        assert_eq!(found[&7], vec![a]);
        assert_eq!(found[&8], vec![b]);
        assert_eq!(
            hc.with_chunk(a.chunk_ref, |_, d| d.to_vec()).unwrap(),
            b"abc"
        );
        // New writes go to a new file; truncation removes the old one.
        let d = hc.write(9, 100, 200, 1, 1, b"z").unwrap();
        assert_eq!(d.chunk_ref >> 32, 2);
        hc.truncate_before(50).unwrap();
        assert!(!path.exists());
        assert_eq!(hc.with_chunk(d.chunk_ref, |_, d| d.to_vec()).unwrap(), b"z");
    }
}
