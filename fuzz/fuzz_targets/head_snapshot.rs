#![no_main]
//! Decoding arbitrary head snapshot bytes never panics: it returns a snapshot or an error.
//! Inputs get a valid header and checksum too, so the body decoder is reached.

use libfuzzer_sys::fuzz_target;
use tsdb::head_snapshot::decode;

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
    let mut framed = b"VHSN\x01\0\0\0".to_vec();
    framed.extend_from_slice(data);
    let crc = crc32c::crc32c(data);
    framed.extend_from_slice(&crc.to_le_bytes());
    let _ = decode(&framed);
});
