//! Request builders shared by the HTTP API tests.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::Request;
use remote::prompb::{Label, Sample, TimeSeries};

/// A GET request for `uri`.
pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// A form-encoded POST of `form` to `uri`.
pub fn post_form(uri: &str, form: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap()
}

/// A remote-write series `name{labels}` with `samples` `(ms, value)`.
pub fn series(name: &str, labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    let mut l = vec![Label {
        name: "__name__".into(),
        value: name.into(),
    }];
    l.extend(labels.iter().map(|(n, v)| Label {
        name: n.to_string(),
        value: v.to_string(),
    }));
    l.sort_by(|a, b| a.name.cmp(&b.name));
    TimeSeries {
        labels: l,
        samples: samples
            .iter()
            .map(|&(t, v)| Sample {
                value: v,
                timestamp: t,
            })
            .collect(),
        ..Default::default()
    }
}
