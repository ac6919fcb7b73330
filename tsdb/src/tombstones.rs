//! Tombstones: deleted time intervals per series, for the head (WAL record) and for blocks
//! (a `tombstones` file). Formats: FORMAT.md, "Tombstones".
//!
//! Design constraints:
//! - Intervals are inclusive `[mint, maxt]`, kept sorted and merged (touching ones too).
//! - A block's file is written as `tombstones.tmp`, fsynced and renamed; a missing file means
//!   no tombstones. Decoding arbitrary bytes never panics.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use crate::chunkenc::bstream_util::{get_uvarint, get_varint, put_uvarint, put_varint};
use crate::error::Error;

/// File name of a block's tombstones.
pub const FILE_NAME: &str = "tombstones";
const MAGIC: [u8; 4] = [0x01, 0x30, 0xBA, 0x30];
const VERSION: u8 = 1;

/// Sorted, merged, inclusive deleted intervals of one series.
pub type Intervals = Vec<(i64, i64)>;

/// Adds `[mint, maxt]` to `iv`, keeping it sorted and merged.
pub fn add_interval(iv: &mut Intervals, mint: i64, maxt: i64) {
    if mint > maxt {
        return;
    }
    iv.push((mint, maxt));
    iv.sort_unstable();
    let mut out: Intervals = Vec::with_capacity(iv.len());
    for &(a, b) in iv.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *iv = out;
}

/// Whether `t` lies in one of `iv`.
pub fn is_deleted(iv: &[(i64, i64)], t: i64) -> bool {
    let i = iv.partition_point(|x| x.1 < t);
    iv.get(i).is_some_and(|x| x.0 <= t)
}

/// Whether `iv` covers all of `[mint, maxt]`.
pub fn covers(iv: &[(i64, i64)], mint: i64, maxt: i64) -> bool {
    let i = iv.partition_point(|x| x.1 < mint);
    iv.get(i).is_some_and(|x| x.0 <= mint && x.1 >= maxt)
}

/// Removes samples lying in `iv` from `samples`.
pub fn filter_samples(iv: &[(i64, i64)], samples: &mut Vec<(i64, f64)>) {
    if !iv.is_empty() {
        samples.retain(|s| !is_deleted(iv, s.0));
    }
}

/// Deleted intervals by series ref (head ref or block series id).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tombstones {
    map: HashMap<u64, Intervals>,
}

impl Tombstones {
    /// Adds an interval for one series.
    pub fn add(&mut self, series_ref: u64, mint: i64, maxt: i64) {
        add_interval(self.map.entry(series_ref).or_default(), mint, maxt);
    }

    /// Adds all intervals of `other`.
    pub fn merge(&mut self, other: &Tombstones) {
        for (r, iv) in &other.map {
            for &(a, b) in iv {
                self.add(*r, a, b);
            }
        }
    }

    /// The intervals of one series (empty when none).
    pub fn get(&self, series_ref: u64) -> &[(i64, i64)] {
        self.map.get(&series_ref).map_or(&[], |v| v.as_slice())
    }

    /// Whether there are no tombstones.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of intervals.
    pub fn num_intervals(&self) -> usize {
        self.map.values().map(Vec::len).sum()
    }

    /// Keeps the series for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(u64) -> bool) {
        self.map.retain(|r, _| keep(*r));
    }

    /// `(ref, mint, maxt)` entries, sorted by ref then time.
    pub fn entries(&self) -> Vec<(u64, i64, i64)> {
        let mut out: Vec<(u64, i64, i64)> = self
            .map
            .iter()
            .flat_map(|(r, iv)| iv.iter().map(move |&(a, b)| (*r, a, b)))
            .collect();
        out.sort_unstable();
        out
    }
}

/// Encodes `(ref, mint, maxt)` entries: uvarint ref, varint mint, varint maxt each.
pub fn encode_entries(entries: &[(u64, i64, i64)], buf: &mut Vec<u8>) {
    for &(r, a, b) in entries {
        put_uvarint(buf, r);
        put_varint(buf, a);
        put_varint(buf, b);
    }
}

/// Decodes entries written by [`encode_entries`]; None when malformed.
pub fn decode_entries(p: &[u8]) -> Option<Vec<(u64, i64, i64)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < p.len() {
        let r = get_uvarint(p, &mut pos)?;
        let a = get_varint(p, &mut pos)?;
        let b = get_varint(p, &mut pos)?;
        if a > b {
            return None;
        }
        out.push((r, a, b));
    }
    Some(out)
}

/// The bytes of a tombstones file: magic, version, entries, CRC32C of the entries.
pub fn encode_file(t: &Tombstones) -> Vec<u8> {
    let mut b = MAGIC.to_vec();
    b.push(VERSION);
    encode_entries(&t.entries(), &mut b);
    let crc = crc32c::crc32c(&b[MAGIC.len() + 1..]);
    b.extend_from_slice(&crc.to_be_bytes());
    b
}

/// Decodes a tombstones file; an error message when it is not one.
pub fn decode_file(b: &[u8]) -> Result<Tombstones, String> {
    if b.len() < MAGIC.len() + 1 + 4 || b[..4] != MAGIC {
        return Err("bad magic or length".into());
    }
    if b[4] != VERSION {
        return Err(format!("unknown version {}", b[4]));
    }
    let body = &b[5..b.len() - 4];
    let crc = u32::from_be_bytes(b[b.len() - 4..].try_into().expect("4 bytes"));
    if crc32c::crc32c(body) != crc {
        return Err("checksum mismatch".into());
    }
    let entries = decode_entries(body).ok_or("malformed entries")?;
    let mut t = Tombstones::default();
    for (r, a, b) in entries {
        t.add(r, a, b);
    }
    Ok(t)
}

/// Reads the tombstones of the block in `dir`; empty when it has no file.
pub fn read_block(dir: &Path) -> Result<Tombstones, Error> {
    let path = dir.join(FILE_NAME);
    match fs::read(&path) {
        Ok(b) => decode_file(&b).map_err(|detail| Error::Corrupt { path, detail }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tombstones::default()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Writes the tombstones of the block in `dir` atomically (tmp, fsync, rename, fsync dir).
pub fn write_block(dir: &Path, t: &Tombstones) -> Result<(), Error> {
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    let path = dir.join(FILE_NAME);
    let mut f = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(&encode_file(t))
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    crate::db::fsync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_merge_and_query() {
        let mut iv = Intervals::new();
        add_interval(&mut iv, 10, 20);
        add_interval(&mut iv, 30, 40);
        add_interval(&mut iv, 21, 25);
        assert_eq!(iv, vec![(10, 25), (30, 40)]);
        add_interval(&mut iv, 5, 35);
        assert_eq!(iv, vec![(5, 40)]);
        add_interval(&mut iv, 50, 49);
        assert_eq!(iv, vec![(5, 40)]);
        assert!(is_deleted(&iv, 5) && is_deleted(&iv, 40) && !is_deleted(&iv, 41));
        assert!(covers(&iv, 6, 39) && !covers(&iv, 0, 10));
        let mut s = vec![(4, 1.0), (5, 2.0), (40, 3.0), (41, 4.0)];
        filter_samples(&iv, &mut s);
        assert_eq!(s, vec![(4, 1.0), (41, 4.0)]);
        let mut all = Intervals::new();
        add_interval(&mut all, i64::MIN, i64::MAX);
        add_interval(&mut all, 0, 1);
        assert_eq!(all, vec![(i64::MIN, i64::MAX)]);
    }

    #[test]
    fn file_golden_and_corruption() {
        let mut t = Tombstones::default();
        t.add(2, -1, 1000);
        t.add(1, 0, 0);
        let b = encode_file(&t);
        // magic, version, (1, 0, 0), (2, -1, 1000), CRC32C big-endian.
        assert_eq!(&b[..5], &[0x01, 0x30, 0xBA, 0x30, 1]);
        assert_eq!(&b[5..12], &[1, 0, 0, 2, 1, 0xD0, 0x0F]);
        assert_eq!(b.len(), 16);
        assert_eq!(decode_file(&b), Ok(t.clone()));
        for n in 0..b.len() {
            assert!(decode_file(&b[..n]).is_err());
        }
        let mut bad = b.clone();
        bad[6] ^= 1;
        assert!(decode_file(&bad).is_err());
        let dir = tempfile::tempdir().unwrap();
        assert!(read_block(dir.path()).unwrap().is_empty());
        write_block(dir.path(), &t).unwrap();
        assert_eq!(read_block(dir.path()).unwrap(), t);
    }
}
