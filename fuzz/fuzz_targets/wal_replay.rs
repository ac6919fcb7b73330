#![no_main]
//! WAL replay of arbitrary segment bytes never panics: it returns records, a clean stop at a
//! torn tail, or an error. Record payload decoding (Tombstones records included) and block
//! tombstones file decoding of arbitrary bytes never panic either. A checkpoint of a segment
//! that replays cleanly holds exactly its records filtered by series and time, whether it
//! copied a record as stored or decoded and wrote it again.

use libfuzzer_sys::fuzz_target;
use tsdb::wal::{checkpoint, decode_record, replay, Record};

/// Samples at or after this time are kept by the checkpoint.
const MINT: i64 = 1000;

/// Series with even refs are kept.
fn keep(r: u64) -> bool {
    r % 2 == 0
}

/// What a checkpoint should keep of `rec`, if anything.
fn filtered(rec: Record) -> Option<Record> {
    let rec = match rec {
        Record::Series(mut v) => {
            v.retain(|s| keep(s.series_ref));
            Record::Series(v)
        }
        Record::Samples(mut v) => {
            v.retain(|s| s.t >= MINT && keep(s.series_ref));
            Record::Samples(v)
        }
        Record::OooSamples(mut v) => {
            v.retain(|s| s.t >= MINT && keep(s.series_ref));
            Record::OooSamples(v)
        }
        Record::Tombstones(mut v) => {
            v.retain(|&(r, _, maxt)| maxt >= MINT && keep(r));
            Record::Tombstones(v)
        }
    };
    let empty = match &rec {
        Record::Series(v) => v.is_empty(),
        Record::Samples(v) | Record::OooSamples(v) => v.is_empty(),
        Record::Tombstones(v) => v.is_empty(),
    };
    (!empty).then_some(rec)
}

/// Records as comparable text (NaN values then compare equal).
fn key(recs: &[Record]) -> String {
    format!("{recs:?}")
}

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
        let mut recs = Vec::new();
        let Ok(stats) = replay(dir.path(), |r| {
            recs.push(r);
            Ok(())
        }) else {
            continue;
        };
        if stats.torn_tail {
            continue;
        }
        let want: Vec<Record> = recs.into_iter().filter_map(filtered).collect();
        checkpoint(dir.path(), 1, keep, MINT).expect("a clean segment checkpoints");
        let mut got = Vec::new();
        replay(dir.path(), |r| {
            got.push(r);
            Ok(())
        })
        .expect("a checkpoint replays");
        assert_eq!(key(&got), key(&want));
        for e in std::fs::read_dir(dir.path()).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                std::fs::remove_dir_all(p).expect("remove checkpoint");
            }
        }
    }
});
