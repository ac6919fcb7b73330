//! Zero-copy WriteRequest parser: goldens, unusual encodings, validation and robustness.

mod common;

use common::*;
use prost::Message;
use remote::{
    decompress, encode_write_request, parse_labels, parse_write_request, parse_write_request_lazy,
    prompb, DecodeError, WriteRequestRef,
};

fn parse(buf: &[u8]) -> Result<WriteRequestRef<'_>, DecodeError> {
    let mut out = WriteRequestRef::new();
    parse_write_request(buf, &mut out).map(|()| out)
}

fn l(name: &str, value: &str) -> prompb::Label {
    prompb::Label {
        name: name.into(),
        value: value.into(),
    }
}

#[test]
fn golden_prost_roundtrip() {
    let req = prompb::WriteRequest {
        timeseries: vec![
            prompb::TimeSeries {
                labels: vec![
                    l("__name__", "up"),
                    l("instance", "a:9090"),
                    l("job", "prom"),
                ],
                samples: vec![
                    prompb::Sample {
                        value: 1.0,
                        timestamp: 1000,
                    },
                    prompb::Sample {
                        value: f64::NAN,
                        timestamp: -5,
                    },
                    prompb::Sample {
                        value: -0.0,
                        timestamp: i64::MAX,
                    },
                ],
                exemplars: vec![prompb::Exemplar {
                    labels: vec![l("trace_id", "abc")],
                    value: 2.0,
                    timestamp: 999,
                }],
                histograms: vec![
                    prompb::Histogram { timestamp: 5 },
                    prompb::Histogram { timestamp: 6 },
                ],
            },
            prompb::TimeSeries {
                labels: vec![l("__name__", "x"), l("empty", ""), l("zone", "ü-ñ")],
                samples: vec![],
                ..Default::default()
            },
        ],
        metadata: vec![prompb::MetricMetadata {
            r#type: prompb::metric_metadata::MetricType::Counter as i32,
            metric_family_name: "up".into(),
            help: "help".into(),
            unit: "".into(),
        }],
    };
    let body = encode_write_request(&req);
    let mut raw = Vec::new();
    decompress(&body, 1 << 20, &mut raw).unwrap();
    assert_eq!(raw, req.encode_to_vec());
    let got = parse(&raw).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got.num_samples(), 3);
    assert_eq!(got.num_exemplars(), 1);
    assert_eq!(got.num_histograms(), 2);
    assert_eq!(got.num_metadata(), 1);
    // prost omits a -0.0 sample value on encoding (proto3 default), so compare with the decoded form.
    let decoded = prompb::WriteRequest::decode(raw.as_slice()).unwrap();
    assert_eq!(norm_ref(&got), norm_prost(&decoded));
    // The empty-valued label is dropped.
    let (ls, ss) = got.get(1).unwrap();
    assert_eq!(ls, &[("__name__", "x"), ("zone", "ü-ñ")]);
    assert!(ss.is_empty());
    let (_, ss0) = got.get(0).unwrap();
    assert_eq!(ss0[0], (1000, 1.0));
    assert!(ss0[1].1.is_nan() && ss0[1].0 == -5);
    assert!(got.get(2).is_none());
}

/// Unknown fields of every wire type (groups nested) at every level, fields out of order,
/// repeated fields interleaved, and last-wins for scalar fields.
#[test]
fn golden_hand_built_unusual_encoding() {
    let mut unknown = Vec::new();
    key(&mut unknown, 9, 0);
    varint(&mut unknown, u64::MAX);
    key(&mut unknown, 10, 1);
    unknown.extend_from_slice(&[1; 8]);
    ld(&mut unknown, 11, b"skipped \xff bytes");
    key(&mut unknown, 12, 5);
    unknown.extend_from_slice(&[2; 4]);
    key(&mut unknown, 13, 3); // group 13 { varint 1; group 14 { } }
    key(&mut unknown, 1, 0);
    varint(&mut unknown, 7);
    key(&mut unknown, 14, 3);
    key(&mut unknown, 14, 4);
    key(&mut unknown, 13, 4);

    // Label with value first, unknown fields, name given twice (last wins).
    let mut lab_a = unknown.clone();
    ld(&mut lab_a, 2, b"api");
    ld(&mut lab_a, 1, b"wrong");
    lab_a.extend_from_slice(&unknown);
    ld(&mut lab_a, 1, b"job");
    // Sample with timestamp first and a value given twice.
    let mut smp = Vec::new();
    key(&mut smp, 2, 0);
    varint(&mut smp, (-42i64) as u64);
    smp.extend_from_slice(&unknown);
    key(&mut smp, 1, 1);
    smp.extend_from_slice(&9.0f64.to_bits().to_le_bytes());
    key(&mut smp, 1, 1);
    smp.extend_from_slice(&3.5f64.to_bits().to_le_bytes());

    // Series: sample, label, unknown, label, sample (interleaved).
    let mut ts = Vec::new();
    ld(&mut ts, 2, &smp);
    ld(&mut ts, 1, &label("__name__", "m"));
    ts.extend_from_slice(&unknown);
    ld(&mut ts, 1, &lab_a);
    ld(&mut ts, 2, &sample(7, 1.25));
    ld(&mut ts, 3, &unknown); // exemplar made only of unknown fields
    ld(&mut ts, 4, &unknown); // histogram made only of unknown fields

    let mut req = unknown.clone();
    ld(&mut req, 2, b"reserved field 2"); // reserved upstream, unknown here
    ld(&mut req, 1, &ts);
    req.extend_from_slice(&unknown);
    ld(&mut req, 1, &series(&[("a", "1")], 1, 2.0));

    // Canonical labels followed by extra fields: an unknown one, and a repeated value (last wins).
    let mut ts2 = Vec::new();
    let mut lab = label("b", "first");
    ld(&mut lab, 2, b"second");
    ld(&mut ts2, 1, &lab);
    let mut lab = label("c", "3");
    key(&mut lab, 9, 0);
    varint(&mut lab, 1);
    ld(&mut ts2, 1, &lab);
    ld(&mut req, 1, &ts2);

    let got = parse(&req).unwrap();
    let prost = prompb::WriteRequest::decode(req.as_slice()).unwrap();
    assert_eq!(norm_ref(&got), norm_prost(&prost));
    assert_eq!(got.get(2).unwrap().0, &[("b", "second"), ("c", "3")]);
    let (ls, ss) = got.get(0).unwrap();
    assert_eq!(ls, &[("__name__", "m"), ("job", "api")]);
    assert_eq!(ss, &[(-42, 3.5), (7, 1.25)]);
    assert_eq!(got.num_exemplars(), 1);
    assert_eq!(got.num_histograms(), 1);
    assert_eq!(got.get(1).unwrap().0, &[("a", "1")]);
}

#[test]
fn empty_request_and_reuse() {
    let got = parse(&[]).unwrap();
    assert!(got.is_empty());
    let a = request(&[series(&[("__name__", "a"), ("x", "1")], 1, 1.0)]);
    let mut r = WriteRequestRef::new();
    parse_write_request(&a, &mut r).unwrap();
    assert_eq!(r.num_labels(), 2);
    let mut r2 = r.reuse();
    assert!(r2.is_empty());
    let b = request(&[series(&[("b", "2")], 2, 2.0), series(&[("c", "3")], 3, 3.0)]);
    parse_write_request(&b, &mut r2).unwrap();
    assert_eq!(r2.len(), 2);
    assert_eq!(
        r2.series().nth(1).unwrap(),
        (&[("c", "3")][..], &[(3, 3.0)][..])
    );
}

fn series_err(series_list: &[Vec<u8>]) -> DecodeError {
    let buf = request(series_list);
    let mut out = WriteRequestRef::new();
    let e = parse_write_request(&buf, &mut out).unwrap_err();
    assert!(
        out.is_empty() && out.num_samples() == 0,
        "output must be cleared on error"
    );
    e
}

#[test]
fn validation_errors_name_series_and_problem() {
    let ok = series(&[("__name__", "ok")], 1, 1.0);

    let e = series_err(&[ok.clone(), ok.clone(), series(&[("", "v")], 1, 1.0)]);
    assert_eq!(e, DecodeError::EmptyLabelName { series: 2 });
    assert_eq!(e.to_string(), "series 2: empty label name");

    let e = series_err(&[ok.clone(), series(&[("b", "1"), ("a", "2")], 1, 1.0)]);
    assert_eq!(
        e,
        DecodeError::UnsortedLabels {
            series: 1,
            prev: "b".into(),
            next: "a".into()
        }
    );
    let msg = e.to_string();
    assert!(
        msg.contains("series 1") && msg.contains("\"b\"") && msg.contains("\"a\""),
        "{msg}"
    );

    let e = series_err(&[series(&[("a", "1"), ("a", "2")], 1, 1.0)]);
    assert_eq!(
        e,
        DecodeError::DuplicateLabel {
            series: 0,
            name: "a".into()
        }
    );
    assert!(e.to_string().contains("duplicate label name \"a\""));
    // A duplicate whose first copy has an empty value is still a duplicate.
    let e = series_err(&[series(&[("a", ""), ("a", "2")], 1, 1.0)]);
    assert_eq!(
        e,
        DecodeError::DuplicateLabel {
            series: 0,
            name: "a".into()
        }
    );
    // Ordering is checked on wire labels, including empty-valued ones.
    let e = series_err(&[series(&[("c", ""), ("b", "2")], 1, 1.0)]);
    assert!(matches!(e, DecodeError::UnsortedLabels { series: 0, .. }));

    let e = series_err(&[ok.clone(), series(&[], 1, 1.0)]);
    assert_eq!(e, DecodeError::NoLabels { series: 1 });
    let e = series_err(&[series(&[("a", ""), ("b", "")], 1, 1.0)]);
    assert_eq!(e, DecodeError::NoLabels { series: 0 });
    assert!(e.to_string().contains("series 0"));

    let e = series_err(&[
        ok.clone(),
        ok.clone(),
        ok.clone(),
        series(&[("__name__", ""), ("a", "b")], 1, 1.0),
    ]);
    assert_eq!(e, DecodeError::EmptyMetricName { series: 3 });
    assert!(e.to_string().contains("__name__"));

    // Invalid UTF-8 in a name and in a value.
    let mut bad = Vec::new();
    ld(&mut bad, 1, b"ab\xc3");
    ld(&mut bad, 2, b"v");
    let mut ts = Vec::new();
    ld(&mut ts, 1, &bad);
    let e = series_err(&[ok.clone(), ts]);
    assert!(
        matches!(e, DecodeError::InvalidUtf8 { series: 1, .. }),
        "{e:?}"
    );
    let mut bad = Vec::new();
    ld(&mut bad, 1, b"a");
    ld(&mut bad, 2, b"\xff");
    let mut ts = Vec::new();
    ld(&mut ts, 1, &bad);
    let e = series_err(&[ts]);
    assert!(matches!(e, DecodeError::InvalidUtf8 { series: 0, .. }));
    assert!(e.to_string().contains("not valid UTF-8"));
    // ... and inside an exemplar's labels.
    let mut ex = Vec::new();
    ld(&mut ex, 1, &bad);
    let mut ts = series(&[("a", "1")], 1, 1.0);
    ld(&mut ts, 3, &ex);
    assert!(matches!(
        series_err(&[ts]),
        DecodeError::InvalidUtf8 { series: 0, .. }
    ));
}

/// Malformed wire data: each case must be rejected by both the zero-copy parser and prost.
#[test]
fn protobuf_errors_agree_with_prost() {
    let good = series(&[("a", "1")], 1, 1.0);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // Known field with wrong wire type (series as varint; label name as fixed32; sample value as varint).
    let mut c = Vec::new();
    key(&mut c, 1, 0);
    varint(&mut c, 1);
    cases.push(("series wire type", c));
    let mut lab = Vec::new();
    key(&mut lab, 1, 5);
    lab.extend_from_slice(&[0; 4]);
    let mut ts = Vec::new();
    ld(&mut ts, 1, &lab);
    cases.push(("label wire type", request(&[ts])));
    let mut smp = Vec::new();
    key(&mut smp, 1, 0);
    varint(&mut smp, 1);
    let mut ts = Vec::new();
    ld(&mut ts, 1, &label("a", "b"));
    ld(&mut ts, 2, &smp);
    cases.push(("sample wire type", request(&[ts])));
    let mut lab = label("a", "1");
    lab.push(0x08); // name field key with the varint wire type and no value
    let mut ts = Vec::new();
    ld(&mut ts, 1, &lab);
    cases.push(("junk after canonical label", request(&[ts])));
    cases.push(("field number 0", vec![0x00, 0x00]));
    cases.push(("wire type 6", vec![(1 << 3) | 6]));
    cases.push(("wire type 7", vec![(1 << 3) | 7]));
    let mut c = vec![(5 << 3)];
    c.extend_from_slice(&[0xff; 9]);
    c.push(0x02);
    cases.push(("varint overflow", c));
    let mut c = vec![(5 << 3)];
    c.extend_from_slice(&[0x80; 11]);
    cases.push(("varint too long", c));
    cases.push(("key > u32", vec![0x80, 0x80, 0x80, 0x80, 0x10]));
    cases.push(("lone end group", vec![(5 << 3) | 4]));
    cases.push(("mismatched end group", vec![(5 << 3) | 3, (6 << 3) | 4]));
    cases.push(("unterminated group", vec![(5 << 3) | 3, 8, 1]));
    let mut c = Vec::new();
    key(&mut c, 1, 2);
    varint(&mut c, good.len() as u64 + 1);
    c.extend_from_slice(&good);
    cases.push(("length past end", c));
    let mut c = request(std::slice::from_ref(&good));
    c.extend_from_slice(&[(5 << 3) | 1, 0, 0]);
    cases.push(("truncated fixed64", c));
    // A group inside a label that overruns the label's end but not the buffer.
    let mut lab = label("a", "1");
    lab.push((7 << 3) | 3);
    let mut ts = Vec::new();
    ld(&mut ts, 1, &lab);
    let mut c = request(&[ts]);
    c.push((7 << 3) | 4);
    cases.push(("group across message end", c));
    // Groups nested past the recursion limit of 100.
    let mut c = Vec::new();
    for _ in 0..101 {
        c.push((5 << 3) | 3);
    }
    for _ in 0..101 {
        c.push((5 << 3) | 4);
    }
    cases.push(("nesting limit", c));
    let mut c = Vec::new();
    key(&mut c, 3, 2);
    let mut md = Vec::new();
    ld(&mut md, 2, b"\xfe");
    varint(&mut c, md.len() as u64);
    c.extend_from_slice(&md);
    cases.push(("metadata utf8", c));

    for (name, buf) in &cases {
        let ours = parse(buf);
        assert!(
            ours.is_err(),
            "{name}: zero-copy parser accepted malformed input"
        );
        assert!(
            ours.as_ref().unwrap_err().is_malformed(),
            "{name}: {:?}",
            ours.err()
        );
        assert!(
            prompb::WriteRequest::decode(buf.as_slice()).is_err(),
            "{name}: prost accepted it"
        );
    }
    // Nesting just below the limit is accepted by both.
    let mut c = Vec::new();
    for _ in 0..99 {
        c.push((5 << 3) | 3);
    }
    for _ in 0..99 {
        c.push((5 << 3) | 4);
    }
    assert!(parse(&c).is_ok());
    assert!(prompb::WriteRequest::decode(c.as_slice()).is_ok());
    let e = parse(&cases[0].1).unwrap_err();
    assert!(
        e.to_string().starts_with("malformed protobuf at byte "),
        "{e}"
    );
}

/// Every prefix of a valid request (with unknown fields) must be handled without panicking,
/// and agree with prost whenever it is accepted.
#[test]
fn truncation_at_every_offset() {
    let mut req = encode_then_raw(&typical_request(3, 4));
    key(&mut req, 13, 3);
    key(&mut req, 1, 1);
    req.extend_from_slice(&[0; 8]);
    key(&mut req, 13, 4);
    ld(
        &mut req,
        1,
        &series(&[("__name__", "z"), ("b", "c")], -1, 0.5),
    );
    let full = parse(&req).unwrap();
    assert_eq!(full.len(), 4);
    let mut accepted = 0;
    for cut in 0..req.len() {
        let prefix = &req[..cut];
        let prost = prompb::WriteRequest::decode(prefix);
        match parse(prefix) {
            Ok(got) => {
                accepted += 1;
                assert_eq!(
                    norm_ref(&got),
                    norm_prost(&prost.expect("prost must accept too")),
                    "cut {cut}"
                );
            }
            Err(e) if e.is_malformed() => assert!(prost.is_err(), "cut {cut}: {e}"),
            Err(_) => {}
        }
    }
    assert!(accepted >= 4, "series boundaries are valid prefixes");
}

fn encode_then_raw(req: &prompb::WriteRequest) -> Vec<u8> {
    let mut raw = Vec::new();
    decompress(&encode_write_request(req), 1 << 24, &mut raw).unwrap();
    raw
}

#[test]
fn snappy_bomb_is_refused_before_allocating() {
    // Snappy block header: uvarint of the uncompressed length (1 GB), then a bogus body.
    let mut body = Vec::new();
    varint(&mut body, 1_000_000_000);
    body.extend_from_slice(&[0, 1, 2, 3]);
    let mut out = Vec::new();
    let e = decompress(&body, 10 << 20, &mut out).unwrap_err();
    assert_eq!(
        e,
        DecodeError::TooLarge {
            size: 1_000_000_000,
            limit: 10 << 20
        }
    );
    assert_eq!(out.capacity(), 0, "nothing may be allocated");
    assert!(e.to_string().contains("exceeds the limit"));
    // Limit is inclusive: a body of exactly `limit` bytes is fine.
    let raw = b"hello hello hello hello";
    let comp = snap::raw::Encoder::new().compress_vec(raw).unwrap();
    decompress(&comp, raw.len(), &mut out).unwrap();
    assert_eq!(out, raw);
    assert!(matches!(
        decompress(&comp, raw.len() - 1, &mut out),
        Err(DecodeError::TooLarge { .. })
    ));
    // Garbage and truncated snappy.
    assert!(matches!(
        decompress(&[0xff; 11], 100, &mut out),
        Err(DecodeError::Snappy(_))
    ));
    for cut in 0..comp.len() {
        assert!(
            decompress(&comp[..cut], 100, &mut out).is_err(),
            "cut {cut}"
        );
    }
}

/// Bodies captured from a real Prometheus 2.42 (scraping itself) with `remote_write`.
#[test]
fn golden_prometheus_2_42_capture() {
    for name in [
        "prometheus-2.42-write-samples.snappy",
        "prometheus-2.42-write-metadata.snappy",
    ] {
        let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        let body = std::fs::read(&path).unwrap();
        let mut raw = Vec::new();
        decompress(&body, 32 << 20, &mut raw).unwrap();
        let got = parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        let prost = prompb::WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(norm_ref(&got), norm_prost(&prost));
        assert_eq!(got.len(), prost.timeseries.len());
        assert!(
            got.len() + got.num_metadata() > 10,
            "{name}: {} series",
            got.len()
        );
        let mut saw_up = false;
        for (ls, _) in got.series() {
            assert!(
                ls.windows(2).all(|w| w[0].0 < w[1].0),
                "{name}: unsorted {ls:?}"
            );
            assert!(ls.iter().any(|l| l.0 == "__name__"));
            assert!(ls.contains(&("job", "self")), "{ls:?}");
            saw_up |= ls.contains(&("__name__", "up"));
        }
        println!(
            "{name}: {} series, {} samples, {} metadata, up={saw_up}",
            got.len(),
            got.num_samples(),
            got.num_metadata()
        );
    }
}

/// Prints ns/sample of the zero-copy parser versus prost's owned decode. Run with
/// `cargo test -p remote --release --test parse -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_parse_vs_prost() {
    use std::time::Instant;
    let req = typical_request(2000, 10);
    let body = encode_write_request(&req);
    let mut raw = Vec::new();
    decompress(&body, 64 << 20, &mut raw).unwrap();
    let samples = 2000.0;
    let iters = 300;
    let mut out = WriteRequestRef::new();
    let time = |f: &mut dyn FnMut()| {
        f();
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        t.elapsed().as_nanos() as f64 / iters as f64 / samples
    };
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only == "ours" {
        for _ in 0..iters * 10 {
            parse_write_request(&raw, &mut out).unwrap();
        }
        return;
    }
    let mut scratch = Vec::new();
    let t_dec = time(&mut || decompress(&body, 64 << 20, &mut scratch).unwrap());
    let t_ours = time(&mut || {
        parse_write_request(&raw, &mut out).unwrap();
        assert_eq!(out.num_samples(), 2000);
    });
    let t_lazy = time(&mut || {
        parse_write_request_lazy(&raw, &mut out).unwrap();
        assert_eq!(out.num_samples(), 2000);
    });
    let t_prost = time(&mut || {
        let r = prompb::WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(r.timeseries.len(), 2000);
    });
    println!(
        "2000 series x 10 labels x 1 sample, {} B raw / {} B snappy: snappy {t_dec:.1} ns/sample, zero-copy parse {t_ours:.1} ns/sample, lazy (labels as bytes) {t_lazy:.1} ns/sample, prost decode {t_prost:.1} ns/sample",
        raw.len(),
        body.len()
    );
}

#[test]
fn lazy_parse_keeps_contiguous_label_bytes() {
    let mut req = Vec::new();
    // Series 0: labels first and together, as encoders write them.
    let mut ts = Vec::new();
    let (a, b) = (label("__name__", "m"), label("job", "x"));
    ld(&mut ts, 1, &a);
    ld(&mut ts, 1, &b);
    let labels_len = ts.len();
    ld(&mut ts, 2, &sample(5, 1.5));
    ld(&mut req, 1, &ts);
    let ts0_at = req.len() - ts.len();
    // Series 1: a sample between two label fields: parsed as it comes.
    let mut ts = Vec::new();
    ld(&mut ts, 1, &label("__name__", "n"));
    ld(&mut ts, 2, &sample(6, 2.5));
    ld(&mut ts, 1, &label("job", "y"));
    ld(&mut req, 1, &ts);
    // Series 2: no label field at all.
    let mut bad = req.clone();
    let mut ts = Vec::new();
    ld(&mut ts, 2, &sample(7, 3.5));
    ld(&mut bad, 1, &ts);

    let mut out = WriteRequestRef::new();
    parse_write_request_lazy(&req, &mut out).unwrap();
    let span = out.unparsed_labels(0).expect("series 0 left unparsed");
    assert_eq!(span, (ts0_at, ts0_at + labels_len));
    let (ls, ss) = out.get(0).unwrap();
    assert!(ls.is_empty());
    assert_eq!(ss, &[(5, 1.5)]);
    let mut labels = Vec::new();
    parse_labels(&req, span, 0, &mut labels).unwrap();
    assert_eq!(labels, [("__name__", "m"), ("job", "x")]);
    assert_eq!(out.unparsed_labels(1), None);
    assert_eq!(
        out.get(1).unwrap(),
        (&[("__name__", "n"), ("job", "y")][..], &[(6, 2.5)][..])
    );
    assert!(matches!(
        parse_write_request_lazy(&bad, &mut out),
        Err(DecodeError::NoLabels { series: 2 })
    ));
    assert!(out.is_empty());
    // Label problems surface when the labels are parsed, naming the series.
    let mut ts = Vec::new();
    ld(&mut ts, 1, &label("job", "x"));
    ld(&mut ts, 1, &label("a", "y"));
    let mut req = Vec::new();
    ld(&mut req, 1, &ts);
    parse_write_request_lazy(&req, &mut out).unwrap();
    let err = parse_labels(&req, out.unparsed_labels(0).unwrap(), 0, &mut labels).unwrap_err();
    assert!(
        matches!(err, DecodeError::UnsortedLabels { series: 0, .. }),
        "{err}"
    );
}

#[test]
fn a_replaced_label_string_must_still_be_utf8() {
    // Label { name: "\xff", name: "job", value: "x" }: protobuf decoders reject the first name.
    let mut lab = Vec::new();
    ld(&mut lab, 1, b"\xff");
    ld(&mut lab, 1, b"job");
    ld(&mut lab, 2, b"x");
    let mut ts = Vec::new();
    ld(&mut ts, 1, &lab);
    ld(&mut ts, 2, &sample(1, 1.0));
    let mut req = Vec::new();
    ld(&mut req, 1, &ts);
    assert!(prompb::WriteRequest::decode(req.as_slice()).is_err());
    assert!(parse(&req).is_err());
    // Replaced by a valid string, a valid one is fine.
    let mut lab = Vec::new();
    ld(&mut lab, 1, b"a");
    ld(&mut lab, 1, b"job");
    ld(&mut lab, 2, b"x");
    let mut ts = Vec::new();
    ld(&mut ts, 1, &lab);
    let mut req = Vec::new();
    ld(&mut req, 1, &ts);
    assert_eq!(parse(&req).unwrap().get(0).unwrap().0, &[("job", "x")]);
}

/// The usual encodings (skipped label fields, a value then a timestamp) and near misses of
/// them parse, lazily and eagerly, as prost decodes them.
#[test]
fn usual_encodings_and_near_misses_parse_like_prost() {
    let v = 2.5f64.to_bits().to_le_bytes();
    let mut samples: Vec<Vec<u8>> = vec![
        sample(1_700_000_000_000, 2.5),
        sample(-1, 2.5),                    // a ten-byte timestamp
        sample(3, 2.5),                     // a one-byte timestamp
        vec![0x09, 1, 2, 3, 4, 5, 6, 7, 8], // no timestamp (0)
    ];
    let mut s = sample(5, 1.0); // the value again: the last wins
    s.push(0x09);
    s.extend_from_slice(&v);
    samples.push(s);
    let mut s = sample(6, 1.0); // an unknown field after the timestamp
    key(&mut s, 7, 0);
    varint(&mut s, 1);
    samples.push(s);
    let mut s = vec![0x09];
    s.extend_from_slice(&v);
    s.extend_from_slice(&[0x10, 0x80, 0x00]); // a timestamp in a non-minimal varint
    samples.push(s);
    let long = "x".repeat(200);
    let mut req = Vec::new();
    for (i, smp) in samples.iter().enumerate() {
        let mut ts = Vec::new();
        ld(&mut ts, 1, &label("__name__", "m"));
        ld(&mut ts, 1, &label("a", &long)); // a two-byte label length amid one-byte ones
        ld(&mut ts, 1, &label("b", &i.to_string()));
        if i % 2 == 1 {
            ld(&mut ts, 2, smp); // a sample between label fields: parsed as it comes
        }
        ld(&mut ts, 1, &label("c", "z"));
        if i % 2 == 0 {
            ld(&mut ts, 2, smp);
        }
        ld(&mut req, 1, &ts);
    }
    let prost = norm_prost(&prompb::WriteRequest::decode(req.as_slice()).unwrap());
    assert_eq!(norm_ref(&parse(&req).unwrap()), prost);
    assert_eq!(lazy_then_labels(&req).unwrap(), prost);
    let mut out = WriteRequestRef::new();
    parse_write_request_lazy(&req, &mut out).unwrap();
    assert!(out.unparsed_labels(0).is_some());
    assert_eq!(out.unparsed_labels(1), None);
}
