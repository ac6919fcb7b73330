//! Bytes per sample of XOR vs dense vs packed chunks on typical series types (15 s scrapes).
//! Prints a table (`cargo test -p tsdb --release --test encoding_density -- --nocapture`)
//! and checks that packed (what blocks are written with) is never worse than dense and never
//! much worse than XOR. `--ignored` adds a table of decode speeds (figures only, no timing asserted).

use rand::{Rng, SeedableRng};
use tsdb::chunkenc::{encode_dense, encode_packed, XorChunk};

fn series(kind: &str, n: usize, rng: &mut rand::rngs::StdRng) -> Vec<(i64, f64)> {
    let jitter = kind.ends_with("jitter");
    let mut v: f64 = match kind {
        k if k.starts_with("cpu") => 123456.78,
        k if k.starts_with("bytes") => 9.87e9,
        "temperature" => 45.5,
        "gauge" => 2.1e9,
        _ => 7.0,
    };
    (0..n)
        .map(|i| {
            let t = 1_700_000_000_000
                + i as i64 * 15_000
                + if jitter { rng.gen_range(-5..=5) } else { 0 };
            v = match kind {
                k if k.starts_with("cpu") => {
                    ((v + 15.0 * rng.gen_range(0.0..0.3)) * 100.0).round() / 100.0
                }
                k if k.starts_with("bytes") => v + rng.gen_range(0..2_000_000) as f64,
                "temperature" => ((45.0 + rng.gen_range(-3.0..3.0)) * 10.0f64).round() / 10.0,
                "gauge" => 2.1e9 + (rng.gen_range(-50_000..50_000) * 4096) as f64,
                "histogram_bucket" => v + rng.gen_range(0..3) as f64,
                _ => v,
            };
            (t, v)
        })
        .collect()
}

/// The samples as XOR chunks of 120 (as the head cuts them).
fn xor_chunks(s: &[(i64, f64)]) -> Vec<Vec<u8>> {
    s.chunks(120)
        .map(|p| {
            let mut c = XorChunk::new();
            for &(t, v) in p {
                c.append(t, v);
            }
            c.into_bytes()
        })
        .collect()
}

/// The series types of both tables.
const KINDS: [&str; 7] = [
    "cpu_counter",
    "cpu_counter_jitter",
    "bytes_counter_jitter",
    "gauge",
    "temperature",
    "constant",
    "histogram_bucket",
];

fn xor_bytes(s: &[(i64, f64)]) -> usize {
    xor_chunks(s).iter().map(|c| c.len() + 1 + 4 + 1).sum()
}

#[test]
fn dense_vs_xor_table() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    println!(
        "| series type | span | XOR B/sample | dense B/sample | packed B/sample |\n|---|---|---|---|---|"
    );
    for kind in KINDS {
        for (span, n) in [("2h", 480), ("24h", 5760)] {
            let s = series(kind, n, &mut rng);
            let x = xor_bytes(&s) as f64 / n as f64;
            let d = (encode_dense(&s).len() + 1 + 4 + 2) as f64 / n as f64;
            let p = (encode_packed(&s).len() + 1 + 4 + 2) as f64 / n as f64;
            println!("| {kind} | {span} | {x:.2} | {d:.2} | {p:.2} |");
            assert!(
                d <= x * 1.1 + 0.05,
                "{kind} {span}: dense {d:.2} much worse than XOR {x:.2}"
            );
            assert!(
                p <= d + 0.01,
                "{kind} {span}: packed {p:.2} worse than dense {d:.2}"
            );
        }
    }
}

/// Nanoseconds per sample to decode `chunks` (encoding, bytes) of `n` samples in all, as the
/// read path does (appending to a reused buffer), best of 5 rounds of ~20 ms.
fn decode_ns(chunks: &[(u8, Vec<u8>)], n: usize) -> f64 {
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(n);
    let mut best = f64::INFINITY;
    let mut reps = 1usize;
    let mut rounds = 0;
    while rounds < 5 {
        let t0 = std::time::Instant::now();
        for _ in 0..reps {
            out.clear();
            for (enc, data) in chunks {
                tsdb::chunkenc::decode_any(*enc, data, &mut out).unwrap();
            }
            std::hint::black_box(&out);
        }
        let el = t0.elapsed().as_secs_f64();
        assert_eq!(out.len(), n);
        if el < 0.02 {
            reps *= 2;
            continue;
        }
        rounds += 1;
        best = best.min(el * 1e9 / (reps * n) as f64);
    }
    best
}

/// Decode speed per encoding and series type (no assertion on time: figures only):
/// `cargo test -p tsdb --release --test encoding_density -- --ignored --nocapture`.
#[test]
#[ignore]
fn decode_speed_table() {
    use tsdb::chunkenc::{ENCODING_DENSE, ENCODING_PACKED, ENCODING_XOR};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    println!(
        "| series type | samples | XOR ns/sample | dense ns/sample | packed ns/sample |\n|---|---|---|---|---|"
    );
    for kind in KINDS {
        for n in [480, 1440] {
            let s = series(kind, n, &mut rng);
            let xor: Vec<(u8, Vec<u8>)> = xor_chunks(&s)
                .into_iter()
                .map(|c| (ENCODING_XOR, c))
                .collect();
            let x = decode_ns(&xor, n);
            let d = decode_ns(&[(ENCODING_DENSE, encode_dense(&s))], n);
            let p = decode_ns(&[(ENCODING_PACKED, encode_packed(&s))], n);
            println!("| {kind} | {n} | {x:.2} | {d:.2} | {p:.2} |");
        }
    }
}
