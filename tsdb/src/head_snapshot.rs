//! The head snapshot written on clean shutdown (`<data>/head_snapshot`), so that a restart
//! loads the head instead of replaying the WAL. Format: FORMAT.md, "Head snapshot".
//!
//! Design constraints:
//! - The WAL stays the source of truth: the snapshot covers the WAL segments before
//!   `wal_segment` and start-up replays only the segments from there on. A snapshot that
//!   is torn, corrupt, of another version, made for other blocks, or that names a head
//!   chunk the chunk files no longer hold is ignored (logged) and the whole WAL replayed.
//! - It is written as `head_snapshot.tmp`, fsynced and renamed; start-up deletes it once the
//!   head is loaded (the WAL it shortcuts is still there), so it is never stale.
//! - Decoding arbitrary bytes never panics and allocates in proportion to the input.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::chunk_refs::ChunkRefs;
use crate::chunkenc::bstream_util::{get_uvarint, get_varint, put_uvarint, put_varint};
use crate::chunkenc::XorChunk;
use crate::db::{fsync_dir, Db};
use crate::error::Error;
use crate::head::{HeadIndex, MemSeries, OooSamples};
use crate::head_chunks::MmapChunk;

/// File name of the snapshot in the data directory.
pub const FILE_NAME: &str = "head_snapshot";
const MAGIC: [u8; 4] = *b"VHSN";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 8;

/// Why a snapshot could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Magic, version, length or checksum do not match: torn or not a snapshot.
    #[error("bad header or checksum: {0}")]
    Framing(String),
    /// The checksum matched but the body does not decode.
    #[error("malformed body: {0}")]
    Malformed(&'static str),
}

/// One series as stored in a snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnapSeries {
    /// The series' ref in the head and the WAL.
    pub series_ref: u64,
    /// (name, value) indexes into [`HeadSnapshot::symbols`], sorted by name.
    pub labels: Vec<(u32, u32)>,
    /// Newest in-order sample time; `i64::MIN` when none.
    pub last_t: i64,
    /// Value of that sample.
    pub last_v: f64,
    /// The open XOR chunk's bytes, first and last time; None when empty.
    pub open: Option<(Vec<u8>, i64, i64)>,
    /// Full chunks in head chunk files, oldest first.
    pub mmapped: Vec<MmapChunk>,
    /// Sorted out-of-order samples.
    pub ooo: Vec<(i64, f64)>,
}

/// A decoded snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeadSnapshot {
    /// First WAL segment not covered: replay starts there.
    pub wal_segment: u32,
    /// The head's lower bound (newest block end) when written.
    pub min_valid: i64,
    /// Label strings.
    pub symbols: Vec<String>,
    /// Series, in ref order.
    pub series: Vec<SnapSeries>,
}

/// What the snapshot of one series holds, read from a [`MemSeries`].
impl MemSeries {
    fn to_snap(&self, series_ref: u64) -> SnapSeries {
        SnapSeries {
            series_ref,
            labels: self.labels.to_vec(),
            last_t: self.last_t,
            last_v: self.last_v,
            open: (self.open.num_samples() > 0)
                .then(|| (self.open.bytes().to_vec(), self.open_min(), self.open_max())),
            mmapped: self.mmapped.iter().collect(),
            ooo: self.ooo.to_vec(),
        }
    }

    /// Restores the state a snapshot holds (labels are set at creation).
    fn restore(&mut self, s: SnapSeries) -> Result<(), SnapshotError> {
        if let Some((bytes, min, max)) = s.open {
            self.open =
                XorChunk::from_bytes(bytes).map_err(|_| SnapshotError::Malformed("open chunk"))?;
            if self.open.num_samples() == 0 || (self.open_min(), self.open_max()) != (min, max) {
                return Err(SnapshotError::Malformed("open chunk times"));
            }
        }
        self.mmapped = ChunkRefs::from_chunks(s.mmapped);
        self.ooo = OooSamples::from_vec(s.ooo);
        self.last_t = s.last_t;
        self.last_v = s.last_v;
        Ok(())
    }
}

/// Encodes the head into snapshot bytes (header, body, trailer).
pub(crate) fn encode(idx: &HeadIndex, wal_segment: u32, min_valid: i64) -> Vec<u8> {
    let mut b = Vec::with_capacity(64 + idx.num_series as usize * 256);
    b.extend_from_slice(&MAGIC);
    b.push(VERSION);
    b.extend_from_slice(&[0; 3]);
    b.extend_from_slice(&wal_segment.to_le_bytes());
    b.extend_from_slice(&min_valid.to_le_bytes());
    // Only the symbols live series use, renumbered densely.
    let mut remap: HashMap<u32, u32> = HashMap::new();
    let mut syms: Vec<u32> = Vec::new();
    for s in idx.series.iter().flatten() {
        for (n, v) in s.labels.iter() {
            for id in [n, v] {
                remap.entry(id).or_insert_with(|| {
                    syms.push(id);
                    syms.len() as u32 - 1
                });
            }
        }
    }
    put_uvarint(&mut b, syms.len() as u64);
    for &id in &syms {
        let s = idx.symbols.get(id);
        put_uvarint(&mut b, s.len() as u64);
        b.extend_from_slice(s.as_bytes());
    }
    put_uvarint(&mut b, idx.num_series);
    for (r, s) in idx.series.iter().enumerate() {
        let Some(s) = s else { continue };
        let mut snap = s.to_snap(r as u64);
        for l in snap.labels.iter_mut() {
            *l = (remap[&l.0], remap[&l.1]);
        }
        encode_series(&snap, &mut b);
    }
    let crc = crc32c::crc32c(&b[HEADER_LEN..]);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

fn encode_series(s: &SnapSeries, b: &mut Vec<u8>) {
    put_uvarint(b, s.series_ref);
    put_uvarint(b, s.labels.len() as u64);
    for &(n, v) in &s.labels {
        put_uvarint(b, n as u64);
        put_uvarint(b, v as u64);
    }
    put_varint(b, s.last_t);
    b.extend_from_slice(&s.last_v.to_bits().to_le_bytes());
    match &s.open {
        None => b.push(0),
        Some((bytes, min, max)) => {
            b.push(1);
            put_varint(b, *min);
            put_varint(b, max.wrapping_sub(*min));
            put_uvarint(b, bytes.len() as u64);
            b.extend_from_slice(bytes);
        }
    }
    put_uvarint(b, s.mmapped.len() as u64);
    for c in &s.mmapped {
        put_uvarint(b, c.chunk_ref);
        put_varint(b, c.min_time);
        put_varint(b, c.max_time.wrapping_sub(c.min_time));
        put_uvarint(b, c.num_samples as u64);
    }
    put_uvarint(b, s.ooo.len() as u64);
    for &(t, v) in &s.ooo {
        put_varint(b, t);
        b.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

/// Reads a count that announces at least `min_bytes` bytes per item from the rest of `p`.
fn count(p: &[u8], pos: &mut usize, min_bytes: usize) -> Result<usize, SnapshotError> {
    let n = get_uvarint(p, pos).ok_or(SnapshotError::Malformed("count"))?;
    if n.saturating_mul(min_bytes as u64) > (p.len() - *pos) as u64 {
        return Err(SnapshotError::Malformed("count beyond the end"));
    }
    Ok(n as usize)
}

fn uvar(p: &[u8], pos: &mut usize) -> Result<u64, SnapshotError> {
    get_uvarint(p, pos).ok_or(SnapshotError::Malformed("uvarint"))
}

fn var(p: &[u8], pos: &mut usize) -> Result<i64, SnapshotError> {
    get_varint(p, pos).ok_or(SnapshotError::Malformed("varint"))
}

fn bytes<'a>(p: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], SnapshotError> {
    let end = pos
        .checked_add(n)
        .ok_or(SnapshotError::Malformed("length"))?;
    let b = p.get(*pos..end).ok_or(SnapshotError::Malformed("length"))?;
    *pos = end;
    Ok(b)
}

fn f64_le(p: &[u8], pos: &mut usize) -> Result<f64, SnapshotError> {
    let b = bytes(p, pos, 8)?;
    Ok(f64::from_bits(u64::from_le_bytes(
        b.try_into().expect("8 bytes"),
    )))
}

/// Decodes snapshot bytes, checking magic, version, checksum and every field.
pub fn decode(data: &[u8]) -> Result<HeadSnapshot, SnapshotError> {
    if data.len() < HEADER_LEN + 12 + 4 || data[0..4] != MAGIC {
        return Err(SnapshotError::Framing("not a head snapshot".into()));
    }
    if data[5..8] != [0; 3] {
        return Err(SnapshotError::Framing("nonzero header padding".into()));
    }
    if data[4] != VERSION {
        return Err(SnapshotError::Framing(format!(
            "version {} (this build reads {VERSION})",
            data[4]
        )));
    }
    let (body, crc) = data[HEADER_LEN..].split_at(data.len() - HEADER_LEN - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err(SnapshotError::Framing("checksum mismatch".into()));
    }
    let p = body;
    let mut pos = 0;
    let wal_segment = u32::from_le_bytes(bytes(p, &mut pos, 4)?.try_into().expect("4"));
    let min_valid = i64::from_le_bytes(bytes(p, &mut pos, 8)?.try_into().expect("8"));
    let nsym = count(p, &mut pos, 1)?;
    let mut symbols = Vec::with_capacity(nsym);
    for _ in 0..nsym {
        let n = uvar(p, &mut pos)? as usize;
        let s = std::str::from_utf8(bytes(p, &mut pos, n)?)
            .map_err(|_| SnapshotError::Malformed("symbol not UTF-8"))?;
        symbols.push(s.to_string());
    }
    let nseries = count(p, &mut pos, 12)?;
    let mut series = Vec::with_capacity(nseries);
    for _ in 0..nseries {
        series.push(decode_series(p, &mut pos, symbols.len())?);
    }
    if pos != p.len() {
        return Err(SnapshotError::Malformed("trailing bytes"));
    }
    if series
        .windows(2)
        .any(|w| w[0].series_ref >= w[1].series_ref)
    {
        return Err(SnapshotError::Malformed("series refs not ascending"));
    }
    Ok(HeadSnapshot {
        wal_segment,
        min_valid,
        symbols,
        series,
    })
}

fn decode_series(p: &[u8], pos: &mut usize, nsym: usize) -> Result<SnapSeries, SnapshotError> {
    let series_ref = uvar(p, pos)?;
    if series_ref >= u32::MAX as u64 {
        return Err(SnapshotError::Malformed("series ref"));
    }
    let nl = count(p, pos, 2)?;
    let mut labels = Vec::with_capacity(nl);
    for _ in 0..nl {
        let (n, v) = (uvar(p, pos)?, uvar(p, pos)?);
        if n >= nsym as u64 || v >= nsym as u64 {
            return Err(SnapshotError::Malformed("symbol index"));
        }
        labels.push((n as u32, v as u32));
    }
    let last_t = var(p, pos)?;
    let last_v = f64_le(p, pos)?;
    let open = match bytes(p, pos, 1)?[0] {
        0 => None,
        1 => {
            let min = var(p, pos)?;
            let max = min.wrapping_add(var(p, pos)?);
            let n = uvar(p, pos)? as usize;
            Some((bytes(p, pos, n)?.to_vec(), min, max))
        }
        _ => return Err(SnapshotError::Malformed("open chunk flag")),
    };
    let nm = count(p, pos, 4)?;
    let mut mmapped = Vec::with_capacity(nm);
    for _ in 0..nm {
        let chunk_ref = uvar(p, pos)?;
        let min_time = var(p, pos)?;
        let max_time = min_time.wrapping_add(var(p, pos)?);
        let num_samples = u16::try_from(uvar(p, pos)?)
            .map_err(|_| SnapshotError::Malformed("chunk sample count"))?;
        mmapped.push(MmapChunk {
            min_time,
            max_time,
            chunk_ref,
            num_samples,
        });
    }
    let no = count(p, pos, 9)?;
    let mut ooo = Vec::with_capacity(no);
    for _ in 0..no {
        ooo.push((var(p, pos)?, f64_le(p, pos)?));
    }
    Ok(SnapSeries {
        series_ref,
        labels,
        last_t,
        last_v,
        open,
        mmapped,
        ooo,
    })
}

/// Writes `bytes` as the snapshot of `dir` (tmp file, fsync, rename, fsync dir).
pub(crate) fn write(dir: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    let fin = dir.join(FILE_NAME);
    fs::rename(&tmp, &fin).map_err(|e| Error::io(&fin, e))?;
    fsync_dir(dir)
}

/// Deletes the snapshot (and a leftover `.tmp`) of `dir`, durably.
pub(crate) fn remove(dir: &Path) -> Result<(), Error> {
    let mut removed = false;
    for p in [dir.join(FILE_NAME), dir.join(format!("{FILE_NAME}.tmp"))] {
        match fs::remove_file(&p) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&p, e)),
        }
    }
    if removed {
        fsync_dir(dir)?;
    }
    Ok(())
}

/// Reads and decodes the snapshot of `dir`; None (logged) when absent or unusable.
pub(crate) fn read(dir: &Path) -> Option<HeadSnapshot> {
    let path: PathBuf = dir.join(FILE_NAME);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the head snapshot; replaying the whole WAL");
            return None;
        }
    };
    match decode(&data) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "head snapshot unusable; replaying the whole WAL");
            None
        }
    }
}

/// Loads a snapshot into an empty head. `on_disk` holds the head chunks found in the chunk
/// files per series ref; every chunk the snapshot names must be among them (the entries of
/// loaded series are removed from it). On error the head is left empty.
pub(crate) fn load(
    snap: HeadSnapshot,
    idx: &mut HeadIndex,
    on_disk: &mut HashMap<u64, Vec<MmapChunk>>,
) -> Result<(), SnapshotError> {
    for s in &snap.series {
        if s.mmapped.is_empty() {
            continue;
        }
        let have = on_disk.get(&s.series_ref).map_or(&[][..], |v| &v[..]);
        // Both lists are in write order: the snapshot's must be a subsequence of the files'.
        let mut it = have.iter();
        if !s.mmapped.iter().all(|c| it.any(|h| h == c)) {
            return Err(SnapshotError::Malformed(
                "names a head chunk the chunk files do not hold",
            ));
        }
    }
    let refs: Vec<u64> = snap.series.iter().map(|s| s.series_ref).collect();
    let restored = (|| {
        for s in snap.series {
            let pairs: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|&(n, v)| {
                    (
                        snap.symbols[n as usize].as_str(),
                        snap.symbols[v as usize].as_str(),
                    )
                })
                .collect();
            if pairs.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err(SnapshotError::Malformed("labels not sorted"));
            }
            let fp = crate::labels::fingerprint_refs(&pairs);
            if idx.find(fp).is_some() {
                return Err(SnapshotError::Malformed("duplicate series"));
            }
            let r = s.series_ref as u32;
            idx.create(fp, &pairs, Some(r));
            idx.num_mmapped_chunks += s.mmapped.len() as u64;
            let ms = idx.series[r as usize]
                .as_mut()
                .expect("BUG: series just created");
            ms.restore(s)?;
        }
        Ok(())
    })();
    match restored {
        Ok(()) => {
            for r in refs {
                on_disk.remove(&r);
            }
        }
        Err(_) => {
            *idx = HeadIndex {
                next_ref: idx.next_ref,
                ..HeadIndex::default()
            }
        }
    }
    restored
}

/// Loads the snapshot of `dir` into an empty head when it is usable for this directory
/// (same blocks, WAL from its segment on still present); returns the first WAL segment
/// to replay, or None for a full replay.
pub(crate) fn load_on_open(
    dir: &Path,
    min_valid: i64,
    checkpoint: Option<u32>,
    idx: &mut HeadIndex,
    on_disk: &mut HashMap<u64, Vec<MmapChunk>>,
) -> Option<u32> {
    let snap = read(dir)?;
    let why = if snap.min_valid != min_valid {
        "it was written for other blocks"
    } else if checkpoint.is_some_and(|c| c >= snap.wal_segment) {
        "a WAL checkpoint covers segments after it"
    } else {
        let seg = snap.wal_segment;
        match load(snap, idx, on_disk) {
            Ok(()) => return Some(seg),
            Err(SnapshotError::Malformed(w)) => w,
            Err(SnapshotError::Framing(_)) => "bad framing",
        }
    };
    tracing::warn!(
        reason = why,
        "head snapshot not used; replaying the whole WAL"
    );
    None
}

impl Db {
    /// Clean shutdown: flushes the head chunk files, fsyncs and closes the WAL segment and
    /// writes the head snapshot, so the next open replays no WAL written before this call.
    /// The database stays usable (later appends are replayed after the snapshot).
    pub fn close(&self) -> Result<(), Error> {
        let _m = self.maintenance_lock.lock();
        let mut st = self.head.write();
        self.chunks.lock().flush()?;
        let seg = st.wal.cut_segment()?;
        let bytes = encode(&st.idx, seg, st.min_valid);
        write(&self.dir, &bytes)?;
        // The snapshot holds no tombstones: they are re-logged in the segment replayed after it.
        Db::log_head_tombstones(&mut st)?;
        tracing::info!(
            series = st.idx.num_series,
            bytes = bytes.len(),
            wal_segment = seg,
            "wrote head snapshot"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
