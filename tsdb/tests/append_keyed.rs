//! `Db::append_keyed`: series known by the key of their labels' wire bytes need no labels;
//! an unknown key appends nothing and names the entries whose labels are needed.

use tsdb::labels::fingerprint_refs;
use tsdb::{Db, Keyed, KeyedEntry, Options};

fn count(db: &Db, name: &str) -> usize {
    let m = [tsdb::matcher::Matcher::new(tsdb::matcher::MatchOp::Equal, "__name__", name).unwrap()];
    db.select_samples(&m, i64::MIN, i64::MAX)
        .unwrap()
        .iter()
        .map(|s| s.samples.len())
        .sum()
}

#[test]
fn known_keys_append_unknown_keys_ask_for_labels() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let a: &[(&str, &str)] = &[("__name__", "a"), ("job", "x")];
    let b: &[(&str, &str)] = &[("__name__", "b"), ("job", "x")];
    db.append_batch(&[(a, &[(1000, 1.0)])]).unwrap();
    let entry = |labels, key, t: &'static [(i64, f64)]| KeyedEntry {
        key,
        labels,
        samples: t,
    };
    // Known by key alone.
    let r = db
        .append_keyed(&[entry(None, fingerprint_refs(a), &[(2000, 2.0)])])
        .unwrap();
    assert!(matches!(r, Keyed::Done(ref o) if o.appended == 1), "{r:?}");
    // An unknown key: nothing appended, even for the known series beside it.
    let batch = [
        entry(None, fingerprint_refs(a), &[(3000, 3.0)]),
        entry(None, fingerprint_refs(b), &[(3000, 3.0)]),
        entry(None, 12345, &[]),
    ];
    assert_eq!(db.append_keyed(&batch).unwrap(), Keyed::NeedLabels(vec![1]));
    assert_eq!(count(&db, "a"), 2);
    // With the labels: created and appended.
    let mut batch = batch;
    batch[1].labels = Some(b);
    let r = db.append_keyed(&batch).unwrap();
    assert!(matches!(r, Keyed::Done(ref o) if o.appended == 2), "{r:?}");
    assert_eq!((count(&db, "a"), count(&db, "b")), (3, 1));
    // A rejected sample of a series known by key is named from the head's labels.
    let r = db
        .append_keyed(&[entry(None, fingerprint_refs(b), &[(1, 9.0)])])
        .unwrap();
    let Keyed::Done(o) = r else { panic!("{r:?}") };
    assert_eq!(o.appended, 0);
    let msg = o.first_rejection.unwrap();
    assert!(msg.contains("b{job=\"x\"}"), "{msg}");
}
