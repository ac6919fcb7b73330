//! Fuzzes the remote-write ingest path: snappy decompression plus the zero-copy
//! `WriteRequest` parser must never panic, and must agree with prost's owned decoder; the lazy
//! parse (label bytes kept, labels parsed afterwards) must accept and give exactly the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote::prost::Message;
use remote::{
    decompress, parse_labels, parse_write_request, parse_write_request_lazy, prompb,
    WriteRequestRef,
};

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

/// The lazy parse with every unparsed label set parsed afterwards: labels and samples per series.
#[allow(clippy::type_complexity)]
fn lazy(buf: &[u8]) -> Result<Vec<(Vec<(&str, &str)>, Vec<(i64, u64)>)>, remote::DecodeError> {
    let mut out = WriteRequestRef::new();
    parse_write_request_lazy(buf, &mut out)?;
    let mut all = Vec::new();
    for (i, (ls, ss)) in out.series().enumerate() {
        let mut labels = ls.to_vec();
        if let Some(span) = out.unparsed_labels(i) {
            assert!(ls.is_empty());
            parse_labels(buf, span, i, &mut labels)?;
        }
        all.push((labels, ss.iter().map(|&(t, v)| (t, v.to_bits())).collect()));
    }
    Ok(all)
}

/// Parses `buf` with both decoders and checks they agree.
fn check(buf: &[u8]) {
    let mut out = WriteRequestRef::new();
    let ours = parse_write_request(buf, &mut out);
    match (&ours, lazy(buf)) {
        (Ok(()), Ok(l)) => {
            let eager: Vec<_> = out
                .series()
                .map(|(ls, ss)| (ls.to_vec(), ss.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>()))
                .collect();
            assert_eq!(l, eager, "lazy parse differs");
        }
        (Ok(()), Err(e)) => panic!("lazy parse rejects what the parser accepts: {e}"),
        (Err(e), Ok(_)) => panic!("lazy parse accepts what the parser rejects: {e}"),
        (Err(_), Err(_)) => {}
    }
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
