#![no_main]
//! WAL replay of arbitrary segment bytes never panics: it returns records, a clean stop at a
//! torn tail, or an error. Record payload decoding (Tombstones records included) and block
//! tombstones file decoding of arbitrary bytes never panic either.

use libfuzzer_sys::fuzz_target;
use tsdb::wal::{decode_record, replay};

fuzz_target!(|data: &[u8]| {
    if let Some((&typ, payload)) = data.split_first() {
        let _ = decode_record(typ, payload);
    }
    let _ = tsdb::tombstones::decode_file(data);
    let dir = tempfile::tempdir().expect("tempdir");
    // As a raw segment, and behind a valid header so records are reached.
    let mut with_header = b"VWAL\x01\0\0\0".to_vec();
    with_header.extend_from_slice(data);
    for bytes in [data, &with_header[..]] {
        std::fs::write(dir.path().join("00000001"), bytes).expect("write segment");
        let _ = replay(dir.path(), |_| Ok(()));
    }
});
