//! WAL segment files: writing, torn-tail repair, replay and checkpoints.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::record::{
    decode_record, encode_samples, encode_series, sample_columns_span, series_all_kept, Record,
    RECORD_OOO_SAMPLES, RECORD_SAMPLES, RECORD_SERIES, RECORD_TOMBSTONES,
};
use crate::db::fsync_dir;
use crate::error::Error;

const MAGIC: [u8; 4] = *b"VWAL";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 8;
/// len u32 | crc32c u32 | type u8
const REC_HEAD: usize = 9;
/// Flag bit in the type byte: payload is zstd-compressed.
const COMPRESSED: u8 = 0x80;
/// Payloads at least this long are compressed.
const COMPRESS_MIN: usize = 256;

/// WAL settings.
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// Largest segment file in bytes.
    pub segment_bytes: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 128 << 20,
        }
    }
}

/// What a replay read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayStats {
    /// Records decoded.
    pub records: u64,
    /// Segments read (checkpoint segments included).
    pub segments: u64,
    /// Index of the checkpoint replayed first, if any.
    pub checkpoint: Option<u32>,
    /// True when the newest segment ended in a torn or corrupt record.
    pub torn_tail: bool,
}

/// What a checkpoint kept.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckpointStats {
    /// Series records kept.
    pub series: u64,
    /// Samples kept.
    pub samples: u64,
    /// Segments deleted.
    pub segments_deleted: u64,
}

/// The WAL writer: appends records to the newest segment.
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    index: u32,
    file: File,
    /// Bytes of the current segment already written to the OS.
    size: u64,
    buf: Vec<u8>,
    zbuf: Vec<u8>,
    zstd: zstd::bulk::Compressor<'static>,
    bytes_written: u64,
}

fn seg_path(dir: &Path, i: u32) -> PathBuf {
    dir.join(format!("{i:08}"))
}

/// Segment indexes in `dir`, ascending.
fn list_segments(dir: &Path) -> Result<Vec<u32>, Error> {
    let mut v: Vec<u32> = fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| {
            let n = e.file_name().to_str()?.to_string();
            (n.len() == 8).then(|| n.parse().ok()).flatten()
        })
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// Newest complete checkpoint (index, path); removes leftover `.tmp` checkpoints.
fn last_checkpoint(dir: &Path) -> Result<Option<(u32, PathBuf)>, Error> {
    let mut best: Option<(u32, PathBuf)> = None;
    for e in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix("checkpoint.") else {
            continue;
        };
        if rest.ends_with(".tmp") {
            fs::remove_dir_all(e.path()).map_err(|err| Error::io(e.path(), err))?;
            continue;
        }
        if let Ok(i) = rest.parse::<u32>() {
            if best.as_ref().is_none_or(|b| i > b.0) {
                best = Some((i, e.path()));
            }
        }
    }
    Ok(best)
}

/// Walks the records of one segment, read as a stream (memory: the largest record, not the
/// file), handing `f` each record's type (without the compression flag), payload (decompressed)
/// and bytes as stored; returns the length of the valid prefix and whether a torn or corrupt
/// record ends it.
fn scan(
    path: &Path,
    mut r: impl Read,
    size: u64,
    mut f: impl FnMut(u8, &[u8], &[u8]) -> Result<(), Error>,
) -> Result<(usize, bool), Error> {
    let io = |e| Error::io(path, e);
    let mut hdr = [0u8; HEADER_LEN];
    let n = read_full(&mut r, &mut hdr).map_err(io)?;
    if n < HEADER_LEN || hdr[0..4] != MAGIC || hdr[4] != VERSION {
        return Ok((0, n > 0));
    }
    let mut off = HEADER_LEN;
    let mut rec = Vec::new();
    let mut zbuf = Vec::new();
    let mut dctx: Option<zstd::bulk::Decompressor<'static>> = None;
    loop {
        let mut head = [0u8; 8];
        match read_full(&mut r, &mut head).map_err(io)? {
            0 => return Ok((off, false)),
            8 => {}
            _ => return Ok((off, true)),
        }
        let len = u32::from_le_bytes(head[0..4].try_into().expect("4")) as usize;
        let crc = u32::from_le_bytes(head[4..8].try_into().expect("4"));
        // A length beyond the file is a torn or corrupt record; never allocate for it.
        if len == 0 || (off + 8 + len) as u64 > size {
            return Ok((off, true));
        }
        rec.resize(len, 0);
        if read_full(&mut r, &mut rec).map_err(io)? < len || crc32c::crc32c(&rec) != crc {
            return Ok((off, true));
        }
        let typ = rec[0];
        let payload = &rec[1..];
        if typ & COMPRESSED != 0 {
            let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(payload) else {
                return Ok((off, true));
            };
            if size > 1 << 30 {
                return Ok((off, true));
            }
            zbuf.clear();
            zbuf.reserve(size as usize);
            if dctx.is_none() {
                dctx = Some(zstd::bulk::Decompressor::new().map_err(io)?);
            }
            let d = dctx.as_mut().expect("just set");
            if d.decompress_to_buffer(payload, &mut zbuf).is_err() {
                return Ok((off, true));
            }
            f(typ & !COMPRESSED, &zbuf, &rec)?;
        } else {
            f(typ, payload, &rec)?;
        }
        off += 8 + len;
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Opens a segment for a streaming scan: a buffered reader and the file's size.
fn open_segment(path: &Path) -> Result<(BufReader<File>, u64), Error> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    Ok((BufReader::with_capacity(1 << 20, file), size))
}

/// Replays the records of one segment file into `f`; `last` tolerates a torn tail.
fn replay_file(
    path: &Path,
    last: bool,
    stats: &mut ReplayStats,
    f: &mut impl FnMut(Record) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut records = 0;
    read_file(path, last, stats, |typ, payload, _| {
        let Some(r) = decode_record(typ, payload) else {
            return Ok(false);
        };
        records += 1;
        f(r)?;
        Ok(true)
    })?;
    stats.records += records;
    Ok(())
}

/// Walks the records of one segment as [`replay_file`] does, handing `f` each record's type,
/// payload and stored bytes; `f` answers whether the record could be decoded.
fn read_file(
    path: &Path,
    last: bool,
    stats: &mut ReplayStats,
    mut f: impl FnMut(u8, &[u8], &[u8]) -> Result<bool, Error>,
) -> Result<(), Error> {
    let (reader, size) = open_segment(path)?;
    let mut bad_record: Option<usize> = None;
    let mut pos_err = 0usize;
    let (valid, torn) = scan(path, reader, size, |typ, payload, stored| {
        pos_err += 1;
        if !f(typ, payload, stored)? {
            bad_record.get_or_insert(pos_err);
        }
        Ok(())
    })?;
    stats.segments += 1;
    if let Some(n) = bad_record {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!("record {n} has a valid checksum but cannot be decoded"),
        });
    }
    if torn {
        if last {
            stats.torn_tail = true;
            tracing::warn!(file = %path.display(), valid, len = size, "WAL ends in a torn record; replay stops there");
        } else {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                detail: format!("corrupt record at offset {valid}"),
            });
        }
    }
    Ok(())
}

/// Replays the newest checkpoint, then every later segment, in order.
pub fn replay(
    dir: &Path,
    f: impl FnMut(Record) -> Result<(), Error>,
) -> Result<ReplayStats, Error> {
    replay_from(dir, None, f)
}

/// Index of the newest complete checkpoint in `dir`, if any (leftover `.tmp` ones are removed).
pub fn checkpoint_index(dir: &Path) -> Result<Option<u32>, Error> {
    if !dir.exists() {
        return Ok(None);
    }
    Ok(last_checkpoint(dir)?.map(|c| c.0))
}

/// As [`replay`] when `first` is None; else replays only the segments numbered `first` and
/// later (what a head snapshot covering the segments before `first` leaves).
///
/// Reading, decompressing and decoding run on a thread of their own, a few records ahead of
/// `f`, which runs on the caller's thread in WAL order.
pub fn replay_from(
    dir: &Path,
    first: Option<u32>,
    mut f: impl FnMut(Record) -> Result<(), Error>,
) -> Result<ReplayStats, Error> {
    if !dir.exists() {
        return Ok(ReplayStats::default());
    }
    const BATCH: usize = 16;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(8);
        let reader = scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let stats = replay_files(dir, first, &mut |rec| {
                batch.push(rec);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.send(full).map_err(|_| Error::Closed)?;
                }
                Ok(())
            })?;
            if !batch.is_empty() {
                tx.send(batch).map_err(|_| Error::Closed)?;
            }
            Ok::<_, Error>(stats)
        });
        let mut applied = Ok(());
        'recv: for batch in rx.iter() {
            for rec in batch {
                if let Err(e) = f(rec) {
                    applied = Err(e);
                    break 'recv;
                }
            }
        }
        drop(rx); // stops the reader at its next send when `f` failed
        let read = reader.join().expect("BUG: WAL reader thread panicked");
        applied?;
        read
    })
}

/// Reads the records `replay_from` hands out, in order, into `f`.
fn replay_files(
    dir: &Path,
    first: Option<u32>,
    f: &mut impl FnMut(Record) -> Result<(), Error>,
) -> Result<ReplayStats, Error> {
    let mut stats = ReplayStats::default();
    let from = match first {
        Some(first) => first,
        None => {
            let cp = last_checkpoint(dir)?;
            if let Some((i, path)) = &cp {
                stats.checkpoint = Some(*i);
                let segs = list_segments(path)?;
                for (k, s) in segs.iter().enumerate() {
                    replay_file(&seg_path(path, *s), k + 1 == segs.len(), &mut stats, f)?;
                }
            }
            cp.map_or(0, |c| c.0 + 1)
        }
    };
    let segs: Vec<u32> = list_segments(dir)?
        .into_iter()
        .filter(|&s| s >= from)
        .collect();
    for (k, s) in segs.iter().enumerate() {
        replay_file(&seg_path(dir, *s), k + 1 == segs.len(), &mut stats, f)?;
    }
    Ok(stats)
}

impl Wal {
    /// Opens the WAL in `dir`: repairs a torn tail of the newest segment, starts a new segment.
    pub fn open(dir: &Path, opts: WalOptions) -> Result<Wal, Error> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let cp = last_checkpoint(dir)?;
        let segs = list_segments(dir)?;
        if let Some(&last) = segs.last() {
            let path = seg_path(dir, last);
            let (reader, size) = open_segment(&path)?;
            let (valid, torn) = scan(&path, reader, size, |_, _, _| Ok(()))?;
            if torn {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                f.set_len(valid as u64).map_err(|e| Error::io(&path, e))?;
                f.sync_all().map_err(|e| Error::io(&path, e))?;
                tracing::warn!(file = %path.display(), valid, "repaired torn WAL tail");
            }
        }
        let index = segs.last().copied().unwrap_or(0).max(cp.map_or(0, |c| c.0)) + 1;
        let file = create_segment(dir, index)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            opts,
            index,
            file,
            size: HEADER_LEN as u64,
            buf: Vec::with_capacity(1 << 20),
            zbuf: Vec::new(),
            zstd: zstd::bulk::Compressor::new(1).map_err(|e| Error::io(dir, e))?,
            bytes_written: 0,
        })
    }

    /// Buffers one record; `flush` writes it to the OS.
    pub fn log(&mut self, rec_type: u8, payload: &[u8]) -> Result<(), Error> {
        let compress = payload.len() >= COMPRESS_MIN;
        if compress {
            // Into the kept buffer: `compress` would allocate a new vector per record.
            self.zbuf.clear();
            self.zbuf
                .reserve(zstd::zstd_safe::compress_bound(payload.len()));
            self.zstd
                .compress_to_buffer(payload, &mut self.zbuf)
                .map_err(|e| Error::io(&self.dir, e))?;
        }
        let body_len = if compress {
            self.zbuf.len()
        } else {
            payload.len()
        };
        self.make_room((REC_HEAD + body_len) as u64)?;
        let (typ, body): (u8, &[u8]) = if compress {
            (rec_type | COMPRESSED, &self.zbuf)
        } else {
            (rec_type, payload)
        };
        let len = (1 + body.len()) as u32;
        let crc = crc32c::crc32c_append(crc32c::crc32c(&[typ]), body);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf.push(typ);
        self.buf.extend_from_slice(body);
        Ok(())
    }

    /// Starts a new segment when a record of `rec_len` bytes would not fit in this non-empty one.
    fn make_room(&mut self, rec_len: u64) -> Result<(), Error> {
        let used = self.size + self.buf.len() as u64;
        if used + rec_len > self.opts.segment_bytes && used > HEADER_LEN as u64 {
            self.cut_segment()?;
        }
        Ok(())
    }

    /// Buffers a record as another segment stored it (type byte, then the payload as stored,
    /// compressed or not), so that a checkpoint keeps a record without re-encoding it.
    fn log_stored(&mut self, stored: &[u8]) -> Result<(), Error> {
        self.make_room((8 + stored.len()) as u64)?;
        self.buf
            .extend_from_slice(&(stored.len() as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&crc32c::crc32c(stored).to_le_bytes());
        self.buf.extend_from_slice(stored);
        Ok(())
    }

    /// Writes buffered records to the OS (they then survive `kill -9`).
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let path = seg_path(&self.dir, self.index);
        self.file
            .write_all(&self.buf)
            .map_err(|e| Error::io(&path, e))?;
        self.size += self.buf.len() as u64;
        self.bytes_written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Flushes and fsyncs the current segment.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.flush()?;
        self.file
            .sync_data()
            .map_err(|e| Error::io(seg_path(&self.dir, self.index), e))
    }

    /// Index of the segment being written.
    pub fn current_segment(&self) -> u32 {
        self.index
    }

    /// Indexes of the segment files present.
    pub fn segments(&self) -> Result<Vec<u32>, Error> {
        list_segments(&self.dir)
    }

    /// Fsyncs and closes the current segment, starts the next; returns the new index.
    pub fn cut_segment(&mut self) -> Result<u32, Error> {
        self.sync()?;
        self.index += 1;
        self.file = create_segment(&self.dir, self.index)?;
        self.size = HEADER_LEN as u64;
        Ok(self.index)
    }

    /// Bytes written to segment files since open.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
}

fn create_segment(dir: &Path, index: u32) -> Result<File, Error> {
    let path = seg_path(dir, index);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let mut hdr = [0u8; HEADER_LEN];
    hdr[0..4].copy_from_slice(&MAGIC);
    hdr[4] = VERSION;
    f.write_all(&hdr).map_err(|e| Error::io(&path, e))?;
    fsync_dir(dir)?;
    Ok(f)
}

/// Condenses the previous checkpoint and segments ≤ `upto` into `checkpoint.<upto>`, keeping
/// series for which `keep_series` holds and their samples at or after `mint`; then deletes them.
pub fn checkpoint(
    dir: &Path,
    upto: u32,
    keep_series: impl Fn(u64) -> bool,
    mint: i64,
) -> Result<CheckpointStats, Error> {
    let mut stats = CheckpointStats::default();
    let prev = last_checkpoint(dir)?;
    let segs: Vec<u32> = list_segments(dir)?
        .into_iter()
        .filter(|&s| s <= upto && prev.as_ref().is_none_or(|p| s > p.0))
        .collect();
    if segs.is_empty() && prev.as_ref().is_none_or(|p| p.0 >= upto) {
        return Ok(stats);
    }
    let tmp = dir.join(format!("checkpoint.{upto:08}.tmp"));
    fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut out = Wal::open(
        &tmp,
        WalOptions {
            segment_bytes: u64::MAX,
        },
    )?;
    let mut payload = Vec::new();
    // Series records whose series are all kept are copied as stored; sample records wholly
    // before `mint` are dropped, and those wholly at or after it whose series are all kept
    // are copied as stored, without decoding their values. The others are decoded,
    // filtered and encoded again. `copy` answers Some(whether the record decodes) when it
    // handled the record, None when the record takes that last way.
    let copy = |typ: u8,
                p: &[u8],
                stored: &[u8],
                out: &mut Wal,
                stats: &mut CheckpointStats|
     -> Result<Option<bool>, Error> {
        if typ == RECORD_SERIES {
            return Ok(match series_all_kept(p, &keep_series) {
                None => Some(false),
                Some((n, true)) => {
                    stats.series += n as u64;
                    if n > 0 {
                        out.log_stored(stored)?;
                        out.flush()?;
                    }
                    Some(true)
                }
                Some((_, false)) => None,
            });
        }
        if typ != RECORD_SAMPLES && typ != RECORD_OOO_SAMPLES {
            return Ok(None);
        }
        let Some(span) = sample_columns_span(p, &keep_series) else {
            return Ok(Some(false));
        };
        if span.n == 0 || span.max_t < mint {
            return Ok(Some(true));
        }
        if span.min_t >= mint && span.all_kept {
            stats.samples += span.n as u64;
            out.log_stored(stored)?;
            out.flush()?;
            return Ok(Some(true));
        }
        Ok(None)
    };
    let mut write =
        |rec: Record, out: &mut Wal, stats: &mut CheckpointStats| -> Result<(), Error> {
            payload.clear();
            let typ = if matches!(rec, Record::Samples(_)) {
                RECORD_SAMPLES
            } else {
                RECORD_OOO_SAMPLES
            };
            match rec {
                Record::Series(mut v) => {
                    v.retain(|s| keep_series(s.series_ref));
                    stats.series += v.len() as u64;
                    encode_series(&v, &mut payload);
                    if !payload.is_empty() {
                        out.log(RECORD_SERIES, &payload)?;
                    }
                }
                Record::Tombstones(mut v) => {
                    // Kept while the head holds the series and the interval reaches `mint`.
                    v.retain(|&(r, _, maxt)| maxt >= mint && keep_series(r));
                    crate::tombstones::encode_entries(&v, &mut payload);
                    if !payload.is_empty() {
                        out.log(RECORD_TOMBSTONES, &payload)?;
                    }
                }
                Record::Samples(mut v) | Record::OooSamples(mut v) => {
                    v.retain(|s| s.t >= mint && keep_series(s.series_ref));
                    stats.samples += v.len() as u64;
                    encode_samples(&v, &mut payload);
                    if !payload.is_empty() {
                        out.log(typ, &payload)?;
                    }
                }
            }
            out.flush()
        };
    let mut rs = ReplayStats::default();
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    if let Some((_, p)) = &prev {
        let cs = list_segments(p)?;
        files.extend(
            cs.iter()
                .enumerate()
                .map(|(k, s)| (seg_path(p, *s), k + 1 == cs.len())),
        );
    }
    files.extend(segs.iter().map(|s| (seg_path(dir, *s), false)));
    for (path, last) in files {
        read_file(&path, last, &mut rs, |typ, p, stored| {
            if let Some(decodable) = copy(typ, p, stored, &mut out, &mut stats)? {
                return Ok(decodable);
            }
            let Some(r) = decode_record(typ, p) else {
                return Ok(false);
            };
            write(r, &mut out, &mut stats)?;
            Ok(true)
        })?;
    }
    out.sync()?;
    drop(out);
    fsync_dir(&tmp)?;
    let fin = dir.join(format!("checkpoint.{upto:08}"));
    fs::rename(&tmp, &fin).map_err(|e| Error::io(&fin, e))?;
    fsync_dir(dir)?;
    for s in list_segments(dir)?.into_iter().filter(|&s| s <= upto) {
        let p = seg_path(dir, s);
        fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        stats.segments_deleted += 1;
    }
    if let Some((_, p)) = prev {
        fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::super::record::{encode_series_refs, SampleRecord, SeriesRecord};
    use super::*;

    fn samples(r: u64, t: i64) -> Vec<u8> {
        let mut b = Vec::new();
        encode_samples(
            &[SampleRecord {
                series_ref: r,
                t,
                v: t as f64,
            }],
            &mut b,
        );
        b
    }

    fn collect(dir: &Path) -> (Vec<Record>, ReplayStats) {
        let mut v = Vec::new();
        let st = replay(dir, |r| {
            v.push(r);
            Ok(())
        })
        .unwrap();
        (v, st)
    }

    #[test]
    fn torn_tail_recovers_prefix_at_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let mut b = Vec::new();
        encode_series_refs(1, &[("a", "b")], &mut b);
        w.log(RECORD_SERIES, &b).unwrap();
        for t in 0..20 {
            w.log(RECORD_SAMPLES, &samples(1, t)).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let seg = seg_path(dir.path(), 1);
        let full = fs::read(&seg).unwrap();
        let (all, _) = collect(dir.path());
        assert_eq!(all.len(), 21);
        for n in 0..full.len() {
            for flip in [false, true] {
                let mut d = full[..n].to_vec();
                if flip && n > HEADER_LEN {
                    d[n - 1] ^= 0xa5;
                }
                fs::write(&seg, &d).unwrap();
                let (got, st) = collect(dir.path());
                assert!(got.len() <= all.len());
                assert_eq!(got[..], all[..got.len()], "cut at {n} flip {flip}");
                assert!(
                    st.torn_tail
                        || got.len() == all.len()
                        || n <= HEADER_LEN
                        || got.len() < all.len()
                );
            }
        }
        // Open repairs the tail and starts a new segment; replay then sees a clean old segment.
        fs::write(&seg, &full[..full.len() - 3]).unwrap();
        let mut w = Wal::open(dir.path(), WalOptions::default()).unwrap();
        assert_eq!(w.current_segment(), 2);
        w.log(RECORD_SAMPLES, &samples(1, 100)).unwrap();
        w.flush().unwrap();
        let (got, st) = collect(dir.path());
        assert_eq!(got.len(), 21);
        assert!(!st.torn_tail);
    }

    #[test]
    fn corruption_in_an_older_segment_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), WalOptions::default()).unwrap();
        w.log(RECORD_SAMPLES, &samples(1, 1)).unwrap();
        w.cut_segment().unwrap();
        w.log(RECORD_SAMPLES, &samples(1, 2)).unwrap();
        w.flush().unwrap();
        let seg = seg_path(dir.path(), 1);
        let mut d = fs::read(&seg).unwrap();
        let n = d.len();
        d[n - 2] ^= 1;
        fs::write(&seg, d).unwrap();
        assert!(matches!(
            replay(dir.path(), |_| Ok(())),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn segments_roll_over_and_checkpoint_keeps_what_it_should() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), WalOptions { segment_bytes: 200 }).unwrap();
        let mut b = Vec::new();
        encode_series_refs(1, &[("a", "1")], &mut b);
        encode_series_refs(2, &[("a", "2")], &mut b);
        w.log(RECORD_SERIES, &b).unwrap();
        for t in 0..40 {
            w.log(RECORD_SAMPLES, &samples(1 + (t as u64 % 2), t))
                .unwrap();
            w.flush().unwrap();
        }
        let upto = w.current_segment() - 1;
        assert!(upto > 3, "segments should roll over");
        let st = checkpoint(dir.path(), upto, |r| r == 1, 20).unwrap();
        assert!(st.segments_deleted >= 3);
        let (got, stats) = collect(dir.path());
        assert_eq!(stats.checkpoint, Some(upto));
        let mut ts = Vec::new();
        for r in got {
            match r {
                Record::Series(s) => assert!(s.iter().all(|s| s.series_ref == 1)),
                Record::Samples(s) => {
                    ts.extend(s.iter().filter(|s| s.series_ref == 1).map(|s| s.t))
                }
                Record::OooSamples(_) | Record::Tombstones(_) => unreachable!(),
            }
        }
        // Series 1 samples kept from t >= 20 plus all in the live segment.
        ts.sort_unstable();
        ts.dedup();
        assert_eq!(ts, (20..40).step_by(2).collect::<Vec<i64>>());
        // A leftover tmp checkpoint (crash mid-checkpoint) is ignored and removed.
        fs::create_dir_all(dir.path().join("checkpoint.00000099.tmp")).unwrap();
        let (_, stats) = collect(dir.path());
        assert_eq!(stats.checkpoint, Some(upto));
        assert!(!dir.path().join("checkpoint.00000099.tmp").exists());
        // A second checkpoint replaces the first.
        w.flush().unwrap();
        let upto2 = w.cut_segment().unwrap() - 1;
        checkpoint(dir.path(), upto2, |_| true, 0).unwrap();
        assert!(!dir.path().join(format!("checkpoint.{upto:08}")).exists());
    }

    #[test]
    fn checkpoint_drops_copies_or_filters_sample_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let mint = 1000;
        // Series 3 is not kept. Records of 100 samples are compressed, of 2 are not.
        let cases: [(&[u64], i64, i64, bool); 7] = [
            (&[1, 2], 0, 900, false),     // wholly before mint: dropped
            (&[1, 2], 1000, 1990, false), // wholly after, series kept: copied
            (&[1, 2], 950, 1040, false),  // straddles mint: filtered
            (&[1, 3], 1000, 1990, false), // a series not kept: filtered
            (&[2, 1], 2000, 2990, true),  // out-of-order record: copied
            (&[1], 3000, 3001, false),    // short, uncompressed: copied
            (&[2, 3], 3000, 3001, true),  // short, a series not kept: filtered
        ];
        let mut want = Vec::new();
        // Series records: all kept (copied), one not kept (filtered).
        for refs in [[1u64, 2], [3, 2]] {
            let recs: Vec<SeriesRecord> = refs
                .iter()
                .map(|&r| SeriesRecord {
                    series_ref: r,
                    labels: crate::labels::Labels::from_pairs(&[("a", &r.to_string())]),
                })
                .collect();
            let mut b = Vec::new();
            encode_series(&recs, &mut b);
            w.log(RECORD_SERIES, &b).unwrap();
            want.push(Record::Series(
                recs.into_iter().filter(|s| s.series_ref != 3).collect(),
            ));
        }
        for (refs, from, to, ooo) in cases {
            let n = (to - from + 1) as usize;
            let step = if n > 2 { 10 } else { 1 };
            let recs: Vec<SampleRecord> = (0..n.min(100))
                .map(|i| SampleRecord {
                    series_ref: refs[i % refs.len()],
                    t: from + i as i64 * step,
                    v: (i as f64).sqrt(),
                })
                .collect();
            let kind = if ooo {
                Record::OooSamples as fn(Vec<SampleRecord>) -> Record
            } else {
                Record::Samples
            };
            let kept: Vec<SampleRecord> = recs
                .iter()
                .filter(|s| s.t >= mint && s.series_ref != 3)
                .copied()
                .collect();
            if !kept.is_empty() {
                want.push(kind(kept));
            }
            let mut b = Vec::new();
            encode_samples(&recs, &mut b);
            let typ = if ooo {
                RECORD_OOO_SAMPLES
            } else {
                RECORD_SAMPLES
            };
            w.log(typ, &b).unwrap();
        }
        let upto = w.cut_segment().unwrap() - 1;
        let st = checkpoint(dir.path(), upto, |r| r != 3, mint).unwrap();
        let (got, _) = collect(dir.path());
        assert_eq!(got, want);
        let kept: usize = want
            .iter()
            .map(|r| match r {
                Record::Samples(v) | Record::OooSamples(v) => v.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(st.samples, kept as u64);
        assert_eq!(st.series, 3);
    }
}
