//! A head series' label set as (name, value) symbol ids, held as varints in one exact-size
//! allocation.
//!
//! Design constraints:
//! - The head holds one per series; as `(u32, u32)` pairs a set of ~8 labels took 64 bytes
//!   (80 with malloc's header). Symbol ids are small (names are few, values are numbered in
//!   order of first use), so varints take 3–4 bytes a pair.
//! - A set is written once, at series creation, and read in order (matching, sorting,
//!   building label strings); nothing needs random access.
//!
//! Encoding: per pair, the name id then the value id, each a uvarint.

use crate::chunkenc::bstream_util::{get_uvarint, put_uvarint};

/// The label pairs of one head series as symbol ids, in label-name order.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub(crate) struct LabelIds {
    bytes: Box<[u8]>,
}

impl LabelIds {
    /// Codes `pairs` (kept in the order given).
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (u32, u32)>) -> LabelIds {
        let mut out = Vec::new();
        for (n, v) in pairs {
            put_uvarint(&mut out, n as u64);
            put_uvarint(&mut out, v as u64);
        }
        LabelIds {
            bytes: out.into_boxed_slice(),
        }
    }

    /// The pairs in order.
    pub(crate) fn iter(&self) -> Pairs<'_> {
        Pairs {
            bytes: &self.bytes,
            pos: 0,
        }
    }

    /// The pairs as a vector.
    pub(crate) fn to_vec(&self) -> Vec<(u32, u32)> {
        self.iter().collect()
    }
}

/// Iterator over a [`LabelIds`]' pairs.
pub(crate) struct Pairs<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Iterator for Pairs<'_> {
    type Item = (u32, u32);

    fn next(&mut self) -> Option<(u32, u32)> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let bug = "BUG: label ids written by LabelIds::from_pairs";
        let n = get_uvarint(self.bytes, &mut self.pos).expect(bug) as u32;
        let v = get_uvarint(self.bytes, &mut self.pos).expect(bug) as u32;
        Some((n, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(pairs in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..40)) {
            let ids = LabelIds::from_pairs(pairs.iter().copied());
            prop_assert_eq!(ids.to_vec(), pairs);
        }
    }

    #[test]
    fn small_ids_take_a_byte_each() {
        let ids = LabelIds::from_pairs([(0, 5), (3, 127), (4, 128)]);
        assert_eq!(ids.bytes.len(), 7);
        assert_eq!(ids.iter().count(), 3);
    }
}
