//! Label sets: sorted, unique-by-name lists of `name="value"` pairs identifying a series.

use std::fmt;

/// Name of the label that carries the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One `name="value"` pair.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Label {
    /// Label name.
    pub name: String,
    /// Label value (never empty in a stored series).
    pub value: String,
}

/// A series' identity: labels sorted by name, names unique.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Builds a label set from pairs, sorting them by name; later duplicates win.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Labels {
        let mut v: Vec<Label> = pairs
            .iter()
            .map(|(n, v)| Label { name: n.as_ref().to_string(), value: v.as_ref().to_string() })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v.dedup_by(|later, earlier| {
            if later.name == earlier.name {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        Labels(v)
    }

    /// Wraps labels the caller guarantees are sorted by name and unique.
    pub fn from_sorted(v: Vec<Label>) -> Labels {
        debug_assert!(v.windows(2).all(|w| w[0].name < w[1].name), "BUG: labels not sorted");
        Labels(v)
    }

    /// Value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The labels, sorted by name.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels as a slice.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Consumes the set into its sorted vector.
    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// 64-bit hash of the label set, equal to [`hash_label_refs`] of the same pairs (process-local).
    pub fn hash64(&self) -> u64 {
        let mut h = LabelHasher::new();
        for l in &self.0 {
            h.write(l.name.as_bytes());
            h.write(&[0xff]);
            h.write(l.value.as_bytes());
            h.write(&[0xff]);
        }
        h.finish()
    }
}

/// 64-bit hash of borrowed, sorted label pairs; equals [`Labels::hash64`] of the same set.
pub fn hash_label_refs(pairs: &[(&str, &str)]) -> u64 {
    let mut h = LabelHasher::new();
    for (n, v) in pairs {
        h.write(n.as_bytes());
        h.write(&[0xff]);
        h.write(v.as_bytes());
        h.write(&[0xff]);
    }
    h.finish()
}

/// True when borrowed pairs equal the label set.
pub fn labels_eq_refs(labels: &Labels, pairs: &[(&str, &str)]) -> bool {
    labels.0.len() == pairs.len()
        && labels.0.iter().zip(pairs).all(|(l, (n, v))| l.name == *n && l.value == *v)
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.get(METRIC_NAME).unwrap_or("");
        write!(f, "{name}{{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                write!(f, ", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        write!(f, "}}")
    }
}

/// Word-at-a-time hasher (not persisted anywhere, so only stable within a process).
struct LabelHasher(rustc_hash::FxHasher);

impl LabelHasher {
    fn new() -> Self {
        LabelHasher(rustc_hash::FxHasher::default())
    }
    #[inline]
    fn write(&mut self, b: &[u8]) {
        use std::hash::Hasher;
        self.0.write(b);
    }
    fn finish(&self) -> u64 {
        use std::hash::Hasher;
        self.0.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_and_hash_matches_refs() {
        let l = Labels::from_pairs(&[("job", "a"), ("__name__", "up"), ("instance", "x")]);
        let names: Vec<_> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "instance", "job"]);
        let refs = [("__name__", "up"), ("instance", "x"), ("job", "a")];
        assert_eq!(l.hash64(), hash_label_refs(&refs));
        assert!(labels_eq_refs(&l, &refs));
        assert_eq!(l.get("job"), Some("a"));
        assert_eq!(l.to_string(), "up{instance=\"x\", job=\"a\"}");
    }
}
