//! Fuzzes the remote-write ingest path: snappy decompression plus the zero-copy
//! `WriteRequest` parser must never panic, and must agree with prost's owned decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote::prost::Message;
use remote::{decompress, parse_write_request, prompb, WriteRequestRef};

/// Decompression limit: large enough for anything libFuzzer produces, small enough to be cheap.
const LIMIT: usize = 4 << 20;

fuzz_target!(|data: &[u8]| {
    let mut raw = Vec::new();
    match decompress(data, LIMIT, &mut raw) {
        Ok(()) => check(&raw),
        Err(e) => {
            assert!(raw.is_empty(), "failed decompression left output behind");
            let _ = e.to_string();
        }
    }
    // The raw bytes are also fed to the parser directly (most inputs are not snappy).
    check(data);
});

/// Parses `buf` with both decoders and checks they agree.
fn check(buf: &[u8]) {
    let mut out = WriteRequestRef::new();
    let ours = parse_write_request(buf, &mut out);
    let prost = prompb::WriteRequest::decode(buf);
    match (ours, prost) {
        (Ok(()), Ok(req)) => compare(&out, &req),
        (Ok(()), Err(e)) => panic!("zero-copy parser accepted bytes prost rejects: {e}"),
        (Err(e), Ok(_)) => {
            // Validation may reject what prost accepts, but never call valid wire data malformed.
            assert!(!e.is_malformed(), "prost accepted bytes the parser calls malformed: {e}");
            assert!(out.is_empty() && out.num_samples() == 0);
            let _ = e.to_string();
        }
        (Err(e), Err(_)) => {
            assert!(out.is_empty());
            let _ = e.to_string();
        }
    }
}

/// Compares a successful zero-copy parse with prost's decoding (empty-valued labels dropped).
fn compare(out: &WriteRequestRef<'_>, req: &prompb::WriteRequest) {
    assert_eq!(out.len(), req.timeseries.len());
    assert_eq!(out.num_metadata(), req.metadata.len());
    let exemplars: usize = req.timeseries.iter().map(|t| t.exemplars.len()).sum();
    let histograms: usize = req.timeseries.iter().map(|t| t.histograms.len()).sum();
    assert_eq!(out.num_exemplars(), exemplars);
    assert_eq!(out.num_histograms(), histograms);
    for ((labels, samples), ts) in out.series().zip(&req.timeseries) {
        let want = ts.labels.iter().filter(|l| !l.value.is_empty());
        assert!(labels.iter().map(|&(n, v)| (n, v)).eq(want.map(|l| (l.name.as_str(), l.value.as_str()))));
        assert!(!labels.is_empty());
        assert!(labels.windows(2).all(|w| w[0].0 < w[1].0), "labels not strictly sorted");
        assert!(labels.iter().all(|l| !l.0.is_empty() && !l.1.is_empty()));
        assert_eq!(samples.len(), ts.samples.len());
        for (&(t, v), s) in samples.iter().zip(&ts.samples) {
            assert_eq!(t, s.timestamp);
            assert_eq!(v.to_bits(), s.value.to_bits());
        }
    }
}
