//! A moving window's values kept sorted, so `quantile_over_time` over windows that overlap
//! (a 1 h window every 2 min shares 232 of its 240 samples with the previous one) inserts and
//! removes the samples that enter and leave instead of selecting ranks anew in each window.

use super::aggregate::quantile_by_ranks;

/// A sort key of `v` that orders as Go's `sort.Float64s` (NaNs first, then by value) and
/// breaks its ties (-0 and 0, NaN payloads) by bits, so equal keys are equal values.
fn key(v: f64) -> u128 {
    let b = v.to_bits();
    if v.is_nan() {
        return u128::from(b);
    }
    // IEEE total order as an unsigned integer, above every NaN.
    let total = if b >> 63 == 1 { !b } else { b | (1 << 63) };
    (1 << 64) | u128::from(total)
}

/// The value whose [`key`] is `k`.
fn value(k: u128) -> f64 {
    let low = k as u64;
    if k >> 64 == 0 {
        return f64::from_bits(low);
    }
    f64::from_bits(if low >> 63 == 1 {
        low & !(1 << 63)
    } else {
        !low
    })
}

/// The values of samples `a..b` of one series, sorted by [`key`].
#[derive(Default)]
pub(crate) struct SortedWindow {
    keys: Vec<u128>,
    a: usize,
    b: usize,
}

impl SortedWindow {
    /// Makes the window hold samples `a..b` of `s` (the same series on every call).
    pub fn move_to(&mut self, s: &[(i64, f64)], a: usize, b: usize) {
        let forward = a >= self.a && b >= self.b && a <= self.b;
        // Sliding moves keys by one position per sample that enters or leaves.
        let slid = forward && (a - self.a) + (b - self.b) <= (b - a) / 2 && self.slide(s, a, b);
        if !slid {
            self.keys.clear();
            self.keys.extend(s[a..b].iter().map(|x| key(x.1)));
            self.keys.sort_unstable();
        }
        self.a = a;
        self.b = b;
    }

    /// The window without the samples before `a` and with those from the old end to `b`;
    /// false (the window then needs a rebuild) if a value to remove is missing. A sample
    /// that leaves is paired with one that enters: only the keys between the two positions
    /// move.
    fn slide(&mut self, s: &[(i64, f64)], a: usize, b: usize) -> bool {
        let (leave, enter) = (&s[self.a..a], &s[self.b..b]);
        let keys = &mut self.keys;
        for (i, x) in leave.iter().enumerate() {
            let Ok(p) = keys.binary_search(&key(x.1)) else {
                return false;
            };
            match enter.get(i) {
                Some(y) => {
                    let k = key(y.1);
                    let q = keys.partition_point(|&z| z < k);
                    if q > p {
                        keys.copy_within(p + 1..q, p);
                        keys[q - 1] = k;
                    } else {
                        keys.copy_within(q..p, q + 1);
                        keys[q] = k;
                    }
                }
                None => {
                    keys.remove(p);
                }
            }
        }
        for y in enter.iter().skip(leave.len()) {
            let k = key(y.1);
            let q = keys.partition_point(|&z| z < k);
            keys.insert(q, k);
        }
        true
    }

    /// The number of values in the window.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The φ-quantile of the window's values, as [`super::aggregate::quantile`] computes it.
    pub fn quantile(&self, q: f64) -> f64 {
        quantile_by_ranks(q, self.keys.len(), |lo, up| {
            (value(self.keys[lo]), value(self.keys[up]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SortedWindow;
    use super::{key, value};
    use crate::promql::aggregate::quantile;
    use proptest::prelude::*;

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Keys order as Go sorts floats and give back the same bits.
    #[test]
    fn keys_order_as_go_and_round_trip() {
        let vals = [
            f64::NAN,
            -f64::NAN,
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            1.0,
            f64::INFINITY,
        ];
        for (i, x) in vals.iter().enumerate() {
            assert_eq!(value(key(*x)).to_bits(), x.to_bits());
            for y in &vals[i + 1..] {
                let go = crate::promql::aggregate::go_float_cmp(x, y);
                assert!(go != std::cmp::Ordering::Greater, "{x} {y}");
                if go == std::cmp::Ordering::Less {
                    assert!(key(*x) < key(*y), "{x} {y}");
                }
            }
        }
    }

    proptest! {
        /// Over windows that move forward (and now and then jump back, as under `@`), the
        /// sorted window's quantile equals selecting the ranks in the window's samples.
        #[test]
        fn sliding_quantile_equals_selection(
            vals in proptest::collection::vec(prop_oneof![
                8 => (-50i32..50).prop_map(f64::from),
                1 => Just(f64::NAN),
                1 => Just(-0.0),
                1 => Just(f64::INFINITY),
            ], 1..200),
            moves in proptest::collection::vec((0usize..12, 0usize..40, 0u8..20), 1..60),
            q in prop_oneof![0.0f64..=1.0, Just(0.5), Just(1.0), Just(-1.0), Just(f64::NAN)],
        ) {
            let s: Vec<(i64, f64)> = vals.iter().enumerate().map(|(i, v)| (i as i64, *v)).collect();
            let mut w = SortedWindow::default();
            let (mut a, mut b) = (0usize, 0usize);
            for (step, len, jump) in moves {
                if jump == 0 {
                    a = step.min(s.len());
                } else {
                    a = (a + step).min(s.len());
                }
                b = (a + len).min(s.len()).max(b.min(s.len())).max(a);
                if b == a {
                    continue;
                }
                w.move_to(&s, a, b);
                let want = quantile(q, &mut vals[a..b].to_vec());
                let got = w.quantile(q);
                // Equal values that differ in bits (-0 and 0) may sit at a rank either way.
                prop_assert!(same(want, got) || (want == 0.0 && got == 0.0), "{want} != {got} in {a}..{b}");
                prop_assert_eq!(b - a, w.len());
            }
        }
    }
}
