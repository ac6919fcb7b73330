use super::*;
use crate::{Db, MatchOp, Matcher, Options, SeriesSamples};

fn opts() -> Options {
    Options {
        out_of_order_window_ms: 10_000,
        ..Options::default()
    }
}

/// 3 series × 300 samples (two or three full chunks in files, one open) plus out-of-order samples.
fn fill(db: &Db, from: i64, to: i64) {
    for t in (from..to).step_by(15_000) {
        for h in 0..3 {
            let host = format!("h{h}");
            let labels = [("__name__", "m"), ("host", host.as_str())];
            let s = [(t, (t / 1000) as f64 * 0.5 + h as f64)];
            db.append_batch(&[(&labels[..], &s[..])]).unwrap();
        }
    }
    let labels = [("__name__", "m"), ("host", "h0")];
    let ooo = [(to - 20_000 - 7, 42.0)];
    db.append_batch(&[(&labels[..], &ooo[..])]).unwrap();
}

fn all(db: &Db) -> Vec<SeriesSamples> {
    let m = Matcher::new(MatchOp::Equal, "__name__", "m").unwrap();
    db.select_samples(&[m], i64::MIN, i64::MAX).unwrap()
}

#[test]
fn clean_shutdown_restores_the_head_and_replays_only_later_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 0, 300 * 15_000);
    db.close().unwrap();
    // Appends after the snapshot land in WAL segments it does not cover.
    fill(&db, 300 * 15_000, 320 * 15_000);
    let want = all(&db);
    let stats = db.head_stats();
    drop(db);
    let bytes = fs::read(dir.path().join(FILE_NAME)).unwrap();
    let snap = decode(&bytes).unwrap();
    assert_eq!(snap.series.len(), 3);
    // Two or three full chunks (120 samples each, and one cut at the series' phase).
    assert!(snap.series.iter().all(|s| {
        let open = s
            .open
            .as_ref()
            .map_or(0, |o| u16::from_be_bytes([o.0[0], o.0[1]]));
        let full: u16 = s.mmapped.iter().map(|c| c.num_samples).sum();
        (2..=3).contains(&s.mmapped.len()) && open > 0 && full + open == 300
    }));
    assert_eq!(snap.series[0].ooo.len(), 1);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(
        !dir.path().join(FILE_NAME).exists(),
        "open consumes the snapshot"
    );
    assert_eq!(all(&db), want);
    assert_eq!(db.head_stats(), stats);
    // The snapshot is gone, the WAL still complete: a crash now replays everything.
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(all(&db), want);
}

#[test]
fn damaged_or_stale_snapshot_falls_back_to_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 0, 200 * 15_000);
    db.close().unwrap();
    let want = all(&db);
    drop(db);
    let path = dir.path().join(FILE_NAME);
    let good = fs::read(&path).unwrap();
    let mut cases: Vec<Vec<u8>> = vec![
        good[..good.len() / 2].to_vec(), // torn
        {
            let mut b = good.clone();
            b[good.len() / 3] ^= 0x40; // checksum mismatch
            b
        },
        {
            let mut b = good.clone();
            b[4] = 9; // unknown version
            b
        },
    ];
    // Written for other blocks.
    let mut other = decode(&good).unwrap();
    other.min_valid = 5;
    let mut b = good[..HEADER_LEN].to_vec();
    b.extend_from_slice(&other.wal_segment.to_le_bytes());
    b.extend_from_slice(&5i64.to_le_bytes());
    b.extend_from_slice(&good[HEADER_LEN + 12..good.len() - 4]);
    let crc = crc32c::crc32c(&b[HEADER_LEN..]);
    b.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(decode(&b).unwrap(), other);
    cases.push(b);
    for bytes in cases {
        fs::write(&path, &bytes).unwrap();
        let db = Db::open(dir.path(), opts()).unwrap();
        assert_eq!(all(&db), want);
        assert!(!path.exists());
    }
    // A snapshot naming head chunks that the chunk files lost is not used either.
    fs::write(&path, &good).unwrap();
    for e in fs::read_dir(dir.path().join("chunks_head")).unwrap() {
        fs::remove_file(e.unwrap().path()).unwrap();
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(all(&db), want);
}

#[test]
fn golden_bytes_decode() {
    // One series {a="b"} ref 7, last sample (t 1000, 2.5), no open chunk, one mapped chunk
    // (ref 0x1_0000_0008, 1000..1000, 1 sample), one out-of-order sample (990, 1.0).
    let mut b = b"VHSN\x01\0\0\0".to_vec();
    let body: Vec<u8> = [
        &3u32.to_le_bytes()[..],    // wal_segment
        &(-1i64).to_le_bytes()[..], // min_valid
        &[2, 1, b'a', 1, b'b'],     // symbols: "a", "b"
        &[1, 7, 1, 0, 1],           // 1 series: ref 7, 1 label (0, 1)
        &[0xd0, 0x0f],              // last_t 1000 (zigzag 2000)
        &2.5f64.to_bits().to_le_bytes()[..],
        &[0],                                                 // no open chunk
        &[1, 0x88, 0x80, 0x80, 0x80, 0x10, 0xd0, 0x0f, 0, 1], // one mapped chunk
        &[1, 0xbc, 0x0f],                                     // one ooo sample at 990
        &1.0f64.to_bits().to_le_bytes()[..],
    ]
    .concat();
    b.extend_from_slice(&body);
    b.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    let want = HeadSnapshot {
        wal_segment: 3,
        min_valid: -1,
        symbols: vec!["a".into(), "b".into()],
        series: vec![SnapSeries {
            series_ref: 7,
            labels: vec![(0, 1)],
            last_t: 1000,
            last_v: 2.5,
            open: None,
            mmapped: vec![MmapChunk {
                min_time: 1000,
                max_time: 1000,
                chunk_ref: 0x1_0000_0008,
                num_samples: 1,
            }],
            ooo: vec![(990, 1.0)],
        }],
    };
    assert_eq!(decode(&b), Ok(want.clone()));
    let mut re = Vec::new();
    encode_series(&want.series[0], &mut re);
    assert_eq!(re, body[12 + 5 + 1..], "series encoding");
    // Every prefix and every single-byte change is refused, never a panic.
    for n in 0..b.len() {
        assert!(decode(&b[..n]).is_err());
        let mut c = b.clone();
        c[n] ^= 0x01;
        assert!(decode(&c).is_err(), "flip at {n}");
    }
}
