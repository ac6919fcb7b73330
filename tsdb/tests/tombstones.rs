//! Deleting series: tombstones in the head and in blocks hide samples from every read at
//! once, survive reopen (crash and clean shutdown), block cuts, compaction and cleaning.

mod common;

use tsdb::{Db, Error, MatchOp, Matcher, Options};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn opts() -> Options {
    Options {
        retention_time_ms: 0,
        block_duration_ms: 2 * HOUR,
        ..Options::default()
    }
}

/// One sample a minute in [from, to) for series cpu=0..n.
fn write(db: &Db, from: i64, to: i64, n: usize) {
    common::append_minutely(db, "cpu_seconds", from, to, n, |t, i| (t + i as i64) as f64);
}

fn cpu(v: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, "cpu", v).unwrap()
}

fn job() -> Matcher {
    Matcher::new(MatchOp::Equal, "job", "node").unwrap()
}

/// Samples per cpu value over all time, through the sample path.
fn counts(db: &Db) -> Vec<(String, usize)> {
    db.select_samples(&[job()], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| (s.labels.get("cpu").unwrap().to_string(), s.samples.len()))
        .collect()
}

/// Asserts every read path agrees: cpu=1 gone, cpu=0 missing [2 h, 3 h], cpu=2 whole.
fn check(db: &Db, total_minutes: usize) {
    let full = total_minutes;
    let want = vec![("0".to_string(), full - 61), ("2".to_string(), full)];
    assert_eq!(counts(db), want, "samples");
    let mut par = std::sync::Mutex::new(Vec::new());
    db.for_each_series_par(&[job()], i64::MIN, i64::MAX, 3, &|_, l, s| {
        par.lock()
            .unwrap()
            .push((l.get("cpu").unwrap().to_string(), s.len()));
        Ok::<(), Error>(())
    })
    .unwrap();
    par.get_mut().unwrap().sort();
    assert_eq!(*par.get_mut().unwrap(), want, "parallel samples");
    let mut chunked = Vec::new();
    db.for_each_series_chunks(&[job()], i64::MIN, i64::MAX, |l, chunks| {
        let mut n = 0;
        for c in chunks {
            let mut out = Vec::new();
            tsdb::chunkenc::decode_any(tsdb::chunkenc::ENCODING_XOR, &c.data, &mut out).unwrap();
            assert!(out
                .iter()
                .all(|s| s.0 < 2 * HOUR || s.0 > 3 * HOUR || l.get("cpu") != Some("0")));
            n += out.len();
        }
        chunked.push((l.get("cpu").unwrap().to_string(), n));
        Ok::<(), Error>(())
    })
    .unwrap();
    assert_eq!(chunked, want, "chunks (remote-read)");
    let series = db.select_series(&[job()], i64::MIN, i64::MAX).unwrap();
    let names: Vec<&str> = series.iter().map(|l| l.get("cpu").unwrap()).collect();
    assert_eq!(names, ["0", "2"], "series");
    assert_eq!(
        db.label_values("cpu", &[], i64::MIN, i64::MAX).unwrap(),
        ["0", "2"]
    );
    assert_eq!(
        db.label_values("cpu", &[job()], i64::MIN, i64::MAX)
            .unwrap(),
        ["0", "2"]
    );
    // cpu=0 has nothing left in [2 h, 3 h]: not listed there.
    assert!(db
        .select_series(&[cpu("0")], 2 * HOUR, 3 * HOUR)
        .unwrap()
        .is_empty());
    assert_eq!(
        db.label_names(&[cpu("1")], i64::MIN, i64::MAX).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn delete_survives_reopen_cut_compaction_and_clean() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    write(&db, 0, 10 * HOUR, 3);
    db.maintenance().unwrap();
    assert!(!db.blocks().is_empty(), "blocks were cut");
    assert!(db
        .delete_series(&[], 0, 1)
        .is_err_and(|e| matches!(e, Error::InvalidArgument(_))));
    db.delete_series(&[cpu("1")], i64::MIN, i64::MAX).unwrap();
    // [2 h, 3 h] lies in a block; a second deletion in the head range too.
    db.delete_series(&[cpu("0")], 2 * HOUR, 3 * HOUR).unwrap();
    check(&db, 600);
    // Crash: no close, the WAL and tombstone files are all there is.
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    check(&db, 600);
    // Deleting a head range, then crash again.
    db.delete_series(&[cpu("0")], 9 * HOUR, 10 * HOUR).unwrap();
    let minus_head = |db: &Db| {
        let c = counts(db);
        assert_eq!(c[0], ("0".to_string(), 600 - 61 - 60));
        assert_eq!(c[1], ("2".to_string(), 600));
    };
    minus_head(&db);
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    minus_head(&db);
    db.delete_series(&[cpu("0")], 9 * HOUR, 10 * HOUR).unwrap();
    // Clean shutdown: the head snapshot plus re-logged tombstones.
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    minus_head(&db);
    // Appends after the deletion at newer times stay visible.
    write(&db, 10 * HOUR, 20 * HOUR, 3);
    let c = counts(&db);
    assert_eq!(c[0].1, 1200 - 61 - 60);
    assert_eq!(
        c[1],
        ("1".to_string(), 600),
        "new cpu=1 samples are visible"
    );
    // Block cuts and compaction drop the deleted samples.
    db.maintenance().unwrap();
    assert_eq!(counts(&db), c);
    let stored: u64 = db.blocks().iter().map(|b| b.meta().num_samples).sum();
    let head_min = db.head_stats().min_time;
    let readable: usize = db
        .select_samples(&[job()], i64::MIN, head_min - 1)
        .unwrap()
        .iter()
        .map(|s| s.samples.len())
        .sum();
    assert_eq!(
        stored, readable as u64,
        "blocks physically hold no deleted sample"
    );
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(counts(&db), c);
    db.delete_series(&[cpu("2")], 0, HOUR - 1).unwrap();
    let rewritten = db.clean_tombstones().unwrap();
    assert!(rewritten >= 1);
    assert!(db.blocks().iter().all(|b| b.tombstones().is_empty()));
    let mut after = c.clone();
    after[2].1 -= 60;
    assert_eq!(counts(&db), after);
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(counts(&db), after);
}
