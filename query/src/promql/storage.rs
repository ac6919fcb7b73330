//! What the evaluator reads from: series samples by matchers and time range.

use std::collections::BTreeMap;

use parking_lot::RwLock;
use tsdb::{Labels, Matcher};

use super::eval::QueryError;

/// One series' labels and samples.
pub type LabeledSamples = (Labels, Vec<(i64, f64)>);

/// The `(start, end)` window of one step of a range function.
pub type Window = (i64, i64);

/// The callback of [`Storage::for_each`]: one series' labels and samples.
pub type SeriesFn<'f> = dyn FnMut(Labels, &[(i64, f64)]) -> Result<(), QueryError> + 'f;

/// The callback of [`Storage::for_each_par`]: a series' ordinal in label order, its labels
/// and samples; it may be called from several threads at once.
pub type ParSeriesFn<'f> =
    dyn Fn(usize, Labels, &[(i64, f64)]) -> Result<(), QueryError> + Sync + 'f;

/// A source of series for queries.
pub trait Storage: Send + Sync {
    /// Calls `f` with each series matching all `matchers`, in label order, and its samples
    /// in `[mint, maxt]`; an error from `f` stops the walk and is returned.
    fn for_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        f: &mut SeriesFn<'_>,
    ) -> Result<(), QueryError>;

    /// As [`Storage::for_each`], but `f` may run on up to `threads` threads at once and gets
    /// each series' ordinal in label order (calls may come in any order). With `last`, the
    /// reader uses only each series' newest sample in `[mint, maxt]`, so older samples may be
    /// left out. One thread and all samples here unless the storage overrides it.
    fn for_each_par(
        &self,
        matchers: &[Matcher],
        (mint, maxt): (i64, i64),
        last: bool,
        threads: usize,
        f: &ParSeriesFn<'_>,
    ) -> Result<(), QueryError> {
        let _ = (last, threads);
        let mut i = 0;
        self.for_each(matchers, mint, maxt, &mut |labels, samples| {
            i += 1;
            f(i - 1, labels, samples)
        })
    }

    /// Series matching all `matchers` with their samples in `[mint, maxt]`, sorted by labels.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<LabeledSamples>, QueryError> {
        let mut out = Vec::new();
        self.for_each(matchers, mint, maxt, &mut |l, s| {
            out.push((l, s.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }
}

impl From<tsdb::Error> for QueryError {
    fn from(e: tsdb::Error) -> QueryError {
        QueryError::Storage(e.to_string())
    }
}

impl Storage for tsdb::Db {
    fn for_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        f: &mut SeriesFn<'_>,
    ) -> Result<(), QueryError> {
        self.for_each_series(matchers, mint, maxt, f)
    }

    fn for_each_par(
        &self,
        matchers: &[Matcher],
        (mint, maxt): (i64, i64),
        last: bool,
        threads: usize,
        f: &ParSeriesFn<'_>,
    ) -> Result<(), QueryError> {
        if last {
            self.for_each_last_par(matchers, mint, maxt, threads, f)
        } else {
            self.for_each_series_par(matchers, mint, maxt, threads, f)
        }
    }
}

/// An in-memory store for tests and the conformance runner.
#[derive(Default)]
pub struct MemStorage {
    series: RwLock<BTreeMap<Labels, BTreeMap<i64, f64>>>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// Adds (or replaces) the sample at `t` of the series `labels`.
    pub fn add(&self, labels: Labels, t: i64, v: f64) {
        self.series.write().entry(labels).or_default().insert(t, v);
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.series.write().clear();
    }
}

impl Storage for MemStorage {
    fn for_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        f: &mut SeriesFn<'_>,
    ) -> Result<(), QueryError> {
        let g = self.series.read();
        let mut pts = Vec::new();
        for (labels, samples) in g.iter() {
            if !matchers
                .iter()
                .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
            {
                continue;
            }
            pts.clear();
            pts.extend(samples.range(mint..=maxt).map(|(t, v)| (*t, *v)));
            if !pts.is_empty() {
                f(labels.clone(), &pts)?;
            }
        }
        Ok(())
    }
}
