//! Appends to the head: series lookup and creation, sample appends, the WAL records.
//!
//! Design constraints:
//! - One batch takes the head lock once; its WAL records (series, then samples) are written
//!   to the OS before the lock is released, so an acknowledged sample survives `kill -9`.
//! - Series lookups are memory-bound (a table slot, the series, its open chunk are cache
//!   misses): the batch computes all label fingerprints before taking the lock (or takes the
//!   keys of label bytes as given, `append_keyed`), then resolves refs and appends in two
//!   passes that prefetch a few series ahead, so the misses of neighbouring series overlap
//!   instead of queueing one after another; new series are created in between, only when the
//!   batch has some.
//! - An entry known only by a key the head does not have stops the batch before anything
//!   changes (`Keyed::NeedLabels`), so the caller can parse and check those labels first.
//! - The outcome is as if series were handled one by one in batch order (series creation,
//!   rejections, the first rejection's message).

use std::sync::atomic::Ordering;

use crate::db::{truncate, Db};
use crate::error::{Error, RejectReason};
use crate::head::{append_sample, cut_phase, insert_ooo, AppendResult, HeadIndex, MemSeries};
use crate::head_chunks::HeadChunks;
use crate::labels::{fingerprint_refs, Labels};
use crate::prefetch;
use crate::wal::{self, SampleRecord};

/// Ref slot of a batch entry without samples or whose series was refused.
pub(crate) const NO_REF: u32 = u32::MAX;

/// How many series ahead the passes prefetch: table slots and series structs `2 * AHEAD`
/// ahead, open chunk bytes `AHEAD` ahead (their address is in the series struct).
const AHEAD: usize = 8;

/// What one [`Db::append_batch`] stored and rejected.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendOutcome {
    /// Samples stored (identical duplicates count as stored).
    pub appended: u64,
    /// Rejected samples per reason, only nonzero entries.
    pub rejected: Vec<(RejectReason, u64)>,
    /// A message naming the first rejected sample's series and timestamp.
    pub first_rejection: Option<String>,
}

/// One series of a [`Db::append_keyed`] batch.
#[derive(Clone, Copy, Debug)]
pub struct KeyedEntry<'a> {
    /// The series' fingerprint from its labels' wire bytes ([`crate::labels::fingerprint_wire`]);
    /// used only while `labels` is None.
    pub key: u128,
    /// Labels sorted by name with unique names, or None when not parsed yet.
    pub labels: Option<&'a [(&'a str, &'a str)]>,
    /// Samples as (timestamp ms, value).
    pub samples: &'a [(i64, f64)],
}

/// What [`Db::append_keyed`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Keyed {
    /// The batch was appended.
    Done(AppendOutcome),
    /// Nothing was appended: the head knows no series by these entries' keys, so their
    /// labels are needed (indices into the batch, ascending).
    NeedLabels(Vec<usize>),
}

/// A ref slot of pass 1 for a series to be created (or found again) in pass 1b.
const NEW_REF: u32 = u32::MAX - 1;

impl Db {
    /// Appends samples of many series; each label slice is sorted by name with unique names.
    /// Rejected samples are counted in the outcome; the rest are stored and in the WAL on return.
    #[allow(clippy::type_complexity)]
    pub fn append_batch(
        &self,
        batch: &[(&[(&str, &str)], &[(i64, f64)])],
    ) -> Result<AppendOutcome, Error> {
        let entries: Vec<KeyedEntry> = batch
            .iter()
            .map(|&(labels, samples)| KeyedEntry {
                key: 0,
                labels: Some(labels),
                samples,
            })
            .collect();
        match self.append_keyed(&entries)? {
            Keyed::Done(out) => Ok(out),
            Keyed::NeedLabels(_) => unreachable!("BUG: every entry has labels"),
        }
    }

    /// Appends samples of many series, each known by its labels or, when its labels are not
    /// given, by the key of its labels' wire bytes: series the head already has need no
    /// labels. When some key is unknown, nothing is appended and those entries are named (the
    /// caller parses their labels and calls again). Otherwise as [`Db::append_batch`].
    pub fn append_keyed(&self, batch: &[KeyedEntry]) -> Result<Keyed, Error> {
        // CPU-only work outside the lock, so that concurrent writers overlap it.
        let fps: Vec<u128> = batch
            .iter()
            .map(|e| match e.labels {
                _ if e.samples.is_empty() => 0,
                Some(labels) => fingerprint_refs(labels),
                None => e.key,
            })
            .collect();
        let mut guard = self.head.write();
        let st = &mut *guard;
        // Pass 1: refs of known series; series to create are marked.
        let mut refs = std::mem::take(&mut st.refs);
        refs.clear();
        let mut need = Vec::new();
        let mut creates = false;
        for (i, e) in batch.iter().enumerate() {
            if let Some(&fp) = fps.get(i + 2 * AHEAD) {
                st.idx.by_hash.prefetch(fp);
            }
            let r = if e.samples.is_empty() {
                NO_REF
            } else if let Some(r) = st.idx.find(fps[i]) {
                r
            } else if e.labels.is_none() {
                need.push(i);
                NO_REF
            } else {
                creates = true;
                NEW_REF
            };
            refs.push(r);
        }
        if !need.is_empty() {
            st.refs = refs;
            return Ok(Keyed::NeedLabels(need));
        }
        let mut chunks = self.chunks.lock();
        st.series_buf.clear();
        st.sample_recs.clear();
        st.ooo_recs.clear();
        let mut out = Outcome::default();
        // Pass 1b: new series, created in batch order (an entry may repeat an earlier one).
        let mut refused: Vec<(usize, RejectReason, String)> = Vec::new();
        let mut new_series = 0u64;
        if creates {
            for (i, e) in batch.iter().enumerate() {
                if refs[i] != NEW_REF {
                    continue;
                }
                refs[i] = match st.idx.find(fps[i]) {
                    Some(r) => r,
                    None => {
                        let labels = e.labels.unwrap_or_default();
                        if let Some((reason, why)) = self.refuse_series(&st.idx, labels) {
                            refused.push((i, reason, why));
                            NO_REF
                        } else {
                            let r = st.idx.create(fps[i], labels, None);
                            wal::encode_series_refs(r as u64, labels, &mut st.series_buf);
                            new_series += 1;
                            r
                        }
                    }
                };
            }
        }
        // Pass 2: samples, in batch order.
        let mut refused = refused.into_iter().peekable();
        for (
            i,
            &KeyedEntry {
                labels, samples, ..
            },
        ) in batch.iter().enumerate()
        {
            if let Some(&r) = refs.get(i + 2 * AHEAD) {
                prefetch_series(&st.idx, r);
            }
            if let Some(&r) = refs.get(i + AHEAD) {
                prefetch_open_chunk(&st.idx, r);
            }
            let r = refs[i];
            if r == NO_REF {
                if let Some((_, reason, why)) = refused.next_if(|x| x.0 == i) {
                    out.rejected[reason as usize] += samples.len() as u64;
                    if out.first_rejection.is_none() {
                        let l = Labels::from_pairs(labels.unwrap_or_default());
                        let l = truncate(&l.to_string(), 512).to_string();
                        out.first_rejection = Some(format!("{why}; series {l}"));
                    }
                }
                continue;
            }
            self.append_series(st, &mut chunks, r, labels, samples, &mut out)?;
        }
        st.refs = refs;
        if !st.series_buf.is_empty() {
            st.wal.log(wal::RECORD_SERIES, &st.series_buf)?;
        }
        if !st.sample_recs.is_empty() {
            st.enc_buf.clear();
            wal::encode_samples(&st.sample_recs, &mut st.enc_buf);
            st.wal.log(wal::RECORD_SAMPLES, &st.enc_buf)?;
        }
        if !st.ooo_recs.is_empty() {
            st.enc_buf.clear();
            wal::encode_samples(&st.ooo_recs, &mut st.enc_buf);
            st.wal.log(wal::RECORD_OOO_SAMPLES, &st.enc_buf)?;
        }
        st.wal.flush()?;
        let m = &self.metrics;
        m.samples_appended
            .fetch_add(st.sample_recs.len() as u64, Ordering::Relaxed);
        m.ooo_samples_appended
            .fetch_add(st.ooo_recs.len() as u64, Ordering::Relaxed);
        m.series_created.fetch_add(new_series, Ordering::Relaxed);
        let mut res = AppendOutcome {
            appended: out.appended,
            rejected: Vec::new(),
            first_rejection: out.first_rejection,
        };
        for reason in RejectReason::ALL {
            let n = out.rejected[reason as usize];
            if n > 0 {
                m.rejected[reason as usize].fetch_add(n, Ordering::Relaxed);
                res.rejected.push((reason, n));
            }
        }
        Ok(Keyed::Done(res))
    }

    /// Appends one series' samples (its ref is `r`), queueing their WAL records in `st`.
    fn append_series(
        &self,
        st: &mut crate::db::HeadState,
        chunks: &mut HeadChunks,
        r: u32,
        labels: Option<&[(&str, &str)]>,
        samples: &[(i64, f64)],
        out: &mut Outcome,
    ) -> Result<(), Error> {
        let symbols = &st.idx.symbols;
        // The series' labels for a rejection message: as given, or from the head.
        let name = |ms: &MemSeries| match labels {
            Some(l) => Labels::from_pairs(l),
            None => symbols.labels(&ms.labels),
        };
        let (window, bd) = (
            self.opts.out_of_order_window_ms,
            self.opts.block_duration_ms,
        );
        let ms = st.idx.series[r as usize]
            .as_mut()
            .expect("BUG: found series missing");
        let phase = cut_phase(r, bd);
        for &(t, v) in samples {
            match append_sample(ms, t, v, st.min_valid, window, bd, phase) {
                AppendResult::InOrder(cut) => {
                    if let Some((chunk, cmin, cmax)) = cut {
                        let m = chunks.write(
                            r as u64,
                            cmin,
                            cmax,
                            chunk.num_samples() as u16,
                            crate::chunkenc::ENCODING_XOR,
                            chunk.bytes(),
                        )?;
                        ms.mmapped.push(m);
                        st.idx.num_mmapped_chunks += 1;
                    }
                    st.sample_recs.push(SampleRecord {
                        series_ref: r as u64,
                        t,
                        v,
                    });
                    st.min_time = st.min_time.min(t);
                    st.max_time = st.max_time.max(t);
                    out.appended += 1;
                }
                AppendResult::OooCandidate => match stored_value(ms, chunks, t)? {
                    Some(bits) if bits == v.to_bits() => out.appended += 1,
                    Some(_) => out.reject(RejectReason::DuplicateTimestamp, || {
                        format!(
                            "{}: sample at timestamp {t} for series {}",
                            reject_message(RejectReason::DuplicateTimestamp),
                            name(ms)
                        )
                    }),
                    None => {
                        insert_ooo(ms, t, v);
                        st.ooo_recs.push(SampleRecord {
                            series_ref: r as u64,
                            t,
                            v,
                        });
                        st.min_time = st.min_time.min(t);
                        out.appended += 1;
                    }
                },
                AppendResult::OutOfOrder => {
                    st.ooo_recs.push(SampleRecord {
                        series_ref: r as u64,
                        t,
                        v,
                    });
                    st.min_time = st.min_time.min(t);
                    out.appended += 1;
                }
                AppendResult::Duplicate => out.appended += 1,
                AppendResult::Rejected(reason) => {
                    let last_t = ms.last_t;
                    out.reject(reason, || {
                        format!(
                            "{}: sample at timestamp {t} for series {} (newest sample at {last_t})",
                            reject_message(reason),
                            name(ms),
                        )
                    })
                }
            }
        }
        Ok(())
    }

    /// Why a new series may not be created: the reason and a message naming the metric.
    fn refuse_series(
        &self,
        idx: &HeadIndex,
        labels: &[(&str, &str)],
    ) -> Option<(RejectReason, String)> {
        let lim = &self.opts.limits;
        if let Some(why) = lim.check_labels(labels) {
            return Some((RejectReason::LabelLimit, format!("label limit: {why}")));
        }
        let max = lim.max_series_per_metric;
        if max > 0 && series_of_metric(idx, labels) >= max {
            let name = labels
                .iter()
                .find(|(n, _)| *n == "__name__")
                .map_or("", |(_, v)| v);
            return Some((
                RejectReason::SeriesLimit,
                format!(
                    "series limit: metric {:?} already has {max} series, the most allowed per metric",
                    truncate(name, 256)
                ),
            ));
        }
        None
    }
}

/// Head series whose `__name__` is the one in `labels`.
fn series_of_metric(idx: &HeadIndex, labels: &[(&str, &str)]) -> usize {
    let Some(&(_, name)) = labels.iter().find(|(n, _)| *n == "__name__") else {
        return 0;
    };
    let (Some(n), Some(v)) = (idx.symbols.lookup("__name__"), idx.symbols.lookup(name)) else {
        return 0;
    };
    idx.postings
        .get(&n)
        .and_then(|vals| vals.get(&v))
        .map_or(0, Vec::len)
}

/// Bits of the value stored at `t` in a series' chunks or out-of-order buffer, if any.
fn stored_value(ms: &MemSeries, chunks: &mut HeadChunks, t: i64) -> Result<Option<u64>, Error> {
    if let Ok(i) = ms.ooo.binary_search_by(|x| x.0.cmp(&t)) {
        return Ok(Some(ms.ooo[i].1.to_bits()));
    }
    if ms.open.num_samples() > 0 && t >= ms.open_min() && t <= ms.open_max() {
        return Ok(ms.open.iter().find(|s| s.0 == t).map(|s| s.1.to_bits()));
    }
    for c in ms
        .mmapped
        .iter()
        .filter(|c| c.min_time <= t && c.max_time >= t)
    {
        let found = chunks.with_chunk(c.chunk_ref, |_, data| {
            crate::chunkenc::XorIter::new(data)
                .find(|s| s.0 == t)
                .map(|s| s.1.to_bits())
        })?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

fn reject_message(r: RejectReason) -> &'static str {
    match r {
        RejectReason::TooOld => "out of order sample",
        RejectReason::OutOfBounds => "out of bounds",
        RejectReason::DuplicateTimestamp => "duplicate sample for timestamp",
        RejectReason::LabelLimit => "label limit",
        RejectReason::SeriesLimit => "series limit",
    }
}

/// Counts of one batch in progress.
#[derive(Default)]
struct Outcome {
    appended: u64,
    rejected: [u64; RejectReason::ALL.len()],
    first_rejection: Option<String>,
}

impl Outcome {
    /// Counts one rejected sample; `msg` names it if it is the first.
    fn reject(&mut self, reason: RejectReason, msg: impl FnOnce() -> String) {
        self.rejected[reason as usize] += 1;
        if self.first_rejection.is_none() {
            self.first_rejection = Some(msg());
        }
    }
}

/// Prefetches the struct of series `r` (up to three cache lines: it is 120 bytes).
#[inline(always)]
fn prefetch_series(idx: &HeadIndex, r: u32) {
    if let Some(Some(s)) = idx.series.get(r as usize) {
        let p: *const MemSeries = &**s;
        let p = p as *const u8;
        prefetch::read(p);
        prefetch::read(p.wrapping_add(64));
        prefetch::read(p.wrapping_add(128));
    }
}

/// Prefetches the last byte of the open chunk of series `r`, where the next sample goes.
#[inline(always)]
fn prefetch_open_chunk(idx: &HeadIndex, r: u32) {
    if let Some(Some(s)) = idx.series.get(r as usize) {
        let b = s.open.bytes();
        prefetch::read(b.as_ptr().wrapping_add(b.len().saturating_sub(1)));
    }
}
