//! Helpers shared by the integration tests: a tiny protobuf writer and normalisers.
#![allow(dead_code)]

use remote::prompb;
use remote::{parse_labels, parse_write_request_lazy, WriteRequestRef};

/// Labels and samples of one series in comparable form (values as bit patterns, NaN-safe).
pub type Norm = Vec<(Vec<(String, String)>, Vec<(i64, u64)>)>;

/// Normalises a prost-decoded request: empty-valued labels dropped, like the zero-copy parser.
pub fn norm_prost(req: &prompb::WriteRequest) -> Norm {
    req.timeseries
        .iter()
        .map(|ts| {
            (
                ts.labels
                    .iter()
                    .filter(|l| !l.value.is_empty())
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
                ts.samples
                    .iter()
                    .map(|s| (s.timestamp, s.value.to_bits()))
                    .collect(),
            )
        })
        .collect()
}

/// Normalises a zero-copy parsed request.
pub fn norm_ref(req: &WriteRequestRef<'_>) -> Norm {
    req.series()
        .map(|(ls, ss)| {
            (
                ls.iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                ss.iter().map(|&(t, v)| (t, v.to_bits())).collect(),
            )
        })
        .collect()
}

/// Appends a varint.
pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a field key.
pub fn key(out: &mut Vec<u8>, tag: u32, wt: u8) {
    varint(out, (u64::from(tag) << 3) | u64::from(wt));
}

/// Appends a length-delimited field.
pub fn ld(out: &mut Vec<u8>, tag: u32, data: &[u8]) {
    key(out, tag, 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// Encodes a Label message body.
pub fn label(name: &str, value: &str) -> Vec<u8> {
    let mut b = Vec::new();
    ld(&mut b, 1, name.as_bytes());
    ld(&mut b, 2, value.as_bytes());
    b
}

/// Encodes a Sample message body.
pub fn sample(ts: i64, v: f64) -> Vec<u8> {
    let mut b = Vec::new();
    key(&mut b, 1, 1);
    b.extend_from_slice(&v.to_bits().to_le_bytes());
    key(&mut b, 2, 0);
    varint(&mut b, ts as u64);
    b
}

/// Encodes a TimeSeries body with the given labels and one sample.
pub fn series(labels: &[(&str, &str)], ts: i64, v: f64) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, val) in labels {
        ld(&mut b, 1, &label(n, val));
    }
    ld(&mut b, 2, &sample(ts, v));
    b
}

/// Encodes a WriteRequest body holding the given series bodies.
pub fn request(series: &[Vec<u8>]) -> Vec<u8> {
    let mut b = Vec::new();
    for s in series {
        ld(&mut b, 1, s);
    }
    b
}

/// Builds a prost request of `n` series with `labels` labels each and one sample.
pub fn typical_request(n: usize, labels: usize) -> prompb::WriteRequest {
    let timeseries = (0..n)
        .map(|i| {
            let mut ls = vec![prompb::Label {
                name: "__name__".into(),
                value: format!("http_requests_total_{}", i % 50),
            }];
            for j in 1..labels {
                ls.push(prompb::Label {
                    name: format!("label_{j:02}"),
                    value: format!("value-{}-{}", j, i),
                });
            }
            prompb::TimeSeries {
                labels: ls,
                samples: vec![prompb::Sample {
                    value: i as f64 * 1.5,
                    timestamp: 1_700_000_000_000 + i as i64,
                }],
                ..Default::default()
            }
        })
        .collect();
    prompb::WriteRequest {
        timeseries,
        metadata: vec![],
    }
}

/// The lazy parse with every unparsed label set parsed afterwards, normalised.
pub fn lazy_then_labels(buf: &[u8]) -> Result<Norm, remote::DecodeError> {
    let mut out = WriteRequestRef::new();
    parse_write_request_lazy(buf, &mut out)?;
    let mut norm = Vec::new();
    for (i, (ls, ss)) in out.series().enumerate() {
        let mut labels = Vec::new();
        match out.unparsed_labels(i) {
            Some(span) => {
                assert!(ls.is_empty(), "unparsed series {i} has labels");
                parse_labels(buf, span, i, &mut labels)?;
            }
            None => labels.extend_from_slice(ls),
        }
        norm.push((
            labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ss.iter().map(|&(t, v)| (t, v.to_bits())).collect(),
        ));
    }
    Ok(norm)
}
