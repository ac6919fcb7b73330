//! Label sets: sorted, unique-by-name lists of `name="value"` pairs identifying a series.

use std::fmt;
use std::sync::Arc;

use crate::chunkenc::bstream_util::{put_uvarint, uvarint_len};

/// Name of the label that carries the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One `name="value"` pair; its strings are shared, so copies do not allocate.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Label {
    /// Label name.
    pub name: Arc<str>,
    /// Label value (never empty in a stored series).
    pub value: Arc<str>,
}

impl Label {
    /// A pair from any two strings.
    pub fn new(name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Label {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl Default for Label {
    fn default() -> Label {
        Label::new("", "")
    }
}

/// A series' identity: labels sorted by name, names unique.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Builds a label set from pairs, sorting them by name; later duplicates win.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Labels {
        let mut v: Vec<Label> = pairs
            .iter()
            .map(|(n, v)| Label::new(n.as_ref(), v.as_ref()))
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
        debug_assert!(
            v.windows(2).all(|w| w[0].name < w[1].name),
            "BUG: labels not sorted"
        );
        Labels(v)
    }

    /// Value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| (*l.name).cmp(name))
            .ok()
            .map(|i| &*self.0[i].value)
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

    /// 128-bit fingerprint, equal to [`fingerprint_refs`] of the same pairs (process-local).
    pub fn fingerprint(&self) -> u128 {
        let pairs: Vec<(&str, &str)> = self.0.iter().map(|l| (&*l.name, &*l.value)).collect();
        fingerprint_refs(&pairs)
    }

    /// The labels as a slice.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Consumes the set into its sorted vector.
    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }
}

/// 128-bit fingerprint of sorted label pairs: the head's series identity, process-local (never
/// stored). It is the XXH3-128 hash of the pairs' protobuf encoding as a remote-write
/// `TimeSeries` carries them (each pair a field-1 `Label { name = 1; value = 2 }`, minimal
/// varints), so that the label bytes of a request can be looked up as they arrive
/// ([`fingerprint_wire`]). Labels are not compared again, as a collision between realistic
/// label sets is vanishingly unlikely.
pub fn fingerprint_refs(pairs: &[(&str, &str)]) -> u128 {
    thread_local! {
        /// The encoding being hashed, reused by this thread's next call.
        static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ENCODED.with(|b| {
        let mut b = b.borrow_mut();
        b.clear();
        for (n, v) in pairs {
            let (n, v) = (n.as_bytes(), v.as_bytes());
            let label =
                2 + uvarint_len(n.len() as u64) + n.len() + uvarint_len(v.len() as u64) + v.len();
            b.push(0x0a);
            put_uvarint(&mut b, label as u64);
            b.push(0x0a);
            put_uvarint(&mut b, n.len() as u64);
            b.extend_from_slice(n);
            b.push(0x12);
            put_uvarint(&mut b, v.len() as u64);
            b.extend_from_slice(v);
        }
        fingerprint_wire(&b)
    })
}

/// The fingerprint of label pairs from their protobuf encoding (see [`fingerprint_refs`]):
/// equal to `fingerprint_refs` of the pairs when `bytes` is their encoding as described there.
pub fn fingerprint_wire(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.get(METRIC_NAME).unwrap_or("");
        write!(f, "{name}{{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| &*l.name != METRIC_NAME) {
            if !first {
                write!(f, ", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        write!(f, "}}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_separate_boundaries_and_match_owned() {
        let a = fingerprint_refs(&[("ab", "c")]);
        assert_ne!(a, fingerprint_refs(&[("a", "bc")]));
        assert_ne!(
            fingerprint_refs(&[("a", "")]),
            fingerprint_refs(&[("", "a")])
        );
        let l = Labels::from_pairs(&[("job", "a"), ("x", "12345678901234567")]);
        assert_eq!(
            l.fingerprint(),
            fingerprint_refs(&[("job", "a"), ("x", "12345678901234567")])
        );
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000 {
            assert!(seen.insert(fingerprint_refs(&[
                ("instance", &format!("host-{i}")),
                ("job", "node")
            ])));
        }
    }

    #[test]
    fn fingerprint_is_the_hash_of_the_remote_write_encoding() {
        // TimeSeries field 1 as prost (and Prometheus) encode it, long strings included
        // (two-byte varints).
        let long = "x".repeat(200);
        let sets: Vec<Vec<(&str, &str)>> = vec![
            vec![],
            vec![("__name__", "up")],
            vec![("__name__", "up"), ("instance", "host-1:9100"), ("j", "n")],
            vec![("a", long.as_str()), (long.as_str(), "ü")],
        ];
        for pairs in sets {
            let mut bytes = Vec::new();
            for (n, v) in &pairs {
                let mut label = vec![0x0a];
                put_uvarint(&mut label, n.len() as u64);
                label.extend_from_slice(n.as_bytes());
                label.push(0x12);
                put_uvarint(&mut label, v.len() as u64);
                label.extend_from_slice(v.as_bytes());
                bytes.push(0x0a);
                put_uvarint(&mut bytes, label.len() as u64);
                bytes.extend(label);
            }
            assert_eq!(
                fingerprint_refs(&pairs),
                fingerprint_wire(&bytes),
                "{pairs:?}"
            );
        }
        // Boundaries are part of the encoding.
        assert_ne!(
            fingerprint_refs(&[("ab", "c")]),
            fingerprint_refs(&[("a", "bc")])
        );
        // Long label values.
        let big = "y".repeat(5000);
        assert_ne!(
            fingerprint_refs(&[("a", big.as_str())]),
            fingerprint_refs(&[("b", big.as_str())])
        );
    }

    #[test]
    fn from_pairs_sorts_and_fingerprint_matches_refs() {
        let l = Labels::from_pairs(&[("job", "a"), ("__name__", "up"), ("instance", "x")]);
        let names: Vec<_> = l.iter().map(|l| l.name.as_ref()).collect();
        assert_eq!(names, ["__name__", "instance", "job"]);
        let refs = [("__name__", "up"), ("instance", "x"), ("job", "a")];
        assert_eq!(l.fingerprint(), fingerprint_refs(&refs));
        assert_eq!(l.get("job"), Some("a"));
        assert_eq!(l.to_string(), "up{instance=\"x\", job=\"a\"}");
    }
}
