//! What the evaluator reads from: series samples by matchers and time range.

use std::collections::BTreeMap;

use parking_lot::RwLock;
use tsdb::{Labels, Matcher};

/// A source of series for queries.
pub trait Storage: Send + Sync {
    /// Series matching all `matchers` with their samples in `[mint, maxt]`, sorted by labels.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<(i64, f64)>)>, String>;
}

impl Storage for tsdb::Db {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<(i64, f64)>)>, String> {
        self.select_samples(matchers, mint, maxt)
            .map(|v| v.into_iter().map(|s| (s.labels, s.samples)).collect())
            .map_err(|e| e.to_string())
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
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<(i64, f64)>)>, String> {
        let g = self.series.read();
        let mut out = Vec::new();
        for (labels, samples) in g.iter() {
            if !matchers
                .iter()
                .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
            {
                continue;
            }
            let pts: Vec<(i64, f64)> = samples.range(mint..=maxt).map(|(t, v)| (*t, *v)).collect();
            if !pts.is_empty() {
                out.push((labels.clone(), pts));
            }
        }
        Ok(out)
    }
}
