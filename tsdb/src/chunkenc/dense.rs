//! The dense encoding of compacted blocks: delta-of-delta timestamps and decimal mantissas
//! (or XOR'd raw bits), as varints, compressed with zstd.

use super::bstream::{get_uvarint, get_varint, put_uvarint, put_varint};
use super::ChunkError;

const MODE_DECIMAL: u8 = 1;
const MODE_RAW: u8 = 2;
/// Largest sample count a dense chunk may announce (guards allocation on decode).
const MAX_SAMPLES: u64 = 1 << 24;

/// Smallest decimal exponent e (0..=9) with `v * 10^e` an exact integer that maps back to `v`.
pub(super) fn decimal_exponent(v: f64) -> Option<u8> {
    if !v.is_finite() || (v == 0.0 && v.is_sign_negative()) {
        return None;
    }
    let mut p = 1.0f64;
    for e in 0..=9u8 {
        let m = (v * p).round();
        if m.abs() < 9.0e15 && m / p == v {
            return Some(e);
        }
        p *= 10.0;
    }
    None
}

/// Encodes time-sorted samples; decoding gives back every value's bits exactly.
pub fn encode_dense(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(samples.len() * 3 + 16);
    put_uvarint(&mut raw, samples.len() as u64);
    let (mut pt, mut pd) = (0i64, 0i64);
    for (i, &(t, _)) in samples.iter().enumerate() {
        match i {
            0 => put_varint(&mut raw, t),
            1 => {
                pd = t.wrapping_sub(pt);
                put_varint(&mut raw, pd);
            }
            _ => {
                let d = t.wrapping_sub(pt);
                put_varint(&mut raw, d.wrapping_sub(pd));
                pd = d;
            }
        }
        pt = t;
    }
    let mut exp = 0u8;
    let decimal = samples.iter().all(|&(_, v)| match decimal_exponent(v) {
        Some(e) => {
            exp = exp.max(e);
            true
        }
        None => false,
    });
    let p = 10f64.powi(exp as i32);
    let decimal = decimal
        && samples.iter().all(|&(_, v)| {
            let m = (v * p).round();
            m.abs() < 9.0e15 && (m / p).to_bits() == v.to_bits()
        });
    if decimal {
        raw.push(MODE_DECIMAL);
        raw.push(exp);
        let (mut pm, mut pdm) = (0i64, 0i64);
        for (i, &(_, v)) in samples.iter().enumerate() {
            let m = (v * p).round() as i64;
            let d = m.wrapping_sub(pm);
            put_varint(&mut raw, if i == 0 { m } else { d.wrapping_sub(pdm) });
            if i > 0 {
                pdm = d;
            }
            pm = m;
        }
    } else {
        raw.push(MODE_RAW);
        let mut prev = 0u64;
        for &(_, v) in samples {
            let b = v.to_bits();
            raw.extend_from_slice(&(b ^ prev).to_le_bytes());
            prev = b;
        }
    }
    super::zstd_ctx::compress(&raw)
}

/// Decodes a dense chunk, appending its samples to `out`.
pub fn decode_dense(bytes: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), ChunkError> {
    let bad = |d: &str| ChunkError::Invalid(format!("dense chunk: {d}"));
    let size = zstd::zstd_safe::get_frame_content_size(bytes)
        .ok()
        .flatten()
        .ok_or_else(|| bad("missing zstd frame size"))?;
    if size > MAX_SAMPLES * 20 + 64 {
        return Err(bad("frame too large"));
    }
    let raw = super::zstd_ctx::decompress(bytes, size as usize)
        .map_err(|e| bad(&format!("zstd: {e}")))?;
    let mut pos = 0;
    let n = get_uvarint(&raw, &mut pos).ok_or_else(|| bad("count"))?;
    if n > MAX_SAMPLES || n as usize > raw.len() {
        return Err(bad("count too large"));
    }
    let n = n as usize;
    let mut ts = Vec::with_capacity(n);
    let (mut t, mut d) = (0i64, 0i64);
    for i in 0..n {
        let x = get_varint(&raw, &mut pos).ok_or_else(|| bad("timestamps truncated"))?;
        match i {
            0 => t = x,
            1 => {
                d = x;
                t = t.wrapping_add(d);
            }
            _ => {
                d = d.wrapping_add(x);
                t = t.wrapping_add(d);
            }
        }
        ts.push(t);
    }
    let mode = *raw.get(pos).ok_or_else(|| bad("mode missing"))?;
    pos += 1;
    out.reserve(n);
    match mode {
        MODE_DECIMAL => {
            let exp = *raw.get(pos).ok_or_else(|| bad("exponent missing"))?;
            pos += 1;
            if exp > 9 {
                return Err(bad("exponent out of range"));
            }
            let p = 10f64.powi(exp as i32);
            let (mut m, mut dm) = (0i64, 0i64);
            for (i, &t) in ts.iter().enumerate() {
                let x = get_varint(&raw, &mut pos).ok_or_else(|| bad("values truncated"))?;
                if i == 0 {
                    m = x;
                } else {
                    dm = dm.wrapping_add(x);
                    m = m.wrapping_add(dm);
                }
                out.push((t, m as f64 / p));
            }
        }
        MODE_RAW => {
            if raw.len() < pos + 8 * n {
                return Err(bad("values truncated"));
            }
            let mut prev = 0u64;
            for (i, &t) in ts.iter().enumerate() {
                let x = u64::from_le_bytes(
                    raw[pos + 8 * i..pos + 8 * i + 8]
                        .try_into()
                        .expect("8 bytes"),
                );
                prev ^= x;
                out.push((t, f64::from_bits(prev)));
            }
        }
        _ => return Err(bad("unknown value mode")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rt(samples: &[(i64, f64)]) {
        let enc = encode_dense(samples);
        let mut out = Vec::new();
        decode_dense(&enc, &mut out).unwrap();
        let a: Vec<_> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        let b: Vec<_> = out.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn decimal_and_raw_modes_round_trip() {
        rt(&[]);
        rt(&[(5, 1.0)]);
        let c: Vec<_> = (0..500)
            .map(|i| (i * 15_000 + (i % 7), 1234.56 + i as f64 * 0.01))
            .collect();
        rt(&c);
        rt(&[
            (1, f64::NAN),
            (2, -0.0),
            (3, f64::INFINITY),
            (4, 5e-324),
            (5, f64::from_bits(crate::chunkenc::STALE_NAN_BITS)),
        ]);
        rt(&[(1, 0.1), (2, 0.2), (3, 0.30000000000000004)]);
    }

    #[test]
    fn garbage_is_an_error() {
        let mut out = Vec::new();
        assert!(decode_dense(b"nonsense", &mut out).is_err());
        let enc = encode_dense(&[(1, 1.5), (2, 2.5)]);
        for n in 0..enc.len() {
            let _ = decode_dense(&enc[..n], &mut out);
        }
    }

    proptest! {
        #[test]
        fn prop_round_trip(ts in proptest::collection::vec(0i64..1_000_000, 0..300), bits in proptest::collection::vec(any::<u64>(), 300), dec in any::<bool>()) {
            let mut t = 0;
            let samples: Vec<(i64, f64)> = ts.iter().enumerate().map(|(i, d)| {
                t += d;
                let v = if dec { (bits[i] % 100_000) as f64 / 100.0 } else { f64::from_bits(bits[i]) };
                (t, v)
            }).collect();
            rt(&samples);
        }
    }
}
