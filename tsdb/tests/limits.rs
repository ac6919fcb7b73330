//! Limits on new series: label count and length, series per metric.

use tsdb::{Db, Limits, Options, RejectReason};

fn open(dir: &std::path::Path, limits: Limits) -> Db {
    Db::open(
        dir,
        Options {
            limits,
            ..Options::default()
        },
    )
    .unwrap()
}

#[test]
fn series_per_metric_limit_names_the_metric_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(
        dir.path(),
        Limits {
            max_series_per_metric: 2,
            ..Limits::default()
        },
    );
    let pods = ["a", "b", "c"];
    let labels: Vec<[(&str, &str); 2]> = pods
        .iter()
        .map(|p| [("__name__", "pod_cpu"), ("pod", *p)])
        .collect();
    let s = [(1_000, 1.0)];
    let batch: Vec<_> = labels.iter().map(|l| (&l[..], &s[..])).collect();
    let out = db.append_batch(&batch).unwrap();
    assert_eq!(out.appended, 2);
    assert_eq!(out.rejected, vec![(RejectReason::SeriesLimit, 1)]);
    let msg = out.first_rejection.unwrap();
    assert!(
        msg.contains("\"pod_cpu\"") && msg.contains("2 series"),
        "{msg}"
    );
    // Existing series keep accepting samples; other metrics are not affected.
    let other = [("__name__", "other"), ("pod", "c")];
    let out = db
        .append_batch(&[(&labels[0][..], &[(2_000, 2.0)][..]), (&other[..], &s[..])])
        .unwrap();
    assert_eq!((out.appended, out.rejected.len()), (2, 0));
    let mut text = String::new();
    db.render_metrics(&mut text);
    assert!(
        text.contains("vitals_tsdb_rejected_samples_total{reason=\"series_limit\"} 1"),
        "{text}"
    );
}

#[test]
fn label_limits_reject_new_series_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(
        dir.path(),
        Limits {
            max_labels: 3,
            max_label_value_bytes: 10,
            ..Limits::default()
        },
    );
    let long = "x".repeat(11);
    let too_long = [("__name__", "m"), ("v", long.as_str())];
    let many = [("__name__", "m"), ("a", "1"), ("b", "1"), ("c", "1")];
    let ok = [("__name__", "m"), ("a", "1")];
    let s = [(1_000, 1.0)];
    let out = db
        .append_batch(&[
            (&too_long[..], &s[..]),
            (&many[..], &s[..]),
            (&ok[..], &s[..]),
        ])
        .unwrap();
    assert_eq!(out.appended, 1);
    assert_eq!(out.rejected, vec![(RejectReason::LabelLimit, 2)]);
    assert!(out.first_rejection.unwrap().contains("11 bytes"));
    let mut text = String::new();
    db.render_metrics(&mut text);
    assert!(text.contains("vitals_tsdb_rejected_samples_total{reason=\"label_limit\"} 2"));
}
