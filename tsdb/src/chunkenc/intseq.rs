//! Integer sequences of the packed chunk encoding: an order 0, 1 or 2 difference transform,
//! then the residuals bit-packed (truncated binary codes around a midpoint, a few outliers
//! stored apart) or, when smaller, as zstd-compressed varints (read back by `intseq_read`).
//! Layout: FORMAT.md ("Packed").

use super::bstream::{put_uvarint, put_varint, uvarint_len, BitReader};

/// Residual coding: truncated binary bit-packing.
const CODING_PACKED: u8 = 0;
/// Residual coding: one zstd frame of zigzag varints.
pub(super) const CODING_ZSTD: u8 = 1;
/// Most outliers a packed residual stream stores apart.
const MAX_EXCEPTIONS: usize = 8;

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

/// Inverse of `zigzag`.
pub(super) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Appends bits most significant first through a small accumulator.
#[derive(Default)]
struct BitSink {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitSink {
    fn put(&mut self, v: u64, w: u32) {
        if w > 32 {
            self.put(v >> 32, w - 32);
            self.put(v & 0xffff_ffff, 32);
            return;
        }
        if w == 0 {
            return;
        }
        self.acc = (self.acc << w) | (v & ((1u64 << w) - 1));
        self.n += w;
        while self.n >= 8 {
            self.n -= 8;
            self.out.push((self.acc >> self.n) as u8);
        }
        self.acc &= (1u64 << self.n) - 1;
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push((self.acc << (8 - self.n)) as u8);
        }
        self.out
    }
}

/// Truncated binary code for `n` symbols: `k = ⌊log2 n⌋`, the first `u` symbols take k bits,
/// the others k + 1.
#[derive(Clone, Copy)]
pub(super) struct Tb {
    /// Bits of a short code.
    pub(super) k: u32,
    /// Symbols with a short code.
    pub(super) u: u128,
}

impl Tb {
    /// The code for symbols `0..=max_z`.
    pub(super) fn new(max_z: u64) -> Tb {
        let n = max_z as u128 + 1;
        let k = 127 - n.leading_zeros();
        Tb {
            k,
            u: (1u128 << (k + 1)) - n,
        }
    }

    /// Average bits per symbol when symbols are uniform.
    fn avg_bits(self, max_z: u64) -> f64 {
        let n = max_z as f64 + 1.0;
        self.k as f64 + 1.0 - self.u as f64 / n
    }

    fn put(self, s: &mut BitSink, z: u64) {
        if (z as u128) < self.u {
            s.put(z, self.k);
        } else {
            // z + u < 2^(k+1) ≤ 2^64 here (k = 64 only when u = 2^64 > every z).
            s.put((z as u128 + self.u) as u64, self.k + 1);
        }
    }

    /// Reads one code, bit by bit (for codes too long for a 64-bit window).
    pub(super) fn get(self, r: &mut BitReader) -> Option<u64> {
        let x = r.read_bits(self.k as u8)? as u128;
        if x < self.u {
            return Some(x as u64);
        }
        let x = (x << 1) | r.read_bit()? as u128;
        u64::try_from(x - self.u).ok()
    }
}

/// The value codes are centred on: `lo + ⌈(hi − lo) / 2⌉`, so that zigzag codes of
/// `lo..=hi` are exactly `0..=hi − lo` (`lo ≤ hi`).
fn midpoint(lo: i64, hi: i64) -> i64 {
    lo.wrapping_add(hi.abs_diff(lo).div_ceil(2) as i64)
}

/// Bits of `count` codes of `0..=max_z` at [`Tb::avg_bits`], rounded up to whole bytes: the
/// same floating-point operations as `(count × avg_bits / 8).ceil() × 8` with `Tb`, without its
/// 128-bit conversions or a libm call (this runs for every candidate window of every plan).
#[inline]
fn payload_bits(count: usize, max_z: u64) -> f64 {
    let avg = if max_z == u64::MAX {
        Tb::new(max_z).avg_bits(max_z)
    } else {
        let n = max_z + 1;
        let k = 63 - n.leading_zeros();
        // u = 2^(k+1) − n, in (0, 2^k] since 2^k ≤ n < 2^(k+1).
        let u = (1u64 << k) - (n - (1u64 << k));
        k as f64 + 1.0 - u as f64 / (max_z as f64 + 1.0)
    };
    let q = count as f64 * avg / 8.0;
    // q is finite, ≥ 0 and far below 2^63: truncation then +1 is its ceiling.
    let t = q as u64 as f64;
    (if t < q { t + 1.0 } else { t }) * 8.0
}

/// How one residual stream is packed: values outside `lo..=hi` are exceptions.
struct Plan {
    lo: i64,
    hi: i64,
    /// Estimated size in bits.
    bits: f64,
}

/// Chooses the window of residuals packed in bits (the rest stored apart) of least size.
fn plan(r: &[i64], scratch: &mut Vec<i64>) -> Plan {
    // Equal residuals (regular timestamps, constant series): the window of that one value
    // with no exceptions, which `plan_search` finds first and nothing else beats (an
    // exception only adds bits).
    if let Some(&v) = r.first().filter(|&&v| r.iter().all(|&x| x == v)) {
        return Plan {
            lo: v,
            hi: v,
            bits: 8.0 * (uvarint_len(zigzag(v)) + 2) as f64,
        };
    }
    plan_search(r, scratch)
}

/// [`plan`] by trying every split of up to `MAX_EXCEPTIONS` outliers between the two ends.
fn plan_search(r: &[i64], scratch: &mut Vec<i64>) -> Plan {
    let c = r.len();
    let e = MAX_EXCEPTIONS.min(c / 8);
    // The e + 1 smallest (ascending) and the e + 1 largest (descending).
    let (lows, highs): (Vec<i64>, Vec<i64>) = if c <= 2 * e + 2 {
        scratch.clear();
        scratch.extend_from_slice(r);
        scratch.sort_unstable();
        let h = scratch.iter().rev().take(e + 1).copied().collect();
        (scratch[..e + 1].to_vec(), h)
    } else {
        extremes(r, e + 1)
    };
    let exc_bits = |v: i64| 8.0 * (1 + uvarint_len(zigzag(v))) as f64;
    let mut best = Plan {
        lo: lows[0],
        hi: highs[0],
        bits: f64::INFINITY,
    };
    let mut low_cost = 0.0;
    for i in 0..=e {
        if i > 0 {
            low_cost += exc_bits(lows[i - 1]);
        }
        let mut high_cost = 0.0;
        for j in 0..=e - i {
            if j > 0 {
                high_cost += exc_bits(highs[j - 1]);
            }
            let (lo, hi) = (lows[i], highs[j]);
            if lo > hi {
                break;
            }
            let mid = midpoint(lo, hi);
            let max_z = zigzag(lo.wrapping_sub(mid)).max(zigzag(hi.wrapping_sub(mid)));
            let bits = payload_bits(c - i - j, max_z)
                + low_cost
                + high_cost
                + 8.0
                    * (uvarint_len(zigzag(mid)) + uvarint_len(max_z) + uvarint_len((i + j) as u64))
                        as f64;
            if bits < best.bits {
                best = Plan { lo, hi, bits };
            }
        }
    }
    best
}

/// The `k` smallest values of `r` in ascending order and the `k` largest in descending order
/// (`2k ≤ r.len()`, so no value is in both), in one pass: after the first `k` values, a value
/// enters a list only when it beats that list's current worst.
fn extremes(r: &[i64], k: usize) -> (Vec<i64>, Vec<i64>) {
    let mut lows: Vec<i64> = r[..k].to_vec();
    lows.sort_unstable();
    let mut highs: Vec<i64> = r[r.len() - k..].to_vec();
    highs.sort_unstable_by(|a, b| b.cmp(a));
    // Each list is seeded from its own end of `r`; the rest of `r` is offered to both lists,
    // and a seed of one list is offered to the other.
    let mut worst = lows[k - 1];
    for &v in &r[k..] {
        if v < worst {
            let at = lows.partition_point(|&x| x <= v);
            lows.pop();
            lows.insert(at, v);
            worst = lows[k - 1];
        }
    }
    let mut worst = highs[k - 1];
    for &v in &r[..r.len() - k] {
        if v > worst {
            let at = highs.partition_point(|&x| x >= v);
            highs.pop();
            highs.insert(at, v);
            worst = highs[k - 1];
        }
    }
    (lows, highs)
}

/// Writes residuals packed by `p`.
fn put_packed(out: &mut Vec<u8>, r: &[i64], p: &Plan) {
    let mid = midpoint(p.lo, p.hi);
    let inside = |v: i64| v >= p.lo && v <= p.hi;
    let max_z = r
        .iter()
        .filter(|&&v| inside(v))
        .map(|&v| zigzag(v.wrapping_sub(mid)))
        .max()
        .unwrap_or(0);
    put_varint(out, mid);
    put_uvarint(out, max_z);
    put_uvarint(out, r.iter().filter(|&&v| !inside(v)).count() as u64);
    let mut next = 0;
    for (i, &v) in r.iter().enumerate() {
        if !inside(v) {
            put_uvarint(out, (i - next) as u64);
            put_varint(out, v);
            next = i + 1;
        }
    }
    let tb = Tb::new(max_z);
    let mut s = BitSink {
        out: std::mem::take(out),
        ..Default::default()
    };
    for &v in r.iter().filter(|&&v| inside(v)) {
        tb.put(&mut s, zigzag(v.wrapping_sub(mid)));
    }
    *out = s.finish();
}

/// The first `min(order, len)` terms of the order's transform and its residuals.
fn transform(xs: &[i64], order: usize, prefix: &mut Vec<i64>, r: &mut Vec<i64>) {
    prefix.clear();
    r.clear();
    match order {
        0 => r.extend_from_slice(xs),
        1 => {
            prefix.extend(xs.first());
            r.extend(xs.windows(2).map(|w| w[1].wrapping_sub(w[0])));
        }
        _ => {
            prefix.extend(xs.first());
            if xs.len() >= 2 {
                prefix.push(xs[1].wrapping_sub(xs[0]));
            }
            r.extend(xs.windows(3).map(|w| {
                w[2].wrapping_sub(w[1])
                    .wrapping_sub(w[1].wrapping_sub(w[0]))
            }));
        }
    }
}

/// Greatest common divisor of the residuals' magnitudes when it is at least 2 (e.g. byte
/// counts in whole pages), else 1.
fn common_factor(r: &[i64]) -> i64 {
    let mut g = 0u64;
    for &v in r {
        let mut a = v.unsigned_abs();
        // Most residuals of a sequence with a factor are multiples of the factor found so far
        // (often equal to it): no Euclid steps then.
        if a == g || (g != 0 && a % g == 0) {
            continue;
        }
        while a != 0 {
            (g, a) = (a, g % a);
        }
        if g == 1 {
            return 1;
        }
    }
    i64::try_from(g).ok().filter(|&g| g >= 2).unwrap_or(1)
}

/// Flag in a sequence header: the residuals are multiples of a factor written after the prefix.
pub(super) const SCALED: u8 = 0x04;

/// Appends `xs` (at least one value) to `out`, choosing the order and coding of least size.
pub(super) fn put_ints(out: &mut Vec<u8>, xs: &[i64]) {
    let (mut prefix, mut r, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
    let mut best: Option<(usize, i64, Plan)> = None;
    for order in 0..=2 {
        transform(xs, order, &mut prefix, &mut r);
        let prefix_bits = prefix
            .iter()
            .map(|&v| 8.0 * uvarint_len(zigzag(v)) as f64)
            .sum::<f64>();
        if r.is_empty() {
            let p = Plan {
                lo: 0,
                hi: 0,
                bits: prefix_bits,
            };
            if best.as_ref().is_none_or(|(_, _, b)| p.bits < b.bits) {
                best = Some((order, 1, p));
            }
            continue;
        }
        let g = common_factor(&r);
        // Unscaled first, then (when there is a factor) scaled: the factor costs its bytes.
        for scale in [1, g] {
            if scale > 1 {
                r.iter_mut().for_each(|v| *v /= scale);
            }
            let mut p = plan(&r, &mut scratch);
            p.bits += prefix_bits;
            if scale > 1 {
                p.bits += 8.0 * uvarint_len(scale as u64) as f64;
            }
            if best.as_ref().is_none_or(|(_, _, b)| p.bits < b.bits) {
                best = Some((order, scale, p));
            }
            if scale == g {
                break;
            }
        }
    }
    let (order, g, p) = best.expect("three orders tried");
    transform(xs, order, &mut prefix, &mut r);
    let flags = order as u8 | if g > 1 { SCALED } else { 0 };
    let head = out.len();
    out.push(flags | CODING_PACKED << 4);
    for &v in &prefix {
        put_varint(out, v);
    }
    if r.is_empty() {
        return;
    }
    if g > 1 {
        put_uvarint(out, g as u64);
        r.iter_mut().for_each(|v| *v /= g);
    }
    let body = out.len();
    put_packed(out, &r, &p);
    // Skewed or repetitive residuals (few distinct values, runs) can do better under zstd.
    let packed_len = out.len() - body;
    if packed_len >= 32 && Tb::new(p.hi.abs_diff(p.lo)).k <= 10 {
        let mut v = Vec::with_capacity(r.len() * 2);
        for &x in &r {
            put_varint(&mut v, x);
        }
        let z = super::zstd_ctx::compress(&v);
        if z.len() + uvarint_len(z.len() as u64) < packed_len {
            out.truncate(body);
            out[head] = flags | CODING_ZSTD << 4;
            put_uvarint(out, z.len() as u64);
            out.extend_from_slice(&z);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::intseq_read::get_ints;
    use super::*;

    fn rt(xs: &[i64]) -> usize {
        let mut b = Vec::new();
        put_ints(&mut b, xs);
        let (mut pos, mut out) = (0, Vec::new());
        get_ints(&b, &mut pos, xs.len(), &mut out).unwrap();
        assert_eq!(out, xs);
        assert_eq!(pos, b.len());
        b.len()
    }

    #[test]
    fn sequences_round_trip() {
        rt(&[0]);
        rt(&[i64::MIN, i64::MAX, 0, -1, i64::MAX, i64::MIN]);
        rt(&[7; 100]);
        let regular: Vec<i64> = (0..480).map(|i| 1_700_000_000_000 + i * 15_000).collect();
        // Equal deltas: the prefix and a 3-byte empty residual header.
        assert!(rt(&regular) <= 16, "{}", rt(&regular));
        let mut x = 0i64;
        let walk: Vec<i64> = (0..1000)
            .map(|i| {
                x += (i * 7919 % 1000) - 500 + if i == 500 { 1 << 40 } else { 0 };
                x
            })
            .collect();
        rt(&walk);
        let small: Vec<i64> = (0..480).map(|i| [0, 0, 1, -1, 0][i % 5]).collect();
        rt(&small);
        // Page-sized steps: the residuals' common factor is taken out.
        let pages: Vec<i64> = (0..480)
            .map(|i| 2_100_000_000 + (i * 7919 % 1000) * 4096)
            .collect();
        assert!(rt(&pages) < 480 * 11 / 8 + 24, "{}", rt(&pages));
        rt(&[i64::MIN, 0, i64::MIN, 0]);
    }

    proptest::proptest! {
        #[test]
        fn extremes_match_a_sort(
            r in proptest::collection::vec(-20i64..20, 2..300),
            k in 1usize..10,
        ) {
            let k = k.min(r.len() / 2);
            let mut sorted = r.clone();
            sorted.sort_unstable();
            let (lows, highs) = extremes(&r, k);
            proptest::prop_assert_eq!(&lows[..], &sorted[..k]);
            let top: Vec<i64> = sorted.iter().rev().take(k).copied().collect();
            proptest::prop_assert_eq!(highs, top);
        }
    }

    #[test]
    fn equal_residuals_plan_as_the_search_does() {
        for v in [0, 1, -1, 15_000, 4096, i64::MIN, i64::MAX, -(1 << 40)] {
            for len in [1, 2, 7, 8, 17, 119, 480, 1440] {
                let r = vec![v; len];
                let (a, b) = (plan(&r, &mut Vec::new()), plan_search(&r, &mut Vec::new()));
                assert_eq!((a.lo, a.hi), (b.lo, b.hi), "{v} × {len}");
                assert_eq!(a.bits.to_bits(), b.bits.to_bits(), "{v} × {len}");
            }
        }
    }

    #[test]
    fn payload_bits_match_the_code_average() {
        let mut zs: Vec<u64> = (0..300).collect();
        for b in 1..64 {
            zs.extend([
                (1u64 << b) - 1,
                1 << b,
                (1 << b) + 1,
                (1u64 << b) + (1 << (b - 1)),
            ]);
        }
        zs.extend([u64::MAX - 1, u64::MAX, 1_000_000_007, 0x5555_5555_5555_5555]);
        for &z in &zs {
            for count in [0usize, 1, 7, 8, 9, 100, 471, 480, 65_536] {
                let by_tb = (count as f64 * Tb::new(z).avg_bits(z) / 8.0).ceil() * 8.0;
                assert_eq!(
                    payload_bits(count, z).to_bits(),
                    by_tb.to_bits(),
                    "{z} {count}"
                );
            }
        }
    }

    #[test]
    fn midpoint_centres_codes() {
        for (lo, hi) in [
            (0, 0),
            (-3, 4),
            (i64::MIN, i64::MAX),
            (i64::MIN, 0),
            (5, i64::MAX),
        ] {
            let range = (hi as i128 - lo as i128) as u128;
            assert_eq!(midpoint(lo, hi), lo.wrapping_add(range.div_ceil(2) as i64));
            let mid = midpoint(lo, hi);
            let z = zigzag(lo.wrapping_sub(mid)).max(zigzag(hi.wrapping_sub(mid)));
            assert_eq!(z, hi.abs_diff(lo));
        }
    }

    #[test]
    fn truncated_binary_codes() {
        for max_z in [0u64, 1, 2, 5, 6, 7, 8, 1000, u64::MAX - 1, u64::MAX] {
            let tb = Tb::new(max_z);
            let zs: Vec<u64> = [0, 1, max_z / 2, max_z.saturating_sub(1), max_z]
                .into_iter()
                .filter(|&z| z <= max_z)
                .collect();
            let mut s = BitSink::default();
            for &z in &zs {
                tb.put(&mut s, z);
            }
            let bytes = s.finish();
            let mut r = BitReader::new(&bytes);
            for &z in &zs {
                assert_eq!(tb.get(&mut r), Some(z), "max_z {max_z}");
            }
        }
    }
}
