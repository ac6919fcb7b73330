//! Integer sequences of the packed chunk encoding: an order 0, 1 or 2 difference transform,
//! then the residuals bit-packed (truncated binary codes around a midpoint, a few outliers
//! stored apart) or, when smaller, as zstd-compressed varints (read back by `intseq_read`).
//! Layout: FORMAT.md ("Packed").

use super::bstream::{put_uvarint, put_varint, BitReader};

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

fn uvarint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
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
/// `lo..=hi` are exactly `0..=hi − lo`.
fn midpoint(lo: i64, hi: i64) -> i64 {
    let range = (hi as i128 - lo as i128) as u128;
    lo.wrapping_add(range.div_ceil(2) as i64)
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
    let c = r.len();
    let e = MAX_EXCEPTIONS.min(c / 8);
    scratch.clear();
    scratch.extend_from_slice(r);
    // The e + 1 smallest (ascending) at the front, the e + 1 largest (descending) at the back.
    let (lows, highs): (Vec<i64>, Vec<i64>) = if c <= 2 * e + 2 {
        scratch.sort_unstable();
        let h = scratch.iter().rev().take(e + 1).copied().collect();
        (scratch[..e + 1].to_vec(), h)
    } else {
        scratch.select_nth_unstable(e);
        let mut l = scratch[..=e].to_vec();
        l.sort_unstable();
        let rest = &mut scratch[e + 1..];
        let len = rest.len();
        rest.select_nth_unstable(len - e - 1);
        let mut h = rest[len - e - 1..].to_vec();
        h.sort_unstable_by(|a, b| b.cmp(a));
        (l, h)
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
            let tb = Tb::new(max_z);
            let payload = (c - i - j) as f64 * tb.avg_bits(max_z);
            let bits = (payload / 8.0).ceil() * 8.0
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
