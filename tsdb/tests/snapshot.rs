//! `Db::snapshot_blocks`: hard links of every block that open as a database of their own.

use tsdb::{Db, MatchOp, Matcher, Options};

#[test]
fn snapshot_holds_every_block_and_opens() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        block_duration_ms: 1_000,
        retention_time_ms: 0,
        ..Options::default()
    };
    let db = Db::open(dir.path().join("data"), opts.clone()).unwrap();
    let l = [("__name__", "up"), ("job", "a")];
    let samples: Vec<(i64, f64)> = (0..60).map(|i| (i * 100, i as f64)).collect();
    db.append_batch(&[(&l[..], &samples[..])]).unwrap();
    db.maintenance().unwrap();
    let blocks = db.blocks();
    assert!(!blocks.is_empty(), "no block cut");
    let in_blocks: u64 = blocks.iter().map(|b| b.meta().num_samples).sum();
    let snap = dir.path().join("snapshots").join("s1");
    assert_eq!(db.snapshot_blocks(&snap).unwrap(), blocks.len());
    assert!(
        db.snapshot_blocks(&snap).is_err(),
        "an existing directory is overwritten"
    );
    drop(db);
    let copy = Db::open(
        &snap,
        Options {
            retention_time_ms: 0,
            ..opts
        },
    )
    .unwrap();
    let m = Matcher::new(MatchOp::Equal, "job", "a").unwrap();
    let got = copy.select_samples(&[m], i64::MIN, i64::MAX).unwrap();
    assert_eq!(got[0].samples.len() as u64, in_blocks);
    assert_eq!(got[0].samples[..], samples[..in_blocks as usize]);
}
