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

use crate::chunk_refs::ChunkRefs;
use crate::chunkenc::bstream_util::get_varint;
use crate::chunkenc::XorChunk;
use crate::error::RejectReason;
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
    /// Each symbol id's position in string order.
    pub(crate) fn ranks(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.strings.len() as u32).collect();
        ids.sort_unstable_by(|&a, &b| self.strings[a as usize].cmp(&self.strings[b as usize]));
        let mut rank = vec![0u32; ids.len()];
        for (i, id) in ids.into_iter().enumerate() {
            rank[id as usize] = i as u32;
        }
        rank
    }

    pub(crate) fn get(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }

    /// The shared string of symbol `id`.
    pub(crate) fn get_shared(&self, id: u32) -> Arc<str> {
        self.strings[id as usize].clone()
    }

    /// The label set coded as `ids`, as owned strings.
    pub(crate) fn labels(&self, ids: &crate::label_ids::LabelIds) -> Labels {
        Labels::from_sorted(
            ids.iter()
                .map(|(n, v)| Label {
                    name: self.get_shared(n),
                    value: self.get_shared(v),
                })
                .collect(),
        )
    }
}

/// One in-memory series (120 bytes: everything variable-sized is behind one pointer).
pub(crate) struct MemSeries {
    /// (name, value) symbol ids, sorted by name string.
    pub labels: crate::label_ids::LabelIds,
    /// The chunk being appended to; its first and last sample times are
    /// [`MemSeries::open_min`] and [`MemSeries::open_max`].
    pub open: XorChunk,
    /// Full chunks in head chunk files, oldest first.
    pub mmapped: ChunkRefs,
    /// Sorted out-of-order samples within the window, not in any chunk.
    pub ooo: OooSamples,
    /// Newest in-order sample time; `i64::MIN` when none.
    pub last_t: i64,
    pub last_v: f64,
}

// The head holds one per series: keep it from growing unnoticed.
const _: () = assert!(std::mem::size_of::<MemSeries>() <= 120);

impl MemSeries {
    fn new(labels: crate::label_ids::LabelIds) -> MemSeries {
        MemSeries {
            labels,
            open: XorChunk::new(),
            mmapped: ChunkRefs::default(),
            ooo: OooSamples::default(),
            last_t: i64::MIN,
            last_v: 0.0,
        }
    }

    /// Time of the open chunk's first sample; `i64::MAX` when it is empty.
    pub fn open_min(&self) -> i64 {
        if self.open.num_samples() == 0 {
            return i64::MAX;
        }
        let mut pos = 2;
        get_varint(self.open.bytes(), &mut pos).expect("BUG: open chunk without a first time")
    }

    /// Time of the open chunk's last sample; `i64::MIN` when it is empty.
    pub fn open_max(&self) -> i64 {
        if self.open.num_samples() == 0 {
            return i64::MIN;
        }
        self.open.last_time()
    }

    /// Smallest time of any data held.
    pub fn min_time(&self) -> i64 {
        let mut m = self.open_min();
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

/// A series' sorted out-of-order samples: one pointer while empty (almost always; a boxed
/// slice or a `Vec` would take two or three words in every series).
#[derive(Clone, Default, Debug, PartialEq)]
#[allow(clippy::box_collection)]
pub(crate) struct OooSamples(Option<Box<Vec<(i64, f64)>>>);

impl OooSamples {
    /// The samples, sorted by time.
    pub fn from_vec(v: Vec<(i64, f64)>) -> OooSamples {
        OooSamples((!v.is_empty()).then(|| Box::new(v)))
    }

    /// Inserts a sample at index `i`.
    pub fn insert(&mut self, i: usize, sample: (i64, f64)) {
        self.0
            .get_or_insert_with(Default::default)
            .insert(i, sample);
    }

    /// Keeps the samples for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&(i64, f64)) -> bool) {
        if let Some(v) = self.0.as_mut() {
            v.retain(keep);
            if v.is_empty() {
                self.0 = None;
            }
        }
    }
}

impl std::ops::Deref for OooSamples {
    type Target = [(i64, f64)];
    fn deref(&self) -> &[(i64, f64)] {
        self.0.as_deref().map_or(&[], |v| v.as_slice())
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
        let syms = crate::label_ids::LabelIds::from_pairs(
            labels
                .iter()
                .map(|(n, v)| (self.symbols.intern(n), self.symbols.intern(v))),
        );
        for (n, v) in syms.iter() {
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
        for (n, v) in s.labels.iter() {
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

    /// Gives back the spare capacity of postings lists (they grow by doubling while series
    /// are created, a third empty on average); called after a block cut.
    pub fn shrink_postings(&mut self) {
        for list in self.postings.values_mut().flat_map(|m| m.values_mut()) {
            if list.capacity() - list.len() > list.len() / 8 {
                list.shrink_to_fit();
            }
        }
    }

    /// The label set of a series as owned strings.
    pub fn labels_of(&self, s: &MemSeries) -> Labels {
        self.symbols.labels(&s.labels)
    }

    /// Fingerprint of a stored series' labels.
    pub fn hash_of(&self, s: &MemSeries) -> u128 {
        let pairs: Vec<(&str, &str)> = s
            .labels
            .iter()
            .map(|(n, v)| (self.symbols.get(n), self.symbols.get(v)))
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

/// Offset into every block range at which series `r`'s open chunk is also cut (besides every
/// [`SAMPLES_PER_CHUNK`] samples and at block boundaries), spread evenly over the range.
///
/// Series scraped together would otherwise cut their chunks in the same round, so every
/// open chunk would be full at the same moment and the heap's high-water mark would be the
/// sum of full chunks; with cuts spread out it is about the sum of half-full ones. The cost
/// is at most one more (shorter) chunk per series and block range.
pub(crate) fn cut_phase(r: u32, block_duration: i64) -> i64 {
    let h = (r as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h as u128 * block_duration as u128) >> 64) as i64
}

/// Appends one sample to a series under the head's rules; `phase` is the series'
/// [`cut_phase`].
pub(crate) fn append_sample(
    s: &mut MemSeries,
    t: i64,
    v: f64,
    min_valid: i64,
    ooo_window: i64,
    block_duration: i64,
    phase: i64,
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
    // The open chunk lies inside one block range, so its last time (in the struct, unlike
    // its first, which is in the chunk's bytes) names that range.
    if n > 0 && {
        let (range, last) = (t.div_euclid(block_duration), s.open_max());
        let phase_at = (range * block_duration).saturating_add(phase);
        n >= SAMPLES_PER_CHUNK
            || range != last.div_euclid(block_duration)
            || (last < phase_at && phase_at <= t)
    } {
        let range = (s.open_min(), s.open_max());
        cut = Some((std::mem::take(&mut s.open), range.0, range.1));
    }
    s.open.append(t, v);
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
        MemSeries::new(crate::label_ids::LabelIds::default())
    }

    #[test]
    fn chunks_cut_at_120_and_at_block_boundary() {
        let mut s = series();
        let mut cuts = 0;
        for i in 0..250 {
            if let AppendResult::InOrder(Some(_)) =
                append_sample(&mut s, i * 1000, i as f64, i64::MIN, 0, 7_200_000, 0)
            {
                cuts += 1;
            }
        }
        assert_eq!(cuts, 2);
        assert_eq!(s.open.num_samples(), 10);
        let mut s = series();
        append_sample(&mut s, 7_199_000, 1.0, i64::MIN, 0, 7_200_000, 0);
        assert!(matches!(
            append_sample(&mut s, 7_200_000, 2.0, i64::MIN, 0, 7_200_000, 0),
            AppendResult::InOrder(Some(_))
        ));
    }

    #[test]
    fn phase_cuts_once_per_block_range() {
        // 15 s samples over two 2 h ranges with the phase at 10 min: per range a 40-sample
        // chunk, three of 120, and the last 80 (cut at the boundary).
        let (bd, phase) = (7_200_000, 600_000);
        let mut s = series();
        let mut sizes = Vec::new();
        for i in 0..960 {
            let n = s.open.num_samples();
            if let AppendResult::InOrder(Some((c, min, max))) =
                append_sample(&mut s, i * 15_000, 1.0, i64::MIN, 0, bd, phase)
            {
                assert_eq!(
                    (c.num_samples(), min, max),
                    (n, c.iter().next().unwrap().0, c.last_time())
                );
                sizes.push(n);
            }
        }
        sizes.push(s.open.num_samples());
        assert_eq!(sizes, [40, 120, 120, 120, 80, 40, 120, 120, 120, 80]);
        let phases: Vec<i64> = (0..1000).map(|r| cut_phase(r, bd)).collect();
        assert!(phases.iter().all(|&p| (0..bd).contains(&p)));
        // Spread: every tenth of the range holds some.
        assert!((0..10).all(|k| phases.iter().any(|&p| p / (bd / 10) == k)));
    }

    #[test]
    fn rejects_and_out_of_order() {
        let mut s = series();
        append_sample(&mut s, 10_000, 1.0, 0, 5_000, 7_200_000, 0);
        assert!(matches!(
            append_sample(&mut s, 10_000, 1.0, 0, 5_000, 7_200_000, 0),
            AppendResult::Duplicate
        ));
        assert!(matches!(
            append_sample(&mut s, 10_000, 2.0, 0, 5_000, 7_200_000, 0),
            AppendResult::Rejected(RejectReason::DuplicateTimestamp)
        ));
        assert!(matches!(
            append_sample(&mut s, 6_000, 2.0, 0, 5_000, 7_200_000, 0),
            AppendResult::OooCandidate
        ));
        assert!(matches!(
            insert_ooo(&mut s, 6_000, 2.0),
            AppendResult::OutOfOrder
        ));
        assert!(matches!(
            append_sample(&mut s, 4_000, 2.0, 0, 5_000, 7_200_000, 0),
            AppendResult::Rejected(RejectReason::TooOld)
        ));
        assert!(matches!(
            append_sample(&mut s, 20_000, 2.0, 30_000, 5_000, 7_200_000, 0),
            AppendResult::Rejected(RejectReason::OutOfBounds)
        ));
        assert_eq!(&*s.ooo, &[(6_000, 2.0)]);
    }

    proptest::proptest! {
        /// Inserts at sorted positions and retains against a `Vec` model.
        #[test]
        fn ooo_samples_match_a_vec(ops in proptest::collection::vec((0..50i64, 0..5u8), 0..80)) {
            let (mut ooo, mut model) = (OooSamples::default(), Vec::<(i64, f64)>::new());
            for (t, op) in ops {
                if op == 0 {
                    ooo.retain(|x| x.0 >= t);
                    model.retain(|x| x.0 >= t);
                } else if let Err(i) = model.binary_search_by(|x| x.0.cmp(&t)) {
                    ooo.insert(i, (t, op as f64));
                    model.insert(i, (t, op as f64));
                }
                proptest::prop_assert_eq!(&*ooo, model.as_slice());
                proptest::prop_assert_eq!(ooo.0.is_none(), model.is_empty());
            }
        }
    }

    #[test]
    fn merge_keeps_first_run_on_ties() {
        let m = merge_samples(vec![vec![(1, 1.0), (3, 3.0)], vec![(2, 2.0), (3, 9.0)]]);
        assert_eq!(m, vec![(1, 1.0), (2, 2.0), (3, 3.0)]);
    }
}
