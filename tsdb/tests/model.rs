//! Model-based property test: the database (head + WAL + head chunks + block cuts +
//! compaction + reopen) against a `BTreeMap` model, in lockstep over random actions.
//! A crash that truncates or corrupts the WAL tail must recover every series to a prefix
//! of what was written, never to garbage.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use proptest::prelude::*;
use tsdb::{Db, MatchOp, Matcher, Options, RejectReason};

const SERIES: usize = 5;

/// One series of an append batch.
type Entry<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

#[derive(Clone, Debug)]
enum Action {
    /// Append at `last + dt` to `series` (batched with `extra` more series at the same time).
    Append {
        series: usize,
        dt: i64,
        v: i32,
        fanout: bool,
    },
    /// Append `back` ms behind the series' newest sample.
    AppendOld { series: usize, back: i64, v: i32 },
    /// Cut blocks, compact, apply retention.
    Maintenance,
    /// Close and reopen (what `kill -9` leaves: everything written to the OS).
    Reopen,
    /// Clean shutdown (head snapshot written) and reopen.
    CleanReopen,
    /// Delete series `series` in [last − back − len, last − back].
    Delete { series: usize, back: i64, len: i64 },
    /// Close, cut the newest WAL segment at a fraction of its length, flip a byte maybe, reopen.
    CrashTruncate { frac: u8, flip: bool },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        10 => (0..SERIES, 1i64..40, -1000i32..1000, any::<bool>()).prop_map(|(series, dt, v, fanout)| Action::Append { series, dt, v, fanout }),
        2 => (0..SERIES, 0i64..120, -1000i32..1000).prop_map(|(series, back, v)| Action::AppendOld { series, back, v }),
        2 => Just(Action::Maintenance),
        1 => Just(Action::Reopen),
        1 => Just(Action::CleanReopen),
        1 => (0..SERIES, 0i64..200, 0i64..300).prop_map(|(series, back, len)| Action::Delete { series, back, len }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(frac, flip)| Action::CrashTruncate { frac, flip }),
    ]
}

fn opts() -> Options {
    Options {
        retention_time_ms: 0,
        retention_size_bytes: 0,
        block_duration_ms: 600,
        out_of_order_window_ms: 50,
        wal_segment_bytes: 4096,
        limits: tsdb::Limits::default(),
    }
}

fn labels(i: usize) -> [(&'static str, String); 3] {
    [
        ("__name__", "m".into()),
        ("host", format!("h{i}")),
        ("job", "node".into()),
    ]
}

fn read_all(db: &Db) -> BTreeMap<String, Vec<(i64, u64)>> {
    let m = Matcher::new(MatchOp::Equal, "__name__", "m").unwrap();
    let all: BTreeMap<String, Vec<(i64, u64)>> = db
        .select_samples(std::slice::from_ref(&m), i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                s.labels.get("host").unwrap().to_string(),
                s.samples.iter().map(|&(t, v)| (t, v.to_bits())).collect(),
            )
        })
        .collect();
    // The parallel read sees the same series, in the same label order, with the same samples.
    let par = std::sync::Mutex::new(Vec::new());
    db.for_each_series_par::<tsdb::Error>(
        std::slice::from_ref(&m),
        i64::MIN,
        i64::MAX,
        3,
        &|i, l, s| {
            let host = l.get("host").unwrap().to_string();
            let pts: Vec<(i64, u64)> = s.iter().map(|&(t, v)| (t, v.to_bits())).collect();
            par.lock().unwrap().push((i, host, pts));
            Ok(())
        },
    )
    .unwrap();
    let mut par = par.into_inner().unwrap();
    par.sort_by_key(|x| x.0);
    let par: Vec<(String, Vec<(i64, u64)>)> = par.into_iter().map(|(_, h, p)| (h, p)).collect();
    assert_eq!(par, all.clone().into_iter().collect::<Vec<_>>());
    // Reads of a window cut chunks of blocks and head: they see exactly the window's samples.
    let times: Vec<i64> = all.values().flatten().map(|s| s.0).collect();
    if let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max()) {
        let third = (hi - lo) / 3;
        for (mint, maxt) in [(lo + third, hi - third), (lo + 1, hi - 1), (lo + third, hi)] {
            let want: BTreeMap<String, Vec<(i64, u64)>> = all
                .iter()
                .map(|(h, pts)| {
                    let inside = pts.iter().filter(|s| s.0 >= mint && s.0 <= maxt);
                    (h.clone(), inside.copied().collect::<Vec<_>>())
                })
                .filter(|(_, pts)| !pts.is_empty())
                .collect();
            let got: BTreeMap<String, Vec<(i64, u64)>> = db
                .select_samples(std::slice::from_ref(&m), mint, maxt)
                .unwrap()
                .into_iter()
                .map(|s| {
                    let pts = s.samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
                    (s.labels.get("host").unwrap().to_string(), pts)
                })
                .collect();
            assert_eq!(got, want, "window [{mint}, {maxt}]");
        }
    }
    all
}

fn newest_wal_segment(dir: &Path) -> Option<std::path::PathBuf> {
    let mut segs: Vec<_> = fs::read_dir(dir.join("wal"))
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    segs.sort();
    // A crash can only tear the segment being written: the newest one.
    segs.pop()
}

fn run(actions: Vec<Action>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Some(Db::open(dir.path(), opts()).unwrap());
    let mut model: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
    let mut last: [i64; SERIES] = [1000; SERIES];
    // Samples stored through the out-of-order window: a crash may lose them independently.
    let mut ooo: std::collections::BTreeSet<(String, i64)> = Default::default();
    // Deleted samples (and samples written later into a deleted interval), per series.
    let mut ghosts: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
    // Deleted intervals: a sample written into one later stays invisible.
    let mut hidden: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    // The newest WAL segment and its length after the last fsync: a crash cannot tear that.
    let mut synced: Option<(std::path::PathBuf, u64)> = None;
    for a in actions {
        match a {
            Action::Append {
                series,
                dt,
                v,
                fanout,
            } => {
                // A fan-out batch writes every series at a time newer than all of them.
                let base = if fanout {
                    *last.iter().max().unwrap()
                } else {
                    last[series]
                };
                let t = base + dt;
                let targets: Vec<usize> = if fanout {
                    (0..SERIES).collect()
                } else {
                    vec![series]
                };
                let owned: Vec<_> = targets.iter().map(|&i| labels(i)).collect();
                let pairs: Vec<Vec<(&str, &str)>> = owned
                    .iter()
                    .map(|l| l.iter().map(|(n, v)| (*n, v.as_str())).collect())
                    .collect();
                let samples: Vec<[(i64, f64); 1]> =
                    targets.iter().map(|_| [(t, v as f64)]).collect();
                let batch: Vec<Entry> = pairs
                    .iter()
                    .zip(&samples)
                    .map(|(p, s)| (p.as_slice(), s.as_slice()))
                    .collect();
                let out = db.as_ref().unwrap().append_batch(&batch).unwrap();
                if fanout {
                    prop_assert_eq!(
                        out.appended,
                        SERIES as u64,
                        "newest-time fan-out must be stored: {:?}",
                        out
                    );
                } else if out.appended == 0 {
                    // Only a series left behind by a block cut can be out of bounds.
                    prop_assert_eq!(out.rejected.clone(), vec![(RejectReason::OutOfBounds, 1)]);
                    continue;
                }
                for &i in &targets {
                    model
                        .entry(format!("h{i}"))
                        .or_default()
                        .insert(t, (v as f64).to_bits());
                    last[i] = t;
                }
            }
            Action::AppendOld { series, back, v } => {
                let t = last[series] - back;
                let l = labels(series);
                let pairs: Vec<(&str, &str)> = l.iter().map(|(n, v)| (*n, v.as_str())).collect();
                let s = [(t, v as f64)];
                let out = db
                    .as_ref()
                    .unwrap()
                    .append_batch(&[(pairs.as_slice(), s.as_slice())])
                    .unwrap();
                let host = format!("h{series}");
                let in_order_newest = |m: Option<&BTreeMap<i64, u64>>| {
                    m.and_then(|m| {
                        m.keys()
                            .rev()
                            .find(|&&k| !ooo.contains(&(host.clone(), k)))
                            .copied()
                    })
                };
                let newest =
                    in_order_newest(model.get(&host)).max(in_order_newest(ghosts.get(&host)));
                let back = newest.map_or(0, |n| n - t);
                let is_hidden = hidden
                    .get(&host)
                    .is_some_and(|iv| iv.iter().any(|&(a, b)| a <= t && t <= b));
                let ghost = ghosts.get(&host).and_then(|g| g.get(&t)).copied();
                let m = model.entry(host.clone()).or_default();
                let existing = m.get(&t).copied();
                let existing_any = existing.or(ghost);
                if out.appended == 1 {
                    prop_assert!(
                        back <= 50,
                        "sample {back} ms behind accepted with a 50 ms window"
                    );
                    if let Some(bits) = existing {
                        prop_assert_eq!(
                            bits,
                            (v as f64).to_bits(),
                            "duplicate accepted with another value"
                        );
                    }
                    if existing_any.is_none() && newest.is_some_and(|n| t < n) {
                        ooo.insert((format!("h{series}"), t));
                    }
                    if is_hidden {
                        ghosts
                            .entry(host)
                            .or_default()
                            .insert(t, (v as f64).to_bits());
                    } else {
                        m.insert(t, (v as f64).to_bits());
                    }
                } else {
                    let (reason, _) = out.rejected[0];
                    match reason {
                        RejectReason::TooOld => prop_assert!(back > 50, "too old at back {back} t {t} newest {newest:?} model {:?} outcome {out:?}", model.get(&format!("h{series}"))),
                        RejectReason::DuplicateTimestamp => prop_assert!(existing_any.is_some_and(|b| b != (v as f64).to_bits()) || back == 0),
                        RejectReason::OutOfBounds => {}
                        r => prop_assert!(false, "unexpected rejection {r:?} with default limits"),
                    }
                }
            }
            Action::Maintenance => db.as_ref().unwrap().maintenance().unwrap(),
            Action::Reopen => {
                drop(db.take());
                db = Some(Db::open(dir.path(), opts()).unwrap());
            }
            Action::Delete { series, back, len } => {
                let host = format!("h{series}");
                let (t0, t1) = (last[series] - back - len, last[series] - back);
                let m = Matcher::new(MatchOp::Equal, "host", &host).unwrap();
                db.as_ref().unwrap().delete_series(&[m], t0, t1).unwrap();
                let newest =
                    |x: Option<&BTreeMap<i64, u64>>| x.and_then(|m| m.keys().next_back().copied());
                if let Some(n) = newest(model.get(&host)).max(newest(ghosts.get(&host))) {
                    if t0 <= t1.min(n) {
                        hidden
                            .entry(host.clone())
                            .or_default()
                            .push((t0, t1.min(n)));
                    }
                }
                if let Some(m) = model.get_mut(&host) {
                    let gone: Vec<i64> = m.range(t0..=t1).map(|(k, _)| *k).collect();
                    for k in gone {
                        let v = m.remove(&k).unwrap();
                        ghosts.entry(host.clone()).or_default().insert(k, v);
                    }
                }
                synced = newest_wal_segment(dir.path()).map(|p| {
                    let n = fs::metadata(&p).unwrap().len();
                    (p, n)
                });
            }
            Action::CleanReopen => {
                db.take().unwrap().close().unwrap();
                synced = newest_wal_segment(dir.path()).map(|p| {
                    let n = fs::metadata(&p).unwrap().len();
                    (p, n)
                });
                db = Some(Db::open(dir.path(), opts()).unwrap());
            }
            Action::CrashTruncate { frac, flip } => {
                drop(db.take());
                if let Some(seg) = newest_wal_segment(dir.path()) {
                    let len = fs::metadata(&seg).unwrap().len();
                    let floor = synced
                        .as_ref()
                        .filter(|(p, _)| *p == seg)
                        .map_or(0, |s| s.1);
                    let cut = (len * frac as u64 / 255).max(floor.min(len));
                    let f = fs::OpenOptions::new().write(true).open(&seg).unwrap();
                    f.set_len(cut).unwrap();
                    drop(f);
                    if flip && cut > 16 && cut > floor {
                        let mut bytes = fs::read(&seg).unwrap();
                        let i = (cut as usize) - 1;
                        bytes[i] ^= 0x5a;
                        fs::write(&seg, bytes).unwrap();
                    }
                }
                db = Some(Db::open(dir.path(), opts()).unwrap());
                // Never garbage: every recovered sample was written with that value. In-order
                // samples recover to a prefix; out-of-order ones may be lost on their own.
                let got = read_all(db.as_ref().unwrap());
                for (host, samples) in &got {
                    let m = model.get(host).cloned().unwrap_or_default();
                    for (t, v) in samples {
                        prop_assert_eq!(
                            m.get(t),
                            Some(v),
                            "series {} recovered a sample never written: {:?}",
                            host,
                            (t, v)
                        );
                    }
                    let in_order = |s: Vec<(i64, u64)>| -> Vec<(i64, u64)> {
                        s.into_iter()
                            .filter(|(t, _)| !ooo.contains(&(host.clone(), *t)))
                            .collect()
                    };
                    let got_io = in_order(samples.clone());
                    let want_io = in_order(m.iter().map(|(&t, &v)| (t, v)).collect());
                    prop_assert!(got_io.len() <= want_io.len() && got_io[..] == want_io[..got_io.len()],
                        "series {host} in-order samples are not a prefix: got {got_io:?} want {want_io:?}");
                }
                model = got
                    .into_iter()
                    .map(|(h, s)| (h, s.into_iter().collect()))
                    .collect();
                ooo.retain(|(h, t)| {
                    model.get(h).is_some_and(|m| m.contains_key(t))
                        || ghosts.get(h).is_some_and(|m| m.contains_key(t))
                });
                continue;
            }
        }
        let got = read_all(db.as_ref().unwrap());
        let want: BTreeMap<String, Vec<(i64, u64)>> = model
            .iter()
            .filter(|(_, m)| !m.is_empty())
            .map(|(h, m)| (h.clone(), m.iter().map(|(&t, &v)| (t, v)).collect()))
            .collect();
        prop_assert_eq!(got, want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn db_matches_model(actions in proptest::collection::vec(action(), 1..160)) {
        run(actions)?;
    }
}
