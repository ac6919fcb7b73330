//! Cardinality statistics of the head (the data behind `/api/v1/status/tsdb`), computed from
//! the postings in one pass under the head's read lock, keeping only the top `limit` entries
//! of each ranking.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::db::Db;

/// Top-`limit` rankings of the head's label index, as Prometheus' `PostingsStats`.
/// Each ranking is `(name, count)` sorted by count descending, then name ascending.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeadCardinality {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct `name=value` pairs in the head.
    pub num_label_pairs: u64,
    /// Series per metric name (values of `__name__`).
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Distinct values per label name.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Bytes of label values per label name, counted once per series using them
    /// (Prometheus 2.x' estimate: value length × series count, summed over values).
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// Series per `name=value` pair.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

/// Keeps the `k` best entries: highest count, ties broken by the smallest key.
struct TopK<K: Ord> {
    k: usize,
    // Min-heap on (count, Reverse(key)): the top is the entry to evict first.
    heap: BinaryHeap<Reverse<(u64, Reverse<K>)>>,
}

impl<K: Ord> TopK<K> {
    fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::new(),
        }
    }

    fn push(&mut self, key: K, count: u64) {
        if self.k == 0 {
            return;
        }
        let e = Reverse((count, Reverse(key)));
        if self.heap.len() < self.k {
            self.heap.push(e);
        } else if self.heap.peek().is_some_and(|worst| e < *worst) {
            // `e < worst` in the reversed order means `e` ranks above the worst kept entry.
            self.heap.pop();
            self.heap.push(e);
        }
    }

    /// Entries best first.
    fn into_sorted(self) -> Vec<(K, u64)> {
        // Ascending order of Reverse(..) is best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse((c, Reverse(k)))| (k, c))
            .collect()
    }
}

impl Db {
    /// Cardinality statistics of the head, each ranking cut to its `limit` largest entries.
    /// Runs in time linear in the number of label pairs, under the head's read lock.
    pub fn head_cardinality(&self, limit: usize) -> HeadCardinality {
        let st = self.head.read();
        let idx = &st.idx;
        let syms = &idx.symbols;
        let name_sym = syms.lookup("__name__");
        let mut metrics = TopK::new(limit);
        let mut values_per_name = TopK::new(limit);
        let mut bytes_per_name = TopK::new(limit);
        let mut pairs = TopK::new(limit);
        let mut num_label_pairs = 0u64;
        for (&n, values) in &idx.postings {
            let name = syms.get(n);
            values_per_name.push(name, values.len() as u64);
            num_label_pairs += values.len() as u64;
            let mut bytes = 0u64;
            for (&v, refs) in values {
                let value = syms.get(v);
                let count = refs.len() as u64;
                if Some(n) == name_sym {
                    metrics.push(value, count);
                }
                pairs.push((name, value), count);
                bytes += value.len() as u64 * count;
            }
            bytes_per_name.push(name, bytes);
        }
        let owned = |t: TopK<&str>| -> Vec<(String, u64)> {
            t.into_sorted()
                .into_iter()
                .map(|(k, c)| (k.to_string(), c))
                .collect()
        };
        HeadCardinality {
            num_series: idx.num_series,
            num_label_pairs,
            series_count_by_metric_name: owned(metrics),
            label_value_count_by_label_name: owned(values_per_name),
            memory_in_bytes_by_label_name: owned(bytes_per_name),
            series_count_by_label_value_pair: pairs
                .into_sorted()
                .into_iter()
                .map(|((n, v), c)| (format!("{n}={v}"), c))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_largest_with_name_tiebreak() {
        let mut t = TopK::new(3);
        for (k, c) in [("a", 1), ("b", 5), ("c", 3), ("d", 5), ("e", 3), ("f", 0)] {
            t.push(k, c);
        }
        assert_eq!(t.into_sorted(), vec![("b", 5), ("d", 5), ("c", 3)]);
        let mut z = TopK::new(0);
        z.push("a", 1);
        assert!(z.into_sorted().is_empty());
    }

    #[test]
    fn head_cardinality_counts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), crate::Options::default()).unwrap();
        let s1: &[(&str, &str)] = &[("__name__", "up"), ("job", "node")];
        let s2: &[(&str, &str)] = &[("__name__", "up"), ("job", "prom")];
        let s3: &[(&str, &str)] = &[("__name__", "go_gc"), ("job", "prom")];
        let samples: &[(i64, f64)] = &[(1000, 1.0)];
        db.append_batch(&[(s1, samples), (s2, samples), (s3, samples)])
            .unwrap();
        let c = db.head_cardinality(10);
        assert_eq!(c.num_series, 3);
        assert_eq!(c.num_label_pairs, 4);
        let v = |x: &[(&str, u64)]| -> Vec<(String, u64)> {
            x.iter().map(|(k, c)| (k.to_string(), *c)).collect()
        };
        assert_eq!(c.series_count_by_metric_name, v(&[("up", 2), ("go_gc", 1)]));
        assert_eq!(
            c.label_value_count_by_label_name,
            v(&[("__name__", 2), ("job", 2)])
        );
        // __name__: 2×"up" + 1×"go_gc" = 9; job: 1×"node" + 2×"prom" = 12.
        assert_eq!(
            c.memory_in_bytes_by_label_name,
            v(&[("job", 12), ("__name__", 9)])
        );
        assert_eq!(
            c.series_count_by_label_value_pair,
            v(&[
                ("__name__=up", 2),
                ("job=prom", 2),
                ("__name__=go_gc", 1),
                ("job=node", 1)
            ])
        );
        assert_eq!(
            db.head_cardinality(1)
                .series_count_by_label_value_pair
                .len(),
            1
        );
    }
}
