//! The block index (symbols, series, postings) and the block writer/reader.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::chunks::{ChunkReader, ChunkWriter};
use super::meta::{new_ulid, BlockMeta};
use super::series_entry::{get_chunks_into, get_v1, get_v2_into, put_chunks, put_v2, Entry, GROUP};
use super::{ChunkData, ChunkMeta};
use crate::chunkenc::bstream_util::{get_uvarint, put_uvarint};
use crate::db::fsync_dir;
use crate::error::Error;
use crate::labels::{Label, Labels};
use crate::matcher::Matcher;
use crate::postings::{select_postings, PostingsSource};

const MAGIC: [u8; 4] = *b"VIDX";
/// The version written; version 1 (one offset per series, entries self-contained) is read too.
const VERSION: u8 = 2;
const HEADER_LEN: usize = 8;
const SECTIONS: usize = 5;
const TOC_LEN: usize = SECTIONS * 8 + 4;

/// Writes a block under `parent` from label-sorted series; returns its metadata.
pub fn write_block<'a>(
    parent: &Path,
    min_time: i64,
    max_time: i64,
    level: u32,
    sources: Vec<String>,
    series: impl Iterator<Item = (Labels, Vec<(ChunkData<'a>, u32)>)>,
) -> Result<BlockMeta, Error> {
    let ulid = new_ulid();
    let tmp = parent.join(format!("{ulid}.tmp"));
    let res = write_block_into(&tmp, &ulid, min_time, max_time, level, sources, series);
    let meta = match res {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let fin = parent.join(&ulid);
    fs::rename(&tmp, &fin).map_err(|e| Error::io(&fin, e))?;
    fsync_dir(parent)?;
    Ok(meta)
}

#[allow(clippy::type_complexity)]
fn write_block_into<'a>(
    dir: &Path,
    ulid: &str,
    min_time: i64,
    max_time: i64,
    level: u32,
    mut sources: Vec<String>,
    series: impl Iterator<Item = (Labels, Vec<(ChunkData<'a>, u32)>)>,
) -> Result<BlockMeta, Error> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut cw = ChunkWriter::new(&dir.join("chunks"))?;
    let mut syms: HashMap<String, u32> = HashMap::new();
    let mut sym_list: Vec<String> = Vec::new();
    // Each series is coded at once with symbol ids in first-seen order (the final ids, in
    // string order, are known only after the last series) and recoded below: a few dozen
    // bytes a series instead of its label and chunk-meta vectors (≈ 200 bytes with their
    // allocations) held until the end.
    let mut local: Vec<u8> = Vec::new();
    let mut local_postings: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
    let (mut num_series, mut num_samples, mut num_chunks) = (0u32, 0u64, 0u64);
    let mut prev: Option<Labels> = None;
    let mut intern = |s: &str, syms: &mut HashMap<String, u32>| -> u32 {
        if let Some(&i) = syms.get(s) {
            return i;
        }
        let i = sym_list.len() as u32;
        sym_list.push(s.to_string());
        syms.insert(s.to_string(), i);
        i
    };
    let mut ls: Vec<(u32, u32)> = Vec::new();
    let mut metas: Vec<ChunkMeta> = Vec::new();
    for (labels, chunks) in series {
        if prev.as_ref().is_some_and(|p| *p >= labels) {
            return Err(Error::InvalidArgument(format!(
                "block series not sorted at {labels}"
            )));
        }
        ls.clear();
        ls.extend(
            labels
                .iter()
                .map(|l| (intern(&l.name, &mut syms), intern(&l.value, &mut syms))),
        );
        metas.clear();
        for (c, n) in chunks {
            let r = cw.write(c.encoding, &c.data)?;
            metas.push(ChunkMeta {
                min_time: c.min_time,
                max_time: c.max_time,
                chunk_ref: r,
            });
            num_samples += n as u64;
            num_chunks += 1;
        }
        put_local(&mut local, &ls, &metas, min_time);
        for &pair in &ls {
            local_postings.entry(pair).or_default().push(num_series);
        }
        num_series += 1;
        prev = Some(labels);
    }
    drop(syms);
    cw.finish()?;
    // Symbols sorted: symbol order is string order.
    let mut order: Vec<u32> = (0..sym_list.len() as u32).collect();
    order.sort_by(|&a, &b| sym_list[a as usize].cmp(&sym_list[b as usize]));
    let mut remap = vec![0u32; sym_list.len()];
    for (new, &old) in order.iter().enumerate() {
        remap[old as usize] = new as u32;
    }
    let mut sections: Vec<Vec<u8>> = vec![Vec::new(); SECTIONS];
    put_uvarint(&mut sections[0], order.len() as u64);
    for &old in &order {
        let s = &sym_list[old as usize];
        put_uvarint(&mut sections[0], s.len() as u64);
        sections[0].extend_from_slice(s.as_bytes());
    }
    drop(sym_list);
    let postings: BTreeMap<(u32, u32), Vec<u32>> = local_postings
        .into_iter()
        .map(|((n, v), ids)| ((remap[n as usize], remap[v as usize]), ids))
        .collect();
    sections[2].extend_from_slice(&num_series.to_le_bytes());
    let (mut prev, mut cur) = (Entry::default(), Entry::default());
    let mut pos = 0;
    for id in 0..num_series as usize {
        if id % GROUP == 0 {
            let group_off = sections[1].len() as u32;
            sections[2].extend_from_slice(&group_off.to_le_bytes());
            prev = Entry::default();
        }
        get_local(&local, &mut pos, min_time, &mut cur.labels, &mut cur.chunks);
        for l in cur.labels.iter_mut() {
            *l = (remap[l.0 as usize], remap[l.1 as usize]);
        }
        cur.last_ref = cur.chunks.last().map_or(prev.last_ref, |m| m.chunk_ref);
        put_v2(&mut sections[1], &prev, &cur, min_time);
        std::mem::swap(&mut prev, &mut cur);
    }
    drop(local);
    let num_series = num_series as u64;
    put_uvarint(&mut sections[4], postings.len() as u64);
    for ((n, v), ids) in &postings {
        put_uvarint(&mut sections[4], *n as u64);
        put_uvarint(&mut sections[4], *v as u64);
        let poff = sections[3].len() as u64;
        put_uvarint(&mut sections[4], poff);
        put_postings(&mut sections[3], ids);
    }
    let path = dir.join("index");
    let mut f = std::io::BufWriter::new(File::create(&path).map_err(|e| Error::io(&path, e))?);
    let mut hdr = [0u8; HEADER_LEN];
    hdr[0..4].copy_from_slice(&MAGIC);
    hdr[4] = VERSION;
    let mut off = HEADER_LEN as u64;
    let mut toc = Vec::with_capacity(TOC_LEN);
    let io = |e| Error::io(&path, e);
    f.write_all(&hdr).map_err(io)?;
    for s in &sections {
        toc.extend_from_slice(&off.to_le_bytes());
        f.write_all(&(s.len() as u32).to_le_bytes()).map_err(io)?;
        f.write_all(s).map_err(io)?;
        f.write_all(&crc32c::crc32c(s).to_le_bytes()).map_err(io)?;
        off += 8 + s.len() as u64;
    }
    let crc = crc32c::crc32c(&toc);
    toc.extend_from_slice(&crc.to_le_bytes());
    f.write_all(&toc).map_err(io)?;
    let f = f
        .into_inner()
        .map_err(|e| Error::io(&path, e.into_error()))?;
    f.sync_all().map_err(|e| Error::io(&path, e))?;
    sources.sort();
    let meta = BlockMeta {
        ulid: ulid.to_string(),
        min_time,
        max_time,
        num_samples,
        num_series,
        num_chunks,
        level,
        sources,
    };
    let mp = dir.join("meta.json");
    fs::write(&mp, meta.to_json()).map_err(|e| Error::io(&mp, e))?;
    File::open(&mp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&mp, e))?;
    fsync_dir(dir)?;
    Ok(meta)
}

/// Appends a series entry with first-seen symbol ids for the writer's second pass: the label
/// pairs, then the chunk metas as in version 2 (against the block's start and reference 0).
fn put_local(b: &mut Vec<u8>, labels: &[(u32, u32)], metas: &[ChunkMeta], block_min: i64) {
    put_uvarint(b, labels.len() as u64);
    for &(n, v) in labels {
        put_uvarint(b, n as u64);
        put_uvarint(b, v as u64);
    }
    put_chunks(b, metas, block_min, 0);
}

/// Reads back an entry written by [`put_local`] at `*pos`.
fn get_local(
    b: &[u8],
    pos: &mut usize,
    block_min: i64,
    labels: &mut Vec<(u32, u32)>,
    metas: &mut Vec<ChunkMeta>,
) {
    let bug = "BUG: series entry written by put_local";
    let n = get_uvarint(b, pos).expect(bug);
    labels.clear();
    for _ in 0..n {
        let name = get_uvarint(b, pos).expect(bug) as u32;
        let value = get_uvarint(b, pos).expect(bug) as u32;
        labels.push((name, value));
    }
    get_chunks_into(b, pos, block_min, 0, metas).expect(bug);
}

/// Appends a postings list: `count << 1 | 0` then the ids as deltas, or `runs << 1 | 1` then
/// per run of consecutive ids its start minus the previous run's end and its length − 1,
/// whichever is shorter.
fn put_postings(p: &mut Vec<u8>, ids: &[u32]) {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &id in ids {
        match runs.last_mut() {
            Some((s, l)) if *s + *l == id => *l += 1,
            _ => runs.push((id, 1)),
        }
    }
    let start = p.len();
    put_uvarint(p, (ids.len() as u64) << 1);
    let mut prev = 0u32;
    for &id in ids {
        put_uvarint(p, (id - prev) as u64);
        prev = id;
    }
    let mut r = Vec::new();
    put_uvarint(&mut r, (runs.len() as u64) << 1 | 1);
    let mut end = 0u32;
    for &(s, l) in &runs {
        put_uvarint(&mut r, (s - end) as u64);
        put_uvarint(&mut r, (l - 1) as u64);
        end = s + l;
    }
    if r.len() < p.len() - start {
        p.truncate(start);
        p.extend_from_slice(&r);
    }
}

/// Sizes and counts of a block, for `vitals tsdb inspect`.
#[derive(Clone, Debug)]
pub struct BlockInfo {
    /// Bytes of the index file.
    pub index_bytes: u64,
    /// Bytes of all chunk files.
    pub chunk_bytes: u64,
}

/// An open, immutable block.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: Mmap,
    chunks: ChunkReader,
    symbols: Vec<String>,
    /// label name → (value, offset of its postings list), values sorted.
    table: BTreeMap<String, Vec<(String, u32)>>,
    series: (usize, usize),
    offsets: usize,
    postings: (usize, usize),
    num_series: usize,
    /// Index format version (1 or 2).
    version: u8,
    info: BlockInfo,
    /// Deleted intervals by series id, mirrored in the block's `tombstones` file.
    tombstones: parking_lot::RwLock<crate::tombstones::Tombstones>,
}

impl Block {
    /// Opens the block in `dir`, verifying the index' checksums.
    pub fn open(dir: &Path) -> Result<Block, Error> {
        let meta = BlockMeta::read(dir)?;
        let path = dir.join("index");
        let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
        // SAFETY: block files are immutable once renamed into place.
        let index = unsafe { Mmap::map(&f) }.map_err(|e| Error::io(&path, e))?;
        let bad = |d: String| Error::Corrupt {
            path: path.clone(),
            detail: d,
        };
        let m: &[u8] = &index;
        let version = m.get(4).copied().unwrap_or(0);
        if m.len() < HEADER_LEN + TOC_LEN || m[0..4] != MAGIC || !(1..=VERSION).contains(&version) {
            return Err(bad("bad header or too short".into()));
        }
        let toc = &m[m.len() - TOC_LEN..];
        if crc32c::crc32c(&toc[..SECTIONS * 8])
            != u32::from_le_bytes(toc[SECTIONS * 8..].try_into().expect("4"))
        {
            return Err(bad("table of contents checksum mismatch".into()));
        }
        let mut secs = [(0usize, 0usize); SECTIONS];
        for (i, s) in secs.iter_mut().enumerate() {
            let off = u64::from_le_bytes(toc[i * 8..i * 8 + 8].try_into().expect("8")) as usize;
            if off.checked_add(4).is_none_or(|e| e > m.len() - TOC_LEN) {
                return Err(bad(format!("section {i} offset out of range")));
            }
            let len = u32::from_le_bytes(m[off..off + 4].try_into().expect("4")) as usize;
            let end = off + 4 + len;
            if end + 4 > m.len() - TOC_LEN {
                return Err(bad(format!("section {i} overruns the file")));
            }
            if crc32c::crc32c(&m[off + 4..end])
                != u32::from_le_bytes(m[end..end + 4].try_into().expect("4"))
            {
                return Err(bad(format!("section {i} checksum mismatch")));
            }
            *s = (off + 4, len);
        }
        let sb = &m[secs[0].0..secs[0].0 + secs[0].1];
        let mut pos = 0;
        let n = get_uvarint(sb, &mut pos).ok_or_else(|| bad("symbols".into()))? as usize;
        if n > sb.len() {
            return Err(bad("symbol count".into()));
        }
        let mut symbols = Vec::with_capacity(n);
        for _ in 0..n {
            let l = get_uvarint(sb, &mut pos).ok_or_else(|| bad("symbols".into()))? as usize;
            let s = sb
                .get(pos..pos.saturating_add(l))
                .ok_or_else(|| bad("symbols".into()))?;
            symbols.push(
                std::str::from_utf8(s)
                    .map_err(|_| bad("symbol not UTF-8".into()))?
                    .to_string(),
            );
            pos += l;
        }
        let tb = &m[secs[4].0..secs[4].0 + secs[4].1];
        let mut pos = 0;
        let n = get_uvarint(tb, &mut pos).ok_or_else(|| bad("postings table".into()))? as usize;
        let mut table: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
        for _ in 0..n.min(tb.len()) {
            let mut next = || get_uvarint(tb, &mut pos).ok_or_else(|| bad("postings table".into()));
            let (ni, vi, off) = (next()? as usize, next()? as usize, next()? as usize);
            let (Some(name), Some(value)) = (symbols.get(ni), symbols.get(vi)) else {
                return Err(bad("postings table symbol".into()));
            };
            if off >= secs[3].1 {
                return Err(bad("postings offset".into()));
            }
            table
                .entry(name.clone())
                .or_default()
                .push((value.clone(), off as u32));
        }
        let num_series = if version == 1 {
            secs[2].1 / 4
        } else {
            let o = &m[secs[2].0..secs[2].0 + secs[2].1];
            let n = o
                .get(..4)
                .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4")) as usize);
            if o.len() != 4 + 4 * n.div_ceil(GROUP) {
                return Err(bad("series offsets length".into()));
            }
            n
        };
        if secs[2].1 % 4 != 0 {
            return Err(bad("series offsets length".into()));
        }
        let chunks = ChunkReader::open(&dir.join("chunks"))?;
        let chunk_bytes = crate::db::dir_size(&dir.join("chunks"));
        let info = BlockInfo {
            index_bytes: m.len() as u64,
            chunk_bytes,
        };
        // The checksums read the whole index; queries fault back in what they use.
        super::release_mapped(&index);
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            num_series,
            version,
            series: secs[1],
            offsets: secs[2].0,
            postings: secs[3],
            index,
            chunks,
            symbols,
            table,
            info,
            tombstones: parking_lot::RwLock::new(crate::tombstones::read_block(dir)?),
        })
    }

    /// Releases the resident pages of the block's mapped index and chunk files, after a pass
    /// that read much of them (they stay in the page cache).
    pub fn release_pages(&self) {
        super::release_mapped(&self.index);
        self.chunks.release_pages();
    }

    /// The block's tombstones (series id → deleted intervals).
    pub fn tombstones(&self) -> parking_lot::RwLockReadGuard<'_, crate::tombstones::Tombstones> {
        self.tombstones.read()
    }

    /// Adds tombstones and rewrites the block's `tombstones` file before returning.
    pub fn add_tombstones(&self, new: &crate::tombstones::Tombstones) -> Result<(), Error> {
        let mut t = self.tombstones.write();
        let mut merged = t.clone();
        merged.merge(new);
        crate::tombstones::write_block(&self.dir, &merged)?;
        *t = merged;
        Ok(())
    }

    /// The block's metadata.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The block's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of all the block's files.
    pub fn size_bytes(&self) -> u64 {
        self.info.index_bytes + self.info.chunk_bytes + 512
    }

    /// Sizes of index and chunk files.
    pub fn info(&self) -> &BlockInfo {
        &self.info
    }

    /// Number of series.
    pub fn num_series(&self) -> u64 {
        self.num_series as u64
    }

    /// Every series id, in label order.
    pub fn all_series_ids(&self) -> Vec<u32> {
        (0..self.num_series as u32).collect()
    }

    /// Sorted ids of series matching all matchers.
    pub fn select(&self, matchers: &[Matcher]) -> Result<Vec<u32>, Error> {
        Ok(select_postings(self, matchers))
    }

    fn corrupt(&self, d: &str) -> Error {
        Error::Corrupt {
            path: self.dir.join("index"),
            detail: d.to_string(),
        }
    }

    /// Labels and chunk metas of series `id`.
    pub fn series(&self, id: u32) -> Result<(Labels, Vec<ChunkMeta>), Error> {
        let mut out = None;
        self.for_each_entry(&[id], |_, labels, chunks| {
            out = Some((self.labels(labels), chunks.to_vec()));
            Ok(())
        })?;
        Ok(out.expect("one entry read"))
    }

    /// The label set of an entry's label pairs (from [`Block::for_each_entry`]).
    pub fn labels(&self, pairs: &[(u32, u32)]) -> Labels {
        let labels = pairs
            .iter()
            .map(|&(n, v)| Label::new(self.symbol(n), self.symbol(v)))
            .collect();
        Labels::from_sorted(labels)
    }

    /// The symbol numbered `i` (label pairs of [`Block::for_each_entry`] are checked to be
    /// in range).
    pub fn symbol(&self, i: u32) -> &str {
        &self.symbols[i as usize]
    }

    /// Calls `f` with the id, label pairs (symbol numbers, names ascending) and chunk metas
    /// of each series in `ids` (ascending, as [`Block::select`] returns them). Entries of a
    /// group are coded against each other: a group is decoded once for all its ids.
    pub fn for_each_entry(
        &self,
        ids: &[u32],
        mut f: impl FnMut(u32, &[(u32, u32)], &[ChunkMeta]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let b = &self.index[self.series.0..self.series.0 + self.series.1];
        let offset = |i: usize| {
            let o = self.offsets + i * 4;
            u32::from_le_bytes(self.index[o..o + 4].try_into().expect("4")) as usize
        };
        let ns = self.symbols.len();
        let (mut prev, mut cur) = (Entry::default(), Entry::default());
        // The next id of the group being decoded and where its entry starts.
        let mut at: Option<(usize, usize)> = None;
        for &id in ids {
            let id = id as usize;
            if id >= self.num_series {
                return Err(self.corrupt("series id out of range"));
            }
            if self.version == 1 {
                prev =
                    get_v1(b, &mut offset(id), ns).ok_or_else(|| self.corrupt("series entry"))?;
            } else {
                let g = id / GROUP;
                let (next, mut pos) = match at {
                    Some((next, pos)) if next / GROUP == g && next % GROUP != 0 && next <= id => {
                        (next, pos)
                    }
                    _ => {
                        prev.labels.clear();
                        prev.chunks.clear();
                        prev.last_ref = 0;
                        (g * GROUP, offset(g + 1))
                    }
                };
                for _ in next..=id {
                    get_v2_into(b, &mut pos, &prev, ns, self.meta.min_time, &mut cur)
                        .ok_or_else(|| self.corrupt("series entry"))?;
                    std::mem::swap(&mut prev, &mut cur);
                }
                at = Some((id + 1, pos));
            }
            f(id as u32, &prev.labels, &prev.chunks)?;
        }
        Ok(())
    }

    /// Encoding and bytes of a chunk (borrowed from the mmap, CRC verified).
    pub fn chunk(&self, chunk_ref: u64) -> Result<(u8, &[u8]), Error> {
        self.chunks.chunk(chunk_ref)
    }

    /// Sorted label names.
    pub fn label_names(&self) -> Vec<String> {
        self.table.keys().cloned().collect()
    }

    /// Sorted values of label `name`.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.table
            .get(name)
            .map(|v| v.iter().map(|x| x.0.clone()).collect())
            .unwrap_or_default()
    }

    fn read_postings(&self, off: u32) -> Vec<u32> {
        let b = &self.index[self.postings.0..self.postings.0 + self.postings.1];
        let mut pos = off as usize;
        let Some(head) = get_uvarint(b, &mut pos) else {
            return Vec::new();
        };
        // Version 1: the head is the count and every list is deltas.
        let (n, runs) = match self.version {
            1 => (head, false),
            _ => (head >> 1, head & 1 == 1),
        };
        let mut out = Vec::with_capacity((n as usize).min(self.num_series));
        let mut id = 0u32;
        for _ in 0..n {
            let Some(d) = get_uvarint(b, &mut pos) else {
                break;
            };
            id = id.wrapping_add(d as u32);
            let len = if runs {
                get_uvarint(b, &mut pos).map_or(0, |l| l.saturating_add(1))
            } else {
                1
            };
            if (id as u64).saturating_add(len) > self.num_series as u64 {
                break;
            }
            out.extend(id..id + len as u32);
            if runs {
                // The next run's start is coded from this run's end.
                id += len as u32;
            }
        }
        out
    }
}

impl PostingsSource for Block {
    fn postings(&self, name: &str, value: &str) -> Vec<u32> {
        let Some(vals) = self.table.get(name) else {
            return Vec::new();
        };
        match vals.binary_search_by(|x| x.0.as_str().cmp(value)) {
            Ok(i) => self.read_postings(vals[i].1),
            Err(_) => Vec::new(),
        }
    }

    fn label_values(&self, name: &str) -> Vec<String> {
        Block::label_values(self, name)
    }

    fn all_postings(&self) -> Vec<u32> {
        self.all_series_ids()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::MatchOp;
    use std::borrow::Cow;

    fn build(n: usize) -> (tempfile::TempDir, BlockMeta, Vec<Labels>) {
        let dir = tempfile::tempdir().unwrap();
        let mut ls: Vec<Labels> = (0..n)
            .map(|i| {
                Labels::from_pairs(&[
                    (
                        "__name__",
                        if i % 3 == 0 {
                            "node_cpu_seconds_total"
                        } else {
                            "node_memory_bytes"
                        }
                        .to_string(),
                    ),
                    ("instance", format!("host-{}", i % 17)),
                    ("cpu", format!("{}", i % 8)),
                    ("job", "node".to_string()),
                ])
            })
            .collect();
        ls.sort();
        ls.dedup();
        let series = ls.iter().enumerate().map(|(i, l)| {
            let chunks = (0..(i % 3 + 1))
                .map(|k| {
                    (
                        ChunkData {
                            min_time: k as i64 * 100,
                            max_time: k as i64 * 100 + 50,
                            encoding: 1,
                            data: Cow::Owned(format!("chunk-{i}-{k}").into_bytes()),
                        },
                        7u32,
                    )
                })
                .collect();
            (l.clone(), chunks)
        });
        let meta = write_block(dir.path(), 0, 1000, 1, vec![], series).unwrap();
        (dir, meta, ls)
    }

    #[test]
    fn write_open_select_read() {
        let (dir, meta, ls) = build(3000);
        let b = Block::open(&dir.path().join(&meta.ulid)).unwrap();
        assert_eq!(b.num_series() as usize, ls.len());
        assert_eq!(b.meta().num_samples, meta.num_samples);
        for (i, l) in ls.iter().enumerate() {
            let (got, metas) = b.series(i as u32).unwrap();
            assert_eq!(&got, l);
            assert_eq!(metas.len(), i % 3 + 1);
            for (k, m) in metas.iter().enumerate() {
                assert_eq!(m.min_time, k as i64 * 100);
                let (enc, data) = b.chunk(m.chunk_ref).unwrap();
                assert_eq!((enc, data), (1, format!("chunk-{i}-{k}").as_bytes()));
            }
        }
        let cases = [
            vec![Matcher::new(MatchOp::Equal, "cpu", "3").unwrap()],
            vec![
                Matcher::new(MatchOp::Regex, "instance", "host-1.*").unwrap(),
                Matcher::new(MatchOp::NotEqual, "cpu", "2").unwrap(),
            ],
            vec![Matcher::new(MatchOp::NotRegex, "__name__", "node_mem.*").unwrap()],
            vec![Matcher::new(MatchOp::Equal, "missing", "").unwrap()],
            vec![Matcher::new(MatchOp::Equal, "job", "nope").unwrap()],
        ];
        for ms in &cases {
            let want: Vec<u32> = (0..ls.len() as u32)
                .filter(|&i| {
                    ms.iter()
                        .all(|m| m.matches(ls[i as usize].get(&m.name).unwrap_or("")))
                })
                .collect();
            assert_eq!(b.select(ms).unwrap(), want, "{ms:?}");
        }
        assert_eq!(b.label_names(), vec!["__name__", "cpu", "instance", "job"]);
        assert_eq!(b.label_values("job"), vec!["node"]);
    }

    #[test]
    fn postings_take_the_shorter_form() {
        let mut p = Vec::new();
        put_postings(&mut p, &[0, 1, 2, 3, 10]);
        assert_eq!(p, [5, 0, 3, 6, 0]);
        p.clear();
        put_postings(&mut p, &[3, 20, 40]);
        assert_eq!(p, [6, 3, 17, 20]);
    }

    #[test]
    fn corruption_is_detected() {
        let (dir, meta, _) = build(200);
        let bdir = dir.path().join(&meta.ulid);
        let idx = bdir.join("index");
        let orig = fs::read(&idx).unwrap();
        for pos in [10, orig.len() / 2, orig.len() - 10] {
            let mut d = orig.clone();
            d[pos] ^= 0x40;
            fs::write(&idx, &d).unwrap();
            assert!(Block::open(&bdir).is_err(), "flip at {pos}");
        }
        fs::write(&idx, &orig[..orig.len() / 2]).unwrap();
        assert!(Block::open(&bdir).is_err());
        fs::write(&idx, &orig).unwrap();
        let b = Block::open(&bdir).unwrap();
        let (_, metas) = b.series(0).unwrap();
        drop(b);
        let cpath = bdir.join("chunks/000001");
        let mut c = fs::read(&cpath).unwrap();
        let off = (metas[0].chunk_ref & 0xffff_ffff) as usize;
        c[off + 3] ^= 1;
        fs::write(&cpath, &c).unwrap();
        let b = Block::open(&bdir).unwrap();
        assert!(b.chunk(metas[0].chunk_ref).is_err());
        assert!(b.series(10_000).is_err());
    }
}
