//! Helpers shared by the integration tests.

use tsdb::Db;

/// One series of an append batch.
pub type Entry<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

/// Appends one sample a minute in [from, to) to series `metric{cpu="0..n", job="node"}`,
/// valued `value(t, i)`; asserts every sample is stored.
pub fn append_minutely(
    db: &Db,
    metric: &str,
    from: i64,
    to: i64,
    n: usize,
    value: impl Fn(i64, usize) -> f64,
) {
    let owned: Vec<Vec<(String, String)>> = (0..n)
        .map(|i| {
            vec![
                ("__name__".into(), metric.into()),
                ("cpu".into(), i.to_string()),
                ("job".into(), "node".into()),
            ]
        })
        .collect();
    let pairs: Vec<Vec<(&str, &str)>> = owned
        .iter()
        .map(|l| l.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect())
        .collect();
    let mut t = from;
    while t < to {
        let samples: Vec<[(i64, f64); 1]> = (0..n).map(|i| [(t, value(t, i))]).collect();
        let batch: Vec<Entry> = pairs
            .iter()
            .zip(&samples)
            .map(|(p, s)| (p.as_slice(), s.as_slice()))
            .collect();
        let out = db.append_batch(&batch).unwrap();
        assert_eq!(out.appended, n as u64);
        t += 60_000;
    }
}
