//! The whole life of data: head → block cuts → compaction into dense blocks → retention,
//! with reopen in between and reads that merge blocks and head.

mod common;

use tsdb::{Db, MatchOp, Matcher, Options};

const HOUR: i64 = 3_600_000;

fn opts(retention_ms: i64) -> Options {
    Options {
        retention_time_ms: retention_ms,
        block_duration_ms: 2 * HOUR,
        ..Options::default()
    }
}

fn write(db: &Db, from: i64, to: i64, series: usize) {
    common::append_minutely(db, "node_cpu_seconds_total", from, to, series, |t, i| {
        (t / 1000) as f64 * 0.25 + i as f64
    });
}

fn count(db: &Db, mint: i64, maxt: i64) -> usize {
    let m = Matcher::new(MatchOp::Equal, "job", "node").unwrap();
    db.select_samples(&[m], mint, maxt)
        .unwrap()
        .iter()
        .map(|s| s.samples.len())
        .sum()
}

#[test]
fn cut_compact_reopen_retain() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(0)).unwrap();
    write(&db, 0, 20 * HOUR, 50);
    let total = 20 * 60 * 50;
    assert_eq!(count(&db, i64::MIN, i64::MAX), total);
    db.maintenance().unwrap();
    let blocks = db.blocks();
    // Nine 2 h blocks were cut (the head keeps 18–20 h), compacted into 6 h blocks and those
    // into one 18 h block.
    assert_eq!(
        blocks.len(),
        1,
        "blocks: {:?}",
        blocks.iter().map(|b| b.meta().clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        (
            blocks[0].meta().min_time,
            blocks[0].meta().max_time,
            blocks[0].meta().level
        ),
        (0, 18 * HOUR, 3)
    );
    assert_eq!(blocks[0].meta().sources.len(), 12);
    // Blocks are disjoint, sorted, and cover everything but the head.
    for w in blocks.windows(2) {
        assert!(w[0].meta().max_time <= w[1].meta().min_time);
    }
    let in_blocks: u64 = blocks.iter().map(|b| b.meta().num_samples).sum();
    assert!(in_blocks > (total / 2) as u64);
    assert_eq!(
        count(&db, i64::MIN, i64::MAX),
        total,
        "reads merge blocks and head"
    );
    assert_eq!(count(&db, 3 * HOUR, 5 * HOUR - 1), 2 * 60 * 50);
    let series = db
        .select_series(
            &[Matcher::new(MatchOp::Regex, "cpu", "1.").unwrap()],
            i64::MIN,
            i64::MAX,
        )
        .unwrap();
    assert_eq!(series.len(), 10);
    assert_eq!(
        db.label_values("cpu", &[], i64::MIN, i64::MAX)
            .unwrap()
            .len(),
        50
    );
    drop(db);

    // Reopen: blocks load, head replays from the checkpoint + WAL + head chunks.
    let db = Db::open(dir.path(), opts(0)).unwrap();
    assert_eq!(count(&db, i64::MIN, i64::MAX), total);
    write(&db, 20 * HOUR, 30 * HOUR, 50);
    db.maintenance().unwrap();
    assert_eq!(count(&db, i64::MIN, i64::MAX), 30 * 60 * 50);
    drop(db);

    // Retention of 11 h drops whole blocks that end more than 11 h before the newest sample.
    let db = Db::open(dir.path(), opts(11 * HOUR)).unwrap();
    db.maintenance().unwrap();
    let oldest = db.blocks().iter().map(|b| b.meta().min_time).min().unwrap();
    assert_eq!(oldest, 18 * HOUR, "the 0–18 h block is deleted");
    assert_eq!(count(&db, 0, 6 * HOUR), 0, "data beyond retention is gone");
    assert!(
        count(&db, 26 * HOUR, 30 * HOUR) == 4 * 60 * 50,
        "recent data kept"
    );
    let mut text = String::new();
    db.render_metrics(&mut text);
    assert!(text.contains("vitals_tsdb_rejected_samples_total{reason=\"too_old\"} 0"));
    assert!(text.contains("vitals_tsdb_blocks_deleted_total"));
}

#[test]
fn rejections_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            out_of_order_window_ms: 60_000,
            ..Options::default()
        },
    )
    .unwrap();
    let l = [("__name__", "up"), ("job", "x")];
    db.append_batch(&[(&l[..], &[(1_000_000, 1.0)][..])])
        .unwrap();
    let out = db
        .append_batch(&[(
            &l[..],
            &[(990_000, 2.0), (900_000, 3.0), (1_000_000, 9.0)][..],
        )])
        .unwrap();
    assert_eq!(out.appended, 1);
    assert_eq!(
        out.rejected,
        vec![
            (tsdb::RejectReason::TooOld, 1),
            (tsdb::RejectReason::DuplicateTimestamp, 1)
        ]
    );
    assert!(out.first_rejection.unwrap().contains("out of order"));
    let mut text = String::new();
    db.render_metrics(&mut text);
    assert!(
        text.contains("vitals_tsdb_rejected_samples_total{reason=\"too_old\"} 1"),
        "{text}"
    );
    assert!(text.contains("vitals_tsdb_rejected_samples_total{reason=\"duplicate_timestamp\"} 1"));
    let m = Matcher::new(MatchOp::Equal, "job", "x").unwrap();
    let s = db.select_samples(&[m], 0, i64::MAX).unwrap();
    assert_eq!(s[0].samples, vec![(990_000, 2.0), (1_000_000, 1.0)]);
}
