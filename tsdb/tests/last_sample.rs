//! `for_each_last_par` (instant selectors) agrees with a full read: for every series and
//! window, the newest sample it hands out is the newest sample in the window, through block
//! cuts, out-of-order samples, stale markers, deletions and a restart that replays the WAL.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rand::{Rng, SeedableRng};
use tsdb::{Db, Labels, MatchOp, Matcher, Options};

const MIN: i64 = 60_000;
/// One series of an append batch, owned and borrowed.
type Owned<'a> = (Vec<(&'a str, &'a str)>, Vec<(i64, f64)>);
type Entry<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);
/// The Prometheus stale marker.
const STALE: u64 = 0x7ff0_0000_0000_0002;

/// Each series' newest sample in [mint, maxt] (time, value bits), by a full read or the
/// newest-sample read, and how many samples the read handed out.
fn newest(db: &Db, mint: i64, maxt: i64, last_only: bool) -> (BTreeMap<Labels, (i64, u64)>, usize) {
    let all = [Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()];
    let out = Mutex::new(BTreeMap::new());
    let handed = std::sync::atomic::AtomicUsize::new(0);
    let f = |_: usize, l: Labels, s: &[(i64, f64)]| {
        handed.fetch_add(s.len(), std::sync::atomic::Ordering::Relaxed);
        assert!(
            s.windows(2).all(|w| w[0].0 < w[1].0),
            "{l}: samples out of order"
        );
        let &(t, v) = s.last().expect("series without samples");
        assert!(t >= mint && t <= maxt, "{l}: {t} outside [{mint}, {maxt}]");
        out.lock().unwrap().insert(l, (t, v.to_bits()));
        Ok::<(), tsdb::Error>(())
    };
    if last_only {
        db.for_each_last_par(&all, mint, maxt, 2, &f).unwrap();
    } else {
        db.for_each_series_par(&all, mint, maxt, 2, &f).unwrap();
    }
    (out.into_inner().unwrap(), handed.into_inner())
}

/// Compares the two reads over 5-minute windows ending at many times up to `end`; returns
/// the samples each handed out in the windows that end at or after `end`.
fn compare(db: &Db, end: i64, what: &str) -> (usize, usize) {
    let (mut checked, mut handed) = (0, (0, 0));
    let mut t = 0;
    while t <= end + 10 * MIN {
        for maxt in [t, t + 7_000, t + 14_999] {
            let mint = maxt - 5 * MIN + 1;
            let (full, n_full) = newest(db, mint, maxt, false);
            let (last, n_last) = newest(db, mint, maxt, true);
            assert_eq!(last, full, "{what}: window ending {maxt}");
            checked += full.len();
            if maxt >= end {
                handed = (handed.0 + n_full, handed.1 + n_last);
            }
        }
        t += 4 * MIN + 7_000;
    }
    assert!(
        checked > 1000,
        "{what}: only {checked} series-windows had samples"
    );
    handed
}

#[test]
fn newest_sample_matches_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options {
        out_of_order_window_ms: 30 * MIN,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let names: Vec<String> = (0..40).map(|i| format!("s{i:02}")).collect();
    let end = 7 * 60 * MIN;
    // Rounds of 15 s; some series stop early, some end with a stale marker, some skip rounds.
    let mut t = 0;
    while t <= end {
        let mut batch: Vec<Owned> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let stops = i % 5 == 0 && t > end - (i as i64) * 10 * MIN;
            if stops || rng.gen_bool(0.1) {
                continue;
            }
            let stale = i % 7 == 0 && t % (50 * MIN) == 0;
            let v = if stale {
                f64::from_bits(STALE)
            } else {
                rng.gen_range(0.0..100.0)
            };
            batch.push((vec![("__name__", "m"), ("s", n.as_str())], vec![(t, v)]));
        }
        let refs: Vec<Entry> = batch
            .iter()
            .map(|(l, s)| (l.as_slice(), s.as_slice()))
            .collect();
        db.append_batch(&refs).unwrap();
        if t % (30 * MIN) == 0 {
            db.maintenance().unwrap();
        }
        t += 15_000;
    }
    // Out-of-order samples between in-order ones, within the window.
    for n in names.iter().take(12) {
        let l = [("__name__", "m"), ("s", n.as_str())];
        let s = [
            (end - 10 * MIN + 3_000, -1.0),
            (end - 2 * MIN + 5_000, -2.0),
        ];
        db.append_batch(&[(&l[..], &s[..])]).unwrap();
    }
    // A deletion over one series' tail.
    let del = [
        Matcher::new(MatchOp::Equal, "__name__", "m").unwrap(),
        Matcher::new(MatchOp::Equal, "s", "s03").unwrap(),
    ];
    db.delete_series(&del, end - 20 * MIN, end).unwrap();
    assert!(!db.blocks().is_empty(), "the head was never cut");
    let (full, last) = compare(&db, end, "before the restart");
    // Windows at the end hand out one sample a series (out of about 20) where the head
    // holds it.
    assert!(
        last * 3 < full,
        "newest-sample reads handed out {last} samples, full reads {full}"
    );
    db.sync().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    compare(&db, end, "after the restart");
    // As after a crash: no head snapshot, the head comes back from its chunk files and WAL.
    db.sync().unwrap();
    std::mem::forget(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    compare(&db, end, "after a crash");
    // New samples after the restart for half of the series.
    for n in names.iter().step_by(2) {
        let l = [("__name__", "m"), ("s", n.as_str())];
        db.append_batch(&[(&l[..], &[(end + 15_000, 5.0)][..])])
            .unwrap();
    }
    compare(&db, end + 15_000, "after new samples");
}
