//! Golden tests of the packed chunk encoding (0x11, FORMAT.md "Packed"): known samples encode
//! to exactly these bytes and decode back bit for bit (NaN, stale markers, ±Inf, -0 included).
//! Vector A is worked through by hand in FORMAT.md; the raw-mode vector holds a zstd frame
//! (zstd is pinned by Cargo.lock).

use tsdb::chunkenc::{decode_any, encode_packed, ENCODING_PACKED, STALE_NAN_BITS};

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn check(samples: &[(i64, f64)], golden: &str) {
    let want = hex(golden);
    assert_eq!(encode_packed(samples), want, "encoding of {samples:?}");
    let mut out = Vec::new();
    decode_any(ENCODING_PACKED, &want, &mut out).unwrap();
    let a: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    let b: Vec<(i64, u64)> = out.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    assert_eq!(a, b);
    // Every strict prefix of the bytes is an error, never a panic or other samples.
    for n in 0..want.len() {
        let mut o = Vec::new();
        if decode_any(ENCODING_PACKED, &want[..n], &mut o).is_ok() {
            panic!("prefix of {n} bytes decoded to {o:?}");
        }
    }
}

#[test]
fn regular_decimal_chunk() {
    // n=3 │ ts: order 0 scaled by 1000 (04 e8 07), mid 2, max_z 2, no exceptions, codes of
    // 1,2,3 → z 1,0,2 → bits 10 0 11 (98) │ decimal e=1, no specials │ mantissas 15,25,35:
    // order 1, m0=15 (1e), residuals all 10: mid 10 (14), max_z 0, no exceptions, no bits.
    check(
        &[(1000, 1.5), (2000, 2.5), (3000, 3.5)],
        "03 04 e8 07 04 02 00 98 01 01 00 01 1e 14 00 00",
    );
}

#[test]
fn stale_and_negative_zero_stored_apart() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    check(
        &[
            (0, 1.0),
            (15_000, stale),
            (30_000, 2.0),
            (45_000, -0.0),
            (60_000, 3.0),
            (75_000, 4.0),
            (90_001, 5.0),
            (105_000, 6.0),
        ],
        "08 01 00 b0 ea 01 02 00 07 00 01 00 02 01 02 00 00 00 00 00 f0 7f \
         01 00 00 00 00 00 00 00 80 01 02 02 01 00 a0",
    );
}

#[test]
fn raw_mode_nan_inf() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    check(
        &[
            (-5, f64::NAN),
            (10, stale),
            (20, f64::INFINITY),
            (30, f64::NEG_INFINITY),
            (40, -0.0),
            (50, 0.1 + 0.2),
        ],
        "06 01 09 1a 05 00 df fe 02 28 28 b5 2f fd 20 30 fd 00 00 a8 00 02 02 00 00 34 00 33 \
         00 f8 08 00 00 f0 d3 7f 00 00 80 7f bf 03 00 29 09 40 e0 00 18 01",
    );
}

#[test]
fn outlier_stored_as_exception() {
    let s: Vec<(i64, f64)> = (0..20)
        .map(|i| {
            let v = 100.0 + [0.0, 1.0, 3.0][i % 3] + if i == 10 { 1e6 } else { 0.0 };
            (1_700_000_000_000 + i as i64 * 15_000, v)
        })
        .collect();
    check(
        &s,
        "14 01 80 a0 ab fe f9 62 b0 ea 01 00 00 01 00 00 00 cc 01 03 01 0a ca 8a 7a db 6d bb 6d b4",
    );
}

#[test]
fn empty_and_single() {
    check(&[], "00");
    let mut out = Vec::new();
    decode_any(ENCODING_PACKED, &encode_packed(&[(7, f64::NAN)]), &mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.to_bits(), f64::NAN.to_bits());
}
