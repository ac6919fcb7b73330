#![no_main]
//! Decoding arbitrary bytes as XOR, dense or packed chunks never panics; what decodes
//! re-encodes to the same samples.

use libfuzzer_sys::fuzz_target;
use tsdb::chunkenc::{
    decode_dense, decode_packed, encode_dense, encode_packed, ChunkError, XorChunk, XorIter,
};

type Decode = fn(&[u8], &mut Vec<(i64, f64)>) -> Result<(), ChunkError>;

/// When `data` decodes, re-encoding its samples decodes to the same bits.
fn round_trip(data: &[u8], decode: Decode, encode: fn(&[(i64, f64)]) -> Vec<u8>) {
    let mut out = Vec::new();
    if decode(data, &mut out).is_ok() {
        let mut back = Vec::new();
        decode(&encode(&out), &mut back).expect("re-encoded chunk must decode");
        let a: Vec<(i64, u64)> = out.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        let b: Vec<(i64, u64)> = back.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(a, b);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut it = XorIter::new(data);
    let samples: Vec<(i64, f64)> = (&mut it).collect();
    if it.err().is_none() && samples.windows(2).all(|w| w[0].0 < w[1].0) {
        let mut c = XorChunk::new();
        for &(t, v) in &samples {
            c.append(t, v);
        }
        let again: Vec<(i64, u64)> = c.iter().map(|(t, v)| (t, v.to_bits())).collect();
        let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(again, want);
    }
    round_trip(data, decode_dense, encode_dense);
    round_trip(data, decode_packed, encode_packed);
});
