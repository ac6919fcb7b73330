//! Label sets: sorted, unique-by-name lists of `name="value"` pairs identifying a series.

use std::fmt;
use std::sync::Arc;

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

/// 128-bit fingerprint of sorted label pairs: the head's series identity. Two lanes of
/// wide-multiply mixing over 8-byte words (no copying); labels are not compared again, as a
/// collision between realistic label sets is vanishingly unlikely.
pub fn fingerprint_refs(pairs: &[(&str, &str)]) -> u128 {
    let mut fp = Fingerprint::new();
    for (n, v) in pairs {
        fp.write(n.as_bytes());
        fp.write(v.as_bytes());
    }
    fp.finish()
}

struct Fingerprint {
    a: u64,
    b: u64,
}

const K0: u64 = 0xa076_1d64_78bd_642f;
const K1: u64 = 0xe703_7ed1_a0b4_28db;
const K2: u64 = 0x8ebc_6af0_9c88_c6e3;
const K3: u64 = 0x5899_65cc_7537_4cc3;

#[inline(always)]
fn mum(x: u64, y: u64) -> u64 {
    let r = (x as u128).wrapping_mul(y as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

impl Fingerprint {
    fn new() -> Self {
        Fingerprint { a: K0, b: K2 }
    }

    #[inline]
    fn word(&mut self, w: u64) {
        self.a = mum(self.a ^ w, K1);
        self.b = mum(self.b ^ w.rotate_left(29), K3);
    }

    #[inline(always)]
    fn write(&mut self, s: &[u8]) {
        let mut chunks = s.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        // The length ends every string, so ("ab","c") and ("a","bc") differ.
        self.word(tail_word(s) ^ ((s.len() as u64) << 56) ^ 0x9e37_79b9);
    }

    fn finish(&self) -> u128 {
        let a = mum(self.a ^ K2, self.b ^ K1);
        let b = mum(self.b ^ K0, a ^ K3);
        ((a as u128) << 64) | b as u128
    }
}

/// The last `s.len() % 8` bytes of `s` as a little-endian word, zero-padded: the same value as
/// copying them into a zeroed `[u8; 8]`, but from overlapping loads instead of a `memcpy`.
#[inline(always)]
fn tail_word(s: &[u8]) -> u64 {
    let r = s.len() % 8;
    let n = s.len();
    if r == 0 {
        0
    } else if n >= 8 {
        // The 8 bytes ending at the end of `s`; shift out those before the tail.
        let w = u64::from_le_bytes(s[n - 8..].try_into().expect("8 bytes"));
        w >> (8 * (8 - r))
    } else if n >= 4 {
        let lo = u32::from_le_bytes(s[..4].try_into().expect("4 bytes")) as u64;
        let hi = u32::from_le_bytes(s[n - 4..].try_into().expect("4 bytes")) as u64;
        lo | (hi << (8 * (n - 4)))
    } else {
        // 1 to 3 bytes: first, middle and last (overlapping when fewer).
        let (a, b, c) = (s[0] as u64, s[n / 2] as u64, s[n - 1] as u64);
        a | (b << (8 * (n / 2))) | (c << (8 * (n - 1)))
    }
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

    /// `fingerprint_refs` of the pairs in `tail_word_matches_zero_padded_copy`, recorded
    /// before `tail_word` replaced the copy into a zeroed buffer.
    const GOLDEN_FP: u128 = 0x52ca_546a_19b1_84c4_dd9b_5b9d_2df1_7b44;

    #[test]
    fn tail_word_matches_zero_padded_copy() {
        let data: Vec<u8> = (1..=40u8).map(|b| b.wrapping_mul(37)).collect();
        for start in 0..8 {
            for len in 0..=30 {
                let s = &data[start..start + len];
                let rest = &s[len - len % 8..];
                let mut tail = [0u8; 8];
                tail[..rest.len()].copy_from_slice(rest);
                assert_eq!(tail_word(s), u64::from_le_bytes(tail), "len {len}");
            }
        }
        // A golden value: the fingerprint must not change (limitk and limit_ratio use it).
        assert_eq!(
            fingerprint_refs(&[("__name__", "up"), ("instance", "host-1:9100"), ("j", "n")]),
            GOLDEN_FP
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
