//! The head's series lookup: label fingerprint → series ref in a compact open-addressing table.
//!
//! Design constraints:
//! - Keys are 128-bit label fingerprints, already uniformly random: the slot index is the low
//!   bits of the fingerprint, no further hashing.
//! - Linear probing with backward-shift deletion (no tombstones), load factor at most 3/4.
//! - A slot is 24 bytes (the fingerprint as two `u64` and the ref); [`SeriesTable::prefetch`]
//!   lets a batch issue the cache misses of many lookups at once before probing them.

/// Marks an empty slot (refs are `u32`, and `u32::MAX` is never handed out).
const EMPTY: u32 = u32::MAX;

/// Smallest table (slots).
const MIN_SLOTS: usize = 1024;

#[derive(Clone, Copy)]
struct Slot {
    lo: u64,
    hi: u64,
    r: u32,
}

const EMPTY_SLOT: Slot = Slot {
    lo: 0,
    hi: 0,
    r: EMPTY,
};

/// Fingerprint → series ref.
pub(crate) struct SeriesTable {
    slots: Vec<Slot>,
    len: usize,
}

impl Default for SeriesTable {
    fn default() -> Self {
        SeriesTable {
            slots: vec![EMPTY_SLOT; MIN_SLOTS],
            len: 0,
        }
    }
}

#[inline(always)]
fn split(fp: u128) -> (u64, u64) {
    (fp as u64, (fp >> 64) as u64)
}

impl SeriesTable {
    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Hints the CPU to load the slot `fp` starts probing at (no effect on results).
    #[inline(always)]
    pub fn prefetch(&self, fp: u128) {
        let i = (fp as u64 as usize) & self.mask();
        crate::prefetch::read(&self.slots[i]);
    }

    /// The ref stored for `fp`.
    #[inline]
    pub fn get(&self, fp: u128) -> Option<u32> {
        let (lo, hi) = split(fp);
        let mask = self.mask();
        let mut i = lo as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.r == EMPTY {
                return None;
            }
            if s.lo == lo && s.hi == hi {
                return Some(s.r);
            }
            i = (i + 1) & mask;
        }
    }

    /// Stores `r` for `fp`, replacing an existing entry.
    pub fn insert(&mut self, fp: u128, r: u32) {
        debug_assert!(r != EMPTY, "BUG: ref u32::MAX");
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        if self.put(fp, r) {
            self.len += 1;
        }
    }

    /// Places an entry; true when it was new.
    fn put(&mut self, fp: u128, r: u32) -> bool {
        let (lo, hi) = split(fp);
        let mask = self.mask();
        let mut i = lo as usize & mask;
        loop {
            let s = &mut self.slots[i];
            if s.r == EMPTY {
                *s = Slot { lo, hi, r };
                return true;
            }
            if s.lo == lo && s.hi == hi {
                s.r = r;
                return false;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let bigger = vec![EMPTY_SLOT; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        for s in old.into_iter().filter(|s| s.r != EMPTY) {
            self.put(((s.hi as u128) << 64) | s.lo as u128, s.r);
        }
    }

    /// Removes the entry for `fp` if it maps to `r`.
    pub fn remove_if(&mut self, fp: u128, r: u32) {
        let (lo, hi) = split(fp);
        let mask = self.mask();
        let mut i = lo as usize & mask;
        loop {
            let s = self.slots[i];
            if s.r == EMPTY {
                return;
            }
            if s.lo == lo && s.hi == hi {
                if s.r != r {
                    return;
                }
                break;
            }
            i = (i + 1) & mask;
        }
        // Backward-shift deletion: move later entries of the probe run into the hole when
        // their home slot is not cyclically inside (hole, their position].
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s.r == EMPTY {
                break;
            }
            let home = s.lo as usize & mask;
            let dist_home = j.wrapping_sub(home) & mask;
            let dist_hole = j.wrapping_sub(hole) & mask;
            if dist_home >= dist_hole {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = EMPTY_SLOT;
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn matches_a_hashmap_under_inserts_and_removes() {
        let mut t = SeriesTable::default();
        let mut m: HashMap<u128, u32> = HashMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Few distinct low words force long probe runs; half of them start at the table's
        // end, so runs wrap around.
        let keys: Vec<u128> = (0..5000u64)
            .map(|i| {
                let lo = if i % 2 == 0 {
                    i % 37
                } else {
                    u64::MAX - i % 37
                };
                ((next() as u128) << 64) | lo as u128
            })
            .collect();
        for round in 0..20_000u32 {
            let k = keys[(next() % keys.len() as u64) as usize];
            if next() % 3 == 0 {
                if let Some(&r) = m.get(&k) {
                    t.remove_if(k, r + 1); // wrong ref: nothing happens
                    t.remove_if(k, r);
                    m.remove(&k);
                }
            } else {
                t.insert(k, round);
                m.insert(k, round);
            }
            if round % 997 == 0 {
                for k in &keys {
                    assert_eq!(t.get(*k), m.get(k).copied());
                }
            }
        }
        assert_eq!(t.len(), m.len());
        for k in &keys {
            t.prefetch(*k);
            assert_eq!(t.get(*k), m.get(k).copied());
        }
    }
}
