//! Bytes per sample of block chunks on the standard benchmark workload, by metric: the
//! dense encoding of earlier blocks vs the packed encoding blocks use now (2 h chunks,
//! segment framing included). Prints the table
//! (`cargo test --release --test workload_density -- --nocapture`) and checks that packed is
//! smaller for every metric and decodes bit for bit.

#[path = "common/workload.rs"]
mod workload;

use std::collections::BTreeMap;
use tsdb::chunkenc::{decode_any, encode_dense, encode_packed, ENCODING_PACKED};

/// Length, encoding and CRC bytes around a chunk in a segment file (len uvarint ≤ 2 here).
const FRAMING: usize = 7;

#[test]
fn packed_vs_dense_by_metric() {
    let (hosts, rounds) = (2, 480);
    let mut w = workload::Workload::new(hosts, 42);
    let mut names = Vec::new();
    let mut data: Vec<Vec<(i64, f64)>> = vec![Vec::new(); w.len()];
    for r in 0..rounds {
        let mut i = 0;
        for req in w.round(1_764_000_000_000 + r * workload::STEP_MS, usize::MAX) {
            for ts in req.timeseries {
                if r == 0 {
                    let name = ts.labels.iter().find(|l| l.name == "__name__").unwrap();
                    names.push(name.value.clone());
                }
                data[i].push((ts.samples[0].timestamp, ts.samples[0].value));
                i += 1;
            }
        }
    }
    // metric → (series, samples, dense bytes, packed bytes)
    let mut by: BTreeMap<&str, (usize, usize, usize, usize)> = BTreeMap::new();
    for (s, name) in data.iter().zip(&names) {
        let packed = encode_packed(s);
        let mut back = Vec::new();
        decode_any(ENCODING_PACKED, &packed, &mut back).unwrap();
        assert!(back
            .iter()
            .zip(s)
            .all(|(a, b)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits()));
        assert_eq!(back.len(), s.len());
        let e = by.entry(name).or_default();
        e.0 += 1;
        e.1 += s.len();
        e.2 += encode_dense(s).len() + FRAMING;
        e.3 += packed.len() + FRAMING;
    }
    let total = by.values().fold((0, 0, 0, 0), |a, e| {
        (a.0 + e.0, a.1 + e.1, a.2 + e.2, a.3 + e.3)
    });
    let mut rows: Vec<_> = by.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1 .3));
    println!("| metric | series | dense B/sample | packed B/sample | share of packed bytes |");
    println!("|---|---|---|---|---|");
    for (name, (c, n, d, p)) in &rows {
        println!(
            "| {name} | {c} | {:.3} | {:.3} | {:.1}% |",
            *d as f64 / *n as f64,
            *p as f64 / *n as f64,
            100.0 * *p as f64 / total.3 as f64
        );
        assert!(p < d, "{name}: packed {p} bytes ≥ dense {d}");
    }
    println!(
        "| all | {} | {:.3} | {:.3} | 100% |",
        total.0,
        total.2 as f64 / total.1 as f64,
        total.3 as f64 / total.1 as f64
    );
}
