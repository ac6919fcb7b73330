//! The plan of a read: the series matching the matchers, in label order, and where each one's
//! data lives (head chunks, the open chunk, out-of-order samples, block chunks). Chunk metas
//! and copied head data sit in arenas shared by all series, labels are compared through the
//! symbol tables and built once per series.

use std::cmp::Ordering;
use std::ops::Range;
use std::sync::Arc;

use crate::block::{Block, ChunkMeta};
use crate::db::Db;
use crate::error::Error;
use crate::head::{HeadIndex, MemSeries};
use crate::head_chunks::MmapChunk;
use crate::labels::Labels;
use crate::matcher::Matcher;
use crate::tombstones::{covers, Intervals};

/// Where one series' data in a read lives; ranges index the arenas of [`PlanData`].
pub(super) enum Part {
    /// Chunks of a block (`block` indexes [`PlanData::blocks`]).
    Block {
        block: usize,
        chunks: Range<usize>,
        deleted: Intervals,
    },
    /// Head data: memory-mapped chunks, the open chunk's bytes with its first and last sample
    /// times, out-of-order samples.
    Head {
        mmapped: Range<usize>,
        open: Option<(Range<usize>, i64, i64)>,
        ooo: Range<usize>,
        deleted: Intervals,
    },
}

impl Part {
    /// The part's deleted intervals.
    pub(super) fn deleted(&self) -> &[(i64, i64)] {
        match self {
            Part::Block { deleted, .. } | Part::Head { deleted, .. } => deleted,
        }
    }

    /// Number of chunks to decode (an out-of-order buffer counts as one).
    pub(super) fn num_chunks(&self) -> usize {
        match self {
            Part::Block { chunks, .. } => chunks.len(),
            Part::Head {
                mmapped, open, ooo, ..
            } => mmapped.len() + usize::from(open.is_some()) + usize::from(!ooo.is_empty()),
        }
    }
}

/// One series of a read: its labels and parts (head first, then blocks in order).
pub(super) type SeriesParts = (Labels, Vec<Part>);

/// What the parts of a plan point into.
#[derive(Default)]
pub(super) struct PlanData {
    /// The blocks overlapping the read.
    pub blocks: Vec<Arc<Block>>,
    /// Block chunk metas of all series.
    pub metas: Vec<ChunkMeta>,
    /// Memory-mapped head chunks of all series.
    pub mmapped: Vec<MmapChunk>,
    /// Bytes of the open head chunks, copied under the head lock.
    pub open: Vec<u8>,
    /// Out-of-order head samples in range.
    pub ooo: Vec<(i64, f64)>,
}

/// The series of a read and where their data lives.
#[derive(Default)]
pub(super) struct Plan {
    /// Series in label order.
    pub series: Vec<SeriesParts>,
    /// Arenas the parts point into.
    pub data: PlanData,
}

/// Orders two label sets given as (name, value) pairs as [`Labels`] are ordered: name, then
/// value, label by label; a prefix first.
fn cmp_pairs<'a, 'b>(
    mut a: impl Iterator<Item = (&'a str, &'a str)>,
    mut b: impl Iterator<Item = (&'b str, &'b str)>,
) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match x.0.cmp(y.0).then_with(|| x.1.cmp(y.1)) {
                Ordering::Equal => {}
                o => return o,
            },
        }
    }
}

/// The labels' pairs as string pairs.
fn label_strs(l: &Labels) -> impl Iterator<Item = (&str, &str)> {
    l.iter().map(|l| (l.name.as_ref(), l.value.as_ref()))
}

/// A block entry's pairs as string pairs.
fn block_strs<'a>(b: &'a Block, p: &'a [(u32, u32)]) -> impl Iterator<Item = (&'a str, &'a str)> {
    p.iter().map(|&(n, v)| (b.symbol(n), b.symbol(v)))
}

/// A head series' pairs as string pairs.
fn head_strs<'a>(
    idx: &'a HeadIndex,
    p: impl Iterator<Item = (u32, u32)> + 'a,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    p.map(|(n, v)| (idx.symbols.get(n), idx.symbols.get(v)))
}

impl Db {
    /// Where the data of each series matching `matchers` in [mint, maxt] lives, in label
    /// order. Each source's series are sorted once (the head's by comparing symbol strings)
    /// and merged in one pass. With `last`, a head series whose newest sample lies in the
    /// range gets that sample as its head part instead of its chunks.
    pub(super) fn read_plan(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        last: bool,
    ) -> Result<Plan, Error> {
        let mut plan = Plan::default();
        let blocks: Vec<Arc<Block>> = self.blocks.read().clone();
        plan.data.blocks = blocks
            .into_iter()
            .filter(|b| b.meta().max_time > mint && b.meta().min_time <= maxt)
            .collect();
        let parts_cap = 1 + plan.data.blocks.len();
        self.plan_head(matchers, (mint, maxt), last, parts_cap, &mut plan);
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for bi in 0..plan.data.blocks.len() {
            let b = plan.data.blocks[bi].clone();
            let tombstones = b.tombstones();
            let ids = b.select(matchers)?;
            let mut found: Vec<(Range<usize>, Part)> = Vec::new();
            pairs.clear();
            let metas = &mut plan.data.metas;
            b.for_each_entry(&ids, |id, labels, chunks| {
                let deleted = tombstones.get(id as u64);
                let start = metas.len();
                metas.extend(
                    chunks
                        .iter()
                        .filter(|c| c.min_time <= maxt && c.max_time >= mint)
                        .filter(|c| !covers(deleted, c.min_time, c.max_time)),
                );
                if metas.len() > start {
                    let p = pairs.len();
                    pairs.extend_from_slice(labels);
                    let part = Part::Block {
                        block: bi,
                        chunks: start..metas.len(),
                        deleted: deleted.to_vec(),
                    };
                    found.push((p..pairs.len(), part));
                }
                Ok(())
            })?;
            // A block's series come in label order; sort in case they do not.
            let order = |x: &(Range<usize>, Part), y: &(Range<usize>, Part)| {
                cmp_pairs(
                    block_strs(&b, &pairs[x.0.clone()]),
                    block_strs(&b, &pairs[y.0.clone()]),
                )
            };
            if !found.is_sorted_by(|x, y| order(x, y).is_le()) {
                found.sort_by(order);
            }
            plan.series = merge_block(
                std::mem::take(&mut plan.series),
                found,
                &b,
                &pairs,
                parts_cap,
            );
        }
        Ok(plan)
    }

    /// Adds the head's matching series to `plan` (whose series are empty), sorted by labels.
    fn plan_head(
        &self,
        matchers: &[Matcher],
        (mint, maxt): (i64, i64),
        last: bool,
        cap: usize,
        plan: &mut Plan,
    ) {
        let st = self.head.read();
        let idx = &st.idx;
        let series = |r: u32| {
            idx.series[r as usize]
                .as_ref()
                .expect("BUG: postings point at a removed series")
        };
        let mut refs = idx.select(matchers);
        refs.retain(|&r| {
            series(r).overlaps(mint, maxt) && !covers(st.tombstones.get(r as u64), mint, maxt)
        });
        sort_by_labels(idx, &mut refs);
        let data = &mut plan.data;
        plan.series.reserve(refs.len());
        // The arenas grow once, not by doubling (each doubling copies what they hold).
        if last {
            data.ooo.reserve(refs.len());
        } else {
            let (mut chunks, mut bytes) = (0, 0);
            for &r in &refs {
                chunks += series(r).mmapped.len();
                bytes += series(r).open.bytes().len();
            }
            data.mmapped.reserve(chunks);
            data.open.reserve(bytes);
        }
        for r in refs {
            let s = series(r);
            let deleted = st.tombstones.get(r as u64);
            let (m, o) = (data.mmapped.len(), data.ooo.len());
            let head = if last && deleted.is_empty() && newest_in(s, mint, maxt) {
                // The newest sample stands in for the head data as a run of one; the open
                // chunk ends with it, so nothing out of order is newer.
                data.ooo.push((s.last_t, s.last_v));
                Part::Head {
                    mmapped: m..m,
                    open: None,
                    ooo: o..o + 1,
                    deleted: Vec::new(),
                }
            } else {
                data.mmapped.extend(
                    s.mmapped
                        .iter()
                        .filter(|c| c.min_time <= maxt && c.max_time >= mint),
                );
                let (open_min, open_max) = (s.open_min(), s.open_max());
                let open =
                    (s.open.num_samples() > 0 && open_min <= maxt && open_max >= mint).then(|| {
                        let b = data.open.len();
                        data.open.extend_from_slice(s.open.bytes());
                        (b..data.open.len(), open_min, open_max)
                    });
                data.ooo
                    .extend(s.ooo.iter().filter(|x| x.0 >= mint && x.0 <= maxt));
                Part::Head {
                    mmapped: m..data.mmapped.len(),
                    open,
                    ooo: o..data.ooo.len(),
                    deleted: deleted.to_vec(),
                }
            };
            let mut parts = Vec::with_capacity(cap);
            parts.push(head);
            plan.series.push((idx.labels_of(s), parts));
        }
    }
}

/// True when head series `s`'s newest sample is in [mint, maxt] and known: the open chunk
/// ends with it (after a restart that replayed only memory-mapped chunks, `last_v` is a
/// placeholder until the next sample).
fn newest_in(s: &MemSeries, mint: i64, maxt: i64) -> bool {
    s.last_t >= mint && s.last_t <= maxt && s.open.num_samples() > 0 && s.open_max() == s.last_t
}

/// Fewest head series for which [`sort_by_labels`] ranks symbols instead of comparing
/// strings.
const RANKED_SORT_MIN: usize = 256;

/// Sorts head series refs by their labels. Many series (a selector over a whole metric
/// family) are sorted by integer keys: the symbols they use, ranked once by their strings
/// (few distinct ones: names, instances, modes, devices), so that no comparison reads a
/// string.
fn sort_by_labels(idx: &HeadIndex, refs: &mut [u32]) {
    let labels = |r: u32| {
        idx.series[r as usize]
            .as_ref()
            .expect("BUG: postings point at a removed series")
            .labels
            .iter()
    };
    if refs.len() < RANKED_SORT_MIN {
        refs.sort_unstable_by(|&a, &b| {
            cmp_pairs(head_strs(idx, labels(a)), head_strs(idx, labels(b)))
        });
        return;
    }
    let mut syms: Vec<u32> = refs
        .iter()
        .flat_map(|&r| labels(r).flat_map(|(n, v)| [n, v]))
        .collect();
    syms.sort_unstable();
    syms.dedup();
    syms.sort_unstable_by(|&a, &b| idx.symbols.get(a).cmp(idx.symbols.get(b)));
    let mut rank = vec![0u32; syms.iter().max().map_or(0, |&m| m as usize + 1)];
    for (i, &s) in syms.iter().enumerate() {
        rank[s as usize] = i as u32;
    }
    // Per series: its key (ranks of name, value, name, value, …) in `keys`.
    let mut keys: Vec<u32> = Vec::new();
    let mut order: Vec<(std::ops::Range<usize>, u32)> = Vec::with_capacity(refs.len());
    for &r in refs.iter() {
        let k = keys.len();
        keys.extend(labels(r).flat_map(|(n, v)| [rank[n as usize], rank[v as usize]]));
        order.push((k..keys.len(), r));
    }
    // Keys compare as the label pairs do: pair by pair, name before value, a prefix first.
    order.sort_unstable_by(|a, b| keys[a.0.clone()].cmp(&keys[b.0.clone()]));
    for (dst, (_, r)) in refs.iter_mut().zip(order) {
        *dst = r;
    }
}

/// Merges a block's series (label pairs in `pairs`, sorted by labels) into `acc` (sorted by
/// labels): a series already there gets the block's part appended, others are inserted in
/// order with their labels built from the block's symbols.
fn merge_block(
    acc: Vec<SeriesParts>,
    found: Vec<(Range<usize>, Part)>,
    b: &Block,
    pairs: &[(u32, u32)],
    cap: usize,
) -> Vec<SeriesParts> {
    if found.is_empty() {
        return acc;
    }
    let mut out: Vec<SeriesParts> = Vec::with_capacity(acc.len() + found.len());
    let mut acc = acc.into_iter().peekable();
    for (r, part) in found {
        let p = &pairs[r];
        let cmp = |a: &SeriesParts| cmp_pairs(label_strs(&a.0), block_strs(b, p));
        while let Some(a) = acc.next_if(|a| cmp(a).is_lt()) {
            out.push(a);
        }
        match acc.next_if(|a| cmp(a).is_eq()) {
            Some(mut a) => {
                a.1.push(part);
                out.push(a);
            }
            None => {
                let mut parts = Vec::with_capacity(cap);
                parts.push(part);
                out.push((b.labels(p), parts));
            }
        }
    }
    out.extend(acc);
    out
}
