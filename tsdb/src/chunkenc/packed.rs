//! The packed encoding of blocks (0x11): timestamps and decimal mantissas as integer
//! sequences (see `intseq`), values that are not decimals stored apart, or, when most values
//! are not decimals, XOR'd raw bits in byte planes under zstd. Layout: FORMAT.md ("Packed").

use super::bstream::{get_uvarint, put_uvarint};
use super::dense::decimal_exponent;
use super::intseq::put_ints;
use super::intseq_read::get_ints_into;
use super::ChunkError;

const MODE_DECIMAL: u8 = 1;
const MODE_RAW: u8 = 2;
/// Largest sample count a packed chunk may announce (guards allocation on decode).
pub const MAX_PACKED_SAMPLES: usize = 1 << 16;

/// The decimal exponent of a chunk and which values it cannot reproduce bit for bit.
struct Decimal {
    exp: u8,
    /// Per value: its mantissa, or None for a value stored apart.
    mantissas: Vec<Option<i64>>,
    specials: usize,
}

/// Picks the smallest exponent that leaves at most n/32 more values apart than exponent 9.
fn decimal(samples: &[(i64, f64)]) -> Decimal {
    let mut hist = [0usize; 11];
    for &(_, v) in samples {
        hist[decimal_exponent(v).map_or(10, |e| e as usize)] += 1;
    }
    let n = samples.len();
    let bad = |e: usize| hist[e + 1..].iter().sum::<usize>();
    let exp = (0..=9).find(|&e| bad(e) <= bad(9) + n / 32).unwrap_or(9) as u8;
    let p = 10f64.powi(exp as i32);
    let mantissas: Vec<Option<i64>> = samples
        .iter()
        .map(|&(_, v)| {
            let m = (v * p).round();
            // Checked exactly as decoded (an integer mantissa: -0 and NaN go apart).
            (m.abs() < 9.0e15 && ((m as i64) as f64 / p).to_bits() == v.to_bits())
                .then_some(m as i64)
        })
        .collect();
    let specials = mantissas.iter().filter(|m| m.is_none()).count();
    Decimal {
        exp,
        mantissas,
        specials,
    }
}

/// Encodes time-sorted samples (at most [`MAX_PACKED_SAMPLES`]); decoding gives back every
/// value's bits exactly.
pub fn encode_packed(samples: &[(i64, f64)]) -> Vec<u8> {
    assert!(
        samples.len() <= MAX_PACKED_SAMPLES,
        "BUG: packed chunk of {} samples",
        samples.len()
    );
    let mut out = Vec::with_capacity(samples.len() + 32);
    put_uvarint(&mut out, samples.len() as u64);
    if samples.is_empty() {
        return out;
    }
    let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
    put_ints(&mut out, &ts);
    let d = decimal(samples);
    if d.specials * 4 <= samples.len() {
        out.push(MODE_DECIMAL);
        out.push(d.exp);
        put_uvarint(&mut out, d.specials as u64);
        let mut next = 0;
        for (i, (m, &(_, v))) in d.mantissas.iter().zip(samples).enumerate() {
            if m.is_none() {
                put_uvarint(&mut out, (i - next) as u64);
                out.extend_from_slice(&v.to_bits().to_le_bytes());
                next = i + 1;
            }
        }
        // A value stored apart repeats the previous mantissa (the first one found before).
        let first = d.mantissas.iter().flatten().next().copied().unwrap_or(0);
        let mut prev = first;
        let ms: Vec<i64> = d
            .mantissas
            .iter()
            .map(|m| {
                prev = m.unwrap_or(prev);
                prev
            })
            .collect();
        put_ints(&mut out, &ms);
    } else {
        out.push(MODE_RAW);
        // XOR with the previous value's bits, then byte plane by byte plane (low byte first).
        let n = samples.len();
        let mut planes = vec![0u8; n * 8];
        let mut prev = 0u64;
        for (i, &(_, v)) in samples.iter().enumerate() {
            let x = v.to_bits() ^ prev;
            prev = v.to_bits();
            for (b, byte) in x.to_le_bytes().into_iter().enumerate() {
                planes[b * n + i] = byte;
            }
        }
        let z = super::zstd_ctx::compress(&planes);
        put_uvarint(&mut out, z.len() as u64);
        out.extend_from_slice(&z);
    }
    out
}

thread_local! {
    /// Timestamps, then mantissas, of the chunk being decoded on this thread.
    static INTS: std::cell::RefCell<Vec<i64>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn bad(d: &str) -> ChunkError {
    ChunkError::Invalid(format!("packed chunk: {d}"))
}

/// Sets each value of `dst` to its mantissa `/ 10^exp`, computed exactly as the encoder
/// checked it (`(m as f64) / 10^exp`, bit for bit).
fn mantissas_to_values(ms: &[i64], exp: u8, dst: &mut [(i64, f64)]) {
    if exp == 0 {
        // x / 1 is x.
        for (d, &m) in dst.iter_mut().zip(ms) {
            d.1 = m as f64;
        }
        return;
    }
    let p = 10f64.powi(exp as i32);
    for (d, &m) in dst.iter_mut().zip(ms) {
        d.1 = m as f64 / p;
    }
}

/// Decodes a packed chunk, appending its samples to `out` (left as it was on error).
pub fn decode_packed(b: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), ChunkError> {
    let start = out.len();
    let r = INTS.with(|ints| decode_into(b, out, &mut ints.borrow_mut()));
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// [`decode_packed`] with `ints` as scratch: the samples are written in place, timestamps
/// first, then values (specials patched in after the decimal ones).
fn decode_into(b: &[u8], out: &mut Vec<(i64, f64)>, ints: &mut Vec<i64>) -> Result<(), ChunkError> {
    let mut pos = 0;
    let n = get_uvarint(b, &mut pos).ok_or_else(|| bad("count"))?;
    if n > MAX_PACKED_SAMPLES as u64 {
        return Err(bad("count too large"));
    }
    let n = n as usize;
    if n == 0 {
        return Ok(());
    }
    ints.clear();
    ints.resize(n, 0);
    get_ints_into(b, &mut pos, ints)?;
    let mode = *b.get(pos).ok_or_else(|| bad("mode missing"))?;
    pos += 1;
    let start = out.len();
    out.extend(ints.iter().map(|&t| (t, 0.0)));
    let dst = &mut out[start..];
    match mode {
        MODE_DECIMAL => {
            let exp = *b.get(pos).ok_or_else(|| bad("exponent missing"))?;
            pos += 1;
            if exp > 9 {
                return Err(bad("exponent out of range"));
            }
            let ns = get_uvarint(b, &mut pos).ok_or_else(|| bad("special count"))?;
            if ns > n as u64 {
                return Err(bad("too many special values"));
            }
            // Specials are checked here and patched in after the mantissas that follow them.
            let specials = pos;
            let mut next = 0usize;
            for _ in 0..ns {
                let gap = get_uvarint(b, &mut pos).ok_or_else(|| bad("special position"))?;
                let i = usize::try_from(gap)
                    .ok()
                    .and_then(|g| next.checked_add(g))
                    .filter(|&i| i < n)
                    .ok_or_else(|| bad("special position out of range"))?;
                if b.len() < pos + 8 {
                    return Err(bad("special value truncated"));
                }
                pos += 8;
                next = i + 1;
            }
            get_ints_into(b, &mut pos, ints)?;
            mantissas_to_values(ints, exp, dst);
            let (mut sp, mut next) = (specials, 0usize);
            for _ in 0..ns {
                let i = next + get_uvarint(b, &mut sp).expect("checked above") as usize;
                let bits = u64::from_le_bytes(b[sp..sp + 8].try_into().expect("8 bytes"));
                sp += 8;
                dst[i].1 = f64::from_bits(bits);
                next = i + 1;
            }
        }
        MODE_RAW => {
            let len = get_uvarint(b, &mut pos).ok_or_else(|| bad("raw length"))? as usize;
            let frame = b
                .get(pos..pos.saturating_add(len))
                .ok_or_else(|| bad("raw values truncated"))?;
            super::zstd_ctx::decompress_with(frame, n * 8, |planes| {
                if planes.len() != n * 8 {
                    return Err(bad("raw values truncated"));
                }
                let mut prev = 0u64;
                for (i, d) in dst.iter_mut().enumerate() {
                    let mut x = [0u8; 8];
                    for (b, byte) in x.iter_mut().enumerate() {
                        *byte = planes[b * n + i];
                    }
                    prev ^= u64::from_le_bytes(x);
                    d.1 = f64::from_bits(prev);
                }
                Ok(())
            })
            .map_err(|e| bad(&format!("zstd: {e}")))??;
        }
        _ => return Err(bad("unknown value mode")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rt(samples: &[(i64, f64)]) -> usize {
        let enc = encode_packed(samples);
        let mut out = Vec::new();
        decode_packed(&enc, &mut out).unwrap();
        let a: Vec<_> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        let b: Vec<_> = out.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(a, b);
        enc.len()
    }

    #[test]
    fn modes_round_trip() {
        rt(&[]);
        rt(&[(5, 1.0)]);
        rt(&[
            (i64::MIN, f64::MAX),
            (i64::MAX, f64::MIN_POSITIVE),
            (0, 5e-324),
        ]);
        let c: Vec<_> = (0..500)
            .map(|i| (i * 15_000 + (i % 7), 1234.56 + i as f64 * 0.01))
            .collect();
        rt(&c);
        // One non-decimal value among decimals goes apart; the chunk stays decimal.
        let mut d: Vec<(i64, f64)> = (0..100).map(|i| (i * 15_000, i as f64)).collect();
        d[50].1 = 0.1 + 0.2;
        assert!(rt(&d) < 40, "{}", rt(&d));
        rt(&[(1, 0.1), (2, 0.2), (3, 0.30000000000000004)]);
        let max: Vec<_> = (0..MAX_PACKED_SAMPLES as i64)
            .map(|i| (i, i as f64))
            .collect();
        rt(&max);
    }

    #[test]
    fn garbage_is_an_error_or_samples() {
        let mut out = Vec::new();
        assert!(decode_packed(&[0x80, 0x80, 0x80, 0x04], &mut out).is_err());
        let enc = encode_packed(&[(1, 1.5), (2, 2.5), (4, f64::NAN)]);
        for n in 0..enc.len() {
            assert!(decode_packed(&enc[..n], &mut out).is_err());
        }
    }

    #[test]
    fn flipped_bits_never_panic() {
        // Every single-bit change of valid chunks (all modes, exceptions, factors) decodes to
        // an error or to samples that re-encode to the same bits, as the fuzz target checks.
        let mut d: Vec<(i64, f64)> = (0..64)
            .map(|i| (i * 15_000 + (i % 3), (i * 4096 + (i % 5) * 8192) as f64))
            .collect();
        d[20].1 = f64::NAN;
        d[40].1 += 1e9;
        let raw: Vec<(i64, f64)> = (0..32)
            .map(|i| (i, f64::from_bits(i as u64 * 977)))
            .collect();
        for enc in [encode_packed(&d), encode_packed(&raw)] {
            for bit in 0..enc.len() * 8 {
                let mut b = enc.clone();
                b[bit / 8] ^= 1 << (bit % 8);
                let mut out = Vec::new();
                if decode_packed(&b, &mut out).is_ok() {
                    rt(&out);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn prop_round_trip(ts in proptest::collection::vec(any::<i64>(), 0..300), bits in proptest::collection::vec(any::<u64>(), 300), dec in 0u8..3) {
            let samples: Vec<(i64, f64)> = ts.iter().enumerate().map(|(i, &t)| {
                let v = match dec {
                    0 => (bits[i] % 100_000) as f64 / 100.0,
                    1 if bits[i] % 16 == 0 => f64::from_bits(bits[i]),
                    1 => (bits[i] % 7) as f64,
                    _ => f64::from_bits(bits[i]),
                };
                (t, v)
            }).collect();
            rt(&samples);
        }

        #[test]
        fn prop_garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = decode_packed(&data, &mut out);
        }
    }
}
