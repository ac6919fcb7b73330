//! The head: in-memory series with one open XOR chunk each, interned labels and postings.
//!
//! Design constraints:
//! - One open chunk per series on the heap; full chunks (120 samples, or the sample that
//!   crosses a block boundary) go to [`HeadChunks`] files and are read back through mmap.
//! - Chunks never straddle a block boundary, so a block cut copies whole chunks.
//! - Labels are interned: a series holds symbol ids, not strings.
//! - Samples older than the series' newest sample go to a small sorted out-of-order buffer
//!   when inside the window, else they are rejected with a [`RejectReason`].
//! - Series refs are never reused within a process and are kept across restarts by the WAL.

use rustc_hash::FxHashMap;
use std::sync::Arc;

use crate::chunkenc::XorChunk;
use crate::error::RejectReason;
use crate::head_chunks::MmapChunk;
use crate::labels::{Label, Labels};
use crate::matcher::Matcher;
use crate::postings::{select_postings, PostingsSource};
use crate::series_table::SeriesTable;

/// Samples per head chunk before it is cut (as Prometheus).
pub const SAMPLES_PER_CHUNK: usize = 120;

/// Interned strings.
#[derive(Default)]
pub(crate) struct Symbols {
    strings: Vec<Arc<str>>,
    ids: FxHashMap<Arc<str>, u32>,
}

impl Symbols {
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let a: Arc<str> = Arc::from(s);
        let id = self.strings.len() as u32;
        self.strings.push(a.clone());
        self.ids.insert(a, id);
        id
    }
    pub(crate) fn lookup(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
    /// The symbol table, for resolving ids outside the head lock.
    pub(crate) fn snapshot(&self) -> Vec<Arc<str>> {
        self.strings.clone()
    }

    pub(crate) fn get(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }
}

/// One in-memory series.
pub(crate) struct MemSeries {
    /// (name, value) symbol ids, sorted by name string.
    pub labels: Box<[(u32, u32)]>,
    /// The chunk being appended to.
    pub open: XorChunk,
    pub open_min: i64,
    pub open_max: i64,
    /// Full chunks in head chunk files, oldest first.
    pub mmapped: Vec<MmapChunk>,
    /// Sorted out-of-order samples within the window, not in any chunk.
    pub ooo: Vec<(i64, f64)>,
    /// Newest in-order sample time; `i64::MIN` when none.
    pub last_t: i64,
    pub last_v: f64,
}

impl MemSeries {
    fn new(labels: Box<[(u32, u32)]>) -> MemSeries {
        MemSeries {
            labels,
            open: XorChunk::new(),
            open_min: i64::MAX,
            open_max: i64::MIN,
            mmapped: Vec::new(),
            ooo: Vec::new(),
            last_t: i64::MIN,
            last_v: 0.0,
        }
    }

    /// Smallest time of any data held.
    pub fn min_time(&self) -> i64 {
        let mut m = self.open_min;
        if let Some(c) = self.mmapped.first() {
            m = m.min(c.min_time);
        }
        if let Some(s) = self.ooo.first() {
            m = m.min(s.0);
        }
        m
    }

    /// Largest time of any data held.
    pub fn max_time(&self) -> i64 {
        let mut m = self.last_t;
        if let Some(s) = self.ooo.last() {
            m = m.max(s.0);
        }
        m
    }

    pub fn has_data(&self) -> bool {
        self.open.num_samples() > 0 || !self.mmapped.is_empty() || !self.ooo.is_empty()
    }

    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.has_data() && self.min_time() <= maxt && self.max_time() >= mint
    }
}

/// What appending one sample did.
pub(crate) enum AppendResult {
    /// Stored in order; the open chunk may have been cut (returned for writing to a file).
    InOrder(Option<(XorChunk, i64, i64)>),
    /// Stored in the out-of-order buffer.
    OutOfOrder,
    /// Inside the out-of-order window: the caller checks chunks for the timestamp, then calls [`insert_ooo`].
    OooCandidate,
    /// Same timestamp and identical value: nothing to do.
    Duplicate,
    /// Not stored.
    Rejected(RejectReason),
}

/// In-memory state of the head (guarded by the database's lock).
#[derive(Default)]
pub(crate) struct HeadIndex {
    pub symbols: Symbols,
    pub series: Vec<Option<Box<MemSeries>>>,
    /// Label fingerprint → series ref.
    pub by_hash: SeriesTable,
    /// name symbol → value symbol → sorted series refs.
    pub postings: FxHashMap<u32, FxHashMap<u32, Vec<u32>>>,
    pub num_series: u64,
    pub num_mmapped_chunks: u64,
    /// Next ref to hand out: above every ref seen in this process, the WAL or head chunk files.
    pub next_ref: u32,
}

impl HeadIndex {
    /// Finds the series with this label fingerprint.
    pub fn find(&self, fp: u128) -> Option<u32> {
        self.by_hash.get(fp)
    }

    /// Creates a series with the given ref (WAL replay) or the next free one.
    pub fn create(&mut self, fp: u128, labels: &[(&str, &str)], want_ref: Option<u32>) -> u32 {
        let r = want_ref.unwrap_or(self.next_ref);
        self.next_ref = self.next_ref.max(r + 1);
        if self.series.len() <= r as usize {
            self.series.resize_with(r as usize + 1, || None);
        }
        let syms: Box<[(u32, u32)]> = labels
            .iter()
            .map(|(n, v)| (self.symbols.intern(n), self.symbols.intern(v)))
            .collect();
        for &(n, v) in syms.iter() {
            let list = self.postings.entry(n).or_default().entry(v).or_default();
            match list.last() {
                Some(&last) if last > r => {
                    let pos = list.partition_point(|&x| x < r);
                    list.insert(pos, r);
                }
                _ => list.push(r),
            }
        }
        self.series[r as usize] = Some(Box::new(MemSeries::new(syms)));
        self.by_hash.insert(fp, r);
        self.num_series += 1;
        r
    }

    /// Removes a series from every index.
    pub fn remove(&mut self, r: u32, fp: u128) {
        let Some(s) = self.series[r as usize].take() else {
            return;
        };
        for &(n, v) in s.labels.iter() {
            if let Some(vals) = self.postings.get_mut(&n) {
                if let Some(list) = vals.get_mut(&v) {
                    if let Ok(pos) = list.binary_search(&r) {
                        list.remove(pos);
                    }
                    if list.is_empty() {
                        vals.remove(&v);
                    }
                }
                if vals.is_empty() {
                    self.postings.remove(&n);
                }
            }
        }
        self.by_hash.remove_if(fp, r);
        self.num_mmapped_chunks -= s.mmapped.len() as u64;
        self.num_series -= 1;
    }

    /// The label set of a series as owned strings.
    pub fn labels_of(&self, s: &MemSeries) -> Labels {
        Labels::from_sorted(
            s.labels
                .iter()
                .map(|&(n, v)| Label {
                    name: self.symbols.get(n).to_string(),
                    value: self.symbols.get(v).to_string(),
                })
                .collect(),
        )
    }

    /// Fingerprint of a stored series' labels.
    pub fn hash_of(&self, s: &MemSeries) -> u128 {
        let pairs: Vec<(&str, &str)> = s
            .labels
            .iter()
            .map(|&(n, v)| (self.symbols.get(n), self.symbols.get(v)))
            .collect();
        crate::labels::fingerprint_refs(&pairs)
    }

    /// Refs of series matching all matchers.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<u32> {
        select_postings(self, matchers)
    }
}

impl PostingsSource for HeadIndex {
    fn postings(&self, name: &str, value: &str) -> Vec<u32> {
        let (Some(n), Some(v)) = (self.symbols.lookup(name), self.symbols.lookup(value)) else {
            return Vec::new();
        };
        self.postings
            .get(&n)
            .and_then(|m| m.get(&v))
            .cloned()
            .unwrap_or_default()
    }

    fn label_values(&self, name: &str) -> Vec<String> {
        let Some(n) = self.symbols.lookup(name) else {
            return Vec::new();
        };
        let mut v: Vec<String> = self
            .postings
            .get(&n)
            .map(|m| m.keys().map(|&v| self.symbols.get(v).to_string()).collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    fn all_postings(&self) -> Vec<u32> {
        (0..self.series.len() as u32)
            .filter(|&r| self.series[r as usize].is_some())
            .collect()
    }
}

/// Appends one sample to a series under the head's rules.
pub(crate) fn append_sample(
    s: &mut MemSeries,
    t: i64,
    v: f64,
    min_valid: i64,
    ooo_window: i64,
    block_duration: i64,
) -> AppendResult {
    if t < min_valid {
        return AppendResult::Rejected(RejectReason::OutOfBounds);
    }
    if s.last_t != i64::MIN && t <= s.last_t {
        if t == s.last_t {
            return if v.to_bits() == s.last_v.to_bits() {
                AppendResult::Duplicate
            } else {
                AppendResult::Rejected(RejectReason::DuplicateTimestamp)
            };
        }
        if ooo_window <= 0 || t < s.last_t - ooo_window {
            return AppendResult::Rejected(RejectReason::TooOld);
        }
        return AppendResult::OooCandidate;
    }
    let mut cut = None;
    let n = s.open.num_samples();
    if n > 0
        && (n >= SAMPLES_PER_CHUNK
            || t.div_euclid(block_duration) != s.open_min.div_euclid(block_duration))
    {
        let full = std::mem::take(&mut s.open);
        cut = Some((full, s.open_min, s.open_max));
        s.open_min = i64::MAX;
        s.open_max = i64::MIN;
    }
    s.open.append(t, v);
    if s.open_min == i64::MAX {
        s.open_min = t;
    }
    s.open_max = t;
    s.last_t = t;
    s.last_v = v;
    AppendResult::InOrder(cut)
}

/// Inserts into the sorted out-of-order buffer; an in-chunk timestamp is not detected here
/// (reads merge and the newest write of a timestamp wins).
pub(crate) fn insert_ooo(s: &mut MemSeries, t: i64, v: f64) -> AppendResult {
    match s.ooo.binary_search_by(|x| x.0.cmp(&t)) {
        Ok(i) => {
            if s.ooo[i].1.to_bits() == v.to_bits() {
                AppendResult::Duplicate
            } else {
                AppendResult::Rejected(RejectReason::DuplicateTimestamp)
            }
        }
        Err(i) => {
            s.ooo.insert(i, (t, v));
            AppendResult::OutOfOrder
        }
    }
}

/// Merges time-sorted sample runs, keeping the first occurrence of each timestamp.
pub fn merge_samples(mut runs: Vec<Vec<(i64, f64)>>) -> Vec<(i64, f64)> {
    runs.retain(|r| !r.is_empty());
    match runs.len() {
        0 => return Vec::new(),
        1 => return runs.pop().expect("one run"),
        _ => {}
    }
    let mut all: Vec<(usize, i64, f64)> = Vec::with_capacity(runs.iter().map(|r| r.len()).sum());
    for (i, r) in runs.iter().enumerate() {
        all.extend(r.iter().map(|&(t, v)| (i, t, v)));
    }
    all.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(all.len());
    for (_, t, v) in all {
        if out.last().is_none_or(|l| l.0 != t) {
            out.push((t, v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> MemSeries {
        MemSeries::new(Box::new([]))
    }

    #[test]
    fn chunks_cut_at_120_and_at_block_boundary() {
        let mut s = series();
        let mut cuts = 0;
        for i in 0..250 {
            if let AppendResult::InOrder(Some(_)) =
                append_sample(&mut s, i * 1000, i as f64, i64::MIN, 0, 7_200_000)
            {
                cuts += 1;
            }
        }
        assert_eq!(cuts, 2);
        assert_eq!(s.open.num_samples(), 10);
        let mut s = series();
        append_sample(&mut s, 7_199_000, 1.0, i64::MIN, 0, 7_200_000);
        assert!(matches!(
            append_sample(&mut s, 7_200_000, 2.0, i64::MIN, 0, 7_200_000),
            AppendResult::InOrder(Some(_))
        ));
    }

    #[test]
    fn rejects_and_out_of_order() {
        let mut s = series();
        append_sample(&mut s, 10_000, 1.0, 0, 5_000, 7_200_000);
        assert!(matches!(
            append_sample(&mut s, 10_000, 1.0, 0, 5_000, 7_200_000),
            AppendResult::Duplicate
        ));
        assert!(matches!(
            append_sample(&mut s, 10_000, 2.0, 0, 5_000, 7_200_000),
            AppendResult::Rejected(RejectReason::DuplicateTimestamp)
        ));
        assert!(matches!(
            append_sample(&mut s, 6_000, 2.0, 0, 5_000, 7_200_000),
            AppendResult::OooCandidate
        ));
        assert!(matches!(
            insert_ooo(&mut s, 6_000, 2.0),
            AppendResult::OutOfOrder
        ));
        assert!(matches!(
            append_sample(&mut s, 4_000, 2.0, 0, 5_000, 7_200_000),
            AppendResult::Rejected(RejectReason::TooOld)
        ));
        assert!(matches!(
            append_sample(&mut s, 20_000, 2.0, 30_000, 5_000, 7_200_000),
            AppendResult::Rejected(RejectReason::OutOfBounds)
        ));
        assert_eq!(s.ooo, vec![(6_000, 2.0)]);
    }

    #[test]
    fn merge_keeps_first_run_on_ties() {
        let m = merge_samples(vec![vec![(1, 1.0), (3, 3.0)], vec![(2, 2.0), (3, 9.0)]]);
        assert_eq!(m, vec![(1, 1.0), (2, 2.0), (3, 3.0)]);
    }
}
