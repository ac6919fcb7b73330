//! Property tests: the zero-copy parser agrees with prost's owned decoder.

mod common;

use common::*;
use proptest::prelude::*;
use prost::Message;
use remote::{parse_write_request, prompb, WriteRequestRef};

fn label_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("__name__".to_string()),
        "[a-z_][a-z0-9_]{0,12}",
        "\\PC{1,6}", // arbitrary printable unicode (UTF-8 label names are valid in Prometheus 3)
    ]
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[ -~]{0,20}", "\\PC{0,8}"]
}

fn series() -> impl Strategy<Value = prompb::TimeSeries> {
    (
        prop::collection::btree_map(label_name(), label_value(), 1..12),
        "[a-z]{1,10}",
        prop::collection::vec((any::<i64>(), any::<u64>()), 0..4),
        0..3usize,
        0..3usize,
    )
        .prop_map(|(map, anchor, samples, ex, hi)| {
            let mut labels: Vec<prompb::Label> = map
                .into_iter()
                .map(|(name, value)| prompb::Label { name, value })
                .collect();
            // Keep the request valid: non-empty metric name and at least one non-empty value.
            for l in &mut labels {
                if l.name == "__name__" && l.value.is_empty() {
                    l.value = anchor.clone();
                }
            }
            if labels.iter().all(|l| l.value.is_empty()) {
                labels[0].value = anchor;
            }
            prompb::TimeSeries {
                labels,
                samples: samples
                    .into_iter()
                    .map(|(t, v)| prompb::Sample {
                        timestamp: t,
                        value: f64::from_bits(v),
                    })
                    .collect(),
                exemplars: (0..ex)
                    .map(|i| prompb::Exemplar {
                        labels: vec![prompb::Label {
                            name: "trace_id".into(),
                            value: i.to_string(),
                        }],
                        value: i as f64,
                        timestamp: i as i64,
                    })
                    .collect(),
                histograms: (0..hi)
                    .map(|i| prompb::Histogram {
                        timestamp: i as i64,
                    })
                    .collect(),
            }
        })
}

fn request() -> impl Strategy<Value = prompb::WriteRequest> {
    prop::collection::vec(series(), 0..8).prop_map(|timeseries| prompb::WriteRequest {
        timeseries,
        metadata: vec![],
    })
}

/// The contract between the parsers on arbitrary bytes.
fn check_agreement(buf: &[u8]) -> Result<(), TestCaseError> {
    let mut out = WriteRequestRef::new();
    let ours = parse_write_request(buf, &mut out);
    // The lazy parse plus label parsing accepts exactly what the eager parse does, the same way.
    match (&ours, lazy_then_labels(buf)) {
        (Ok(()), Ok(lazy)) => prop_assert_eq!(lazy, norm_ref(&out)),
        (Ok(()), Err(e)) => {
            prop_assert!(false, "lazy parse rejects what the parser accepts: {}", e)
        }
        (Err(e), Ok(_)) => prop_assert!(false, "lazy parse accepts what the parser rejects: {}", e),
        (Err(_), Err(_)) => {}
    }
    let prost = prompb::WriteRequest::decode(buf);
    match (&ours, &prost) {
        (Ok(()), Ok(p)) => prop_assert_eq!(norm_ref(&out), norm_prost(p)),
        (Ok(()), Err(e)) => prop_assert!(false, "parser accepted what prost rejects: {}", e),
        (Err(e), Ok(_)) => prop_assert!(
            !e.is_malformed(),
            "prost accepted, parser says malformed: {}",
            e
        ),
        (Err(_), Err(_)) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_requests_parse_like_prost(req in request()) {
        let buf = req.encode_to_vec();
        let mut out = WriteRequestRef::new();
        parse_write_request(&buf, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let decoded = prompb::WriteRequest::decode(buf.as_slice()).unwrap();
        prop_assert_eq!(norm_ref(&out), norm_prost(&decoded));
        prop_assert_eq!(lazy_then_labels(&buf).map_err(|e| TestCaseError::fail(e.to_string()))?, norm_prost(&decoded));
        prop_assert_eq!(out.len(), req.timeseries.len());
        prop_assert_eq!(out.num_exemplars(), req.timeseries.iter().map(|t| t.exemplars.len()).sum::<usize>());
        prop_assert_eq!(out.num_histograms(), req.timeseries.iter().map(|t| t.histograms.len()).sum::<usize>());
        for (ls, _) in out.series() {
            prop_assert!(!ls.is_empty());
            prop_assert!(ls.windows(2).all(|w| w[0].0 < w[1].0));
            prop_assert!(ls.iter().all(|l| !l.1.is_empty()));
        }
    }

    #[test]
    fn mutated_requests_agree_with_prost(
        req in request(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
    ) {
        let mut buf = req.encode_to_vec();
        for (at, byte, kind) in edits {
            if buf.is_empty() { buf.push(byte); continue; }
            let i = at.index(buf.len());
            match kind {
                0 => buf[i] = byte,
                1 => buf.insert(i, byte),
                _ => { buf.remove(i); }
            }
        }
        check_agreement(&buf)?;
    }

    #[test]
    fn random_bytes_agree_with_prost(buf in prop::collection::vec(any::<u8>(), 0..64)) {
        check_agreement(&buf)?;
    }
}
