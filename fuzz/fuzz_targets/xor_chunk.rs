#![no_main]
//! Decoding arbitrary bytes as XOR or dense chunks never panics; what decodes re-encodes
//! to the same samples.

use libfuzzer_sys::fuzz_target;
use tsdb::chunkenc::{decode_dense, encode_dense, XorChunk, XorIter};

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
    let mut out = Vec::new();
    if decode_dense(data, &mut out).is_ok() {
        let enc = encode_dense(&out);
        let mut back = Vec::new();
        decode_dense(&enc, &mut back).expect("re-encoded dense chunk must decode");
        let a: Vec<(i64, u64)> = out.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        let b: Vec<(i64, u64)> = back.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(a, b);
    }
});
