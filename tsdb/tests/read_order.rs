//! Reads list series in label order whatever order the head created them in: many series
//! (the head sorts them by ranked symbols) and few (by comparing strings), labels that are
//! prefixes of others, names that are also values, on one thread and several.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use tsdb::{Db, Labels, MatchOp, Matcher, Options};

/// One series of an append batch.
type Entry<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

/// `n` label sets over a few names and values, in a shuffled order.
fn label_sets(n: usize) -> Vec<Vec<(String, String)>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut sets: Vec<Vec<(String, String)>> = (0..n)
        .map(|i| {
            let mut l = vec![
                ("__name__".to_string(), ["m", "y", "mm"][i % 3].to_string()),
                ("x".to_string(), format!("{}", i / 3)),
            ];
            // Some series end early (a prefix of others' labels), some carry a label whose
            // value is another label's name.
            if i % 5 != 0 {
                l.push(("y".to_string(), ["x", "a", "y"][i % 7 % 3].to_string()));
            }
            l
        })
        .collect();
    sets.shuffle(&mut rng);
    sets
}

fn check(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let sets = label_sets(n);
    let pairs: Vec<Vec<(&str, &str)>> = sets
        .iter()
        .map(|l| l.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect())
        .collect();
    let samples = [(1_000, 1.0)];
    let batch: Vec<Entry> = pairs.iter().map(|p| (p.as_slice(), &samples[..])).collect();
    db.append_batch(&batch).unwrap();
    let mut want: Vec<Labels> = pairs.iter().map(|p| Labels::from_pairs(p)).collect();
    want.sort();
    let all = [Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()];
    let got: Vec<Labels> = db
        .select_samples(&all, 0, 2_000)
        .unwrap()
        .into_iter()
        .map(|s| s.labels)
        .collect();
    assert_eq!(got, want, "{n} series");
    let par = std::sync::Mutex::new(Vec::new());
    db.for_each_series_par::<tsdb::Error>(&all, 0, 2_000, 3, &|i, l, _| {
        par.lock().unwrap().push((i, l));
        Ok(())
    })
    .unwrap();
    let mut par = par.into_inner().unwrap();
    par.sort_by_key(|x| x.0);
    let par: Vec<Labels> = par.into_iter().map(|x| x.1).collect();
    assert_eq!(par, want, "{n} series, parallel");
}

#[test]
fn series_come_in_label_order() {
    for n in [1, 7, 200, 255, 256, 1500] {
        check(n);
    }
}
