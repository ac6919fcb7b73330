//! Golden test: our XOR chunks are byte-identical to the chunks a real Prometheus (2.42,
//! `promtool tsdb create-blocks-from openmetrics`) wrote for the same samples, and decoding
//! Prometheus' bytes gives back the same samples bit for bit. Fixtures: testdata/prometheus-chunks.

use std::path::Path;

use tsdb::chunkenc::{XorChunk, XorIter};

struct Fixture {
    name: String,
    samples: Vec<(i64, u64)>,
    chunks: Vec<Vec<u8>>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/prometheus-chunks");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("txt") {
            continue;
        }
        let mut f = Fixture {
            name: p.file_stem().unwrap().to_string_lossy().into(),
            samples: vec![],
            chunks: vec![],
        };
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts[0] {
                "s" => f.samples.push((
                    parts[1].parse().unwrap(),
                    u64::from_str_radix(parts[2], 16).unwrap(),
                )),
                "c" => f.chunks.push(hex(parts[1])),
                _ => {}
            }
        }
        out.push(f);
    }
    assert!(out.len() >= 6, "fixtures missing in {}", dir.display());
    out
}

#[test]
fn encoding_is_byte_identical_to_prometheus() {
    for f in fixtures() {
        // Prometheus cuts a chunk every 120 samples.
        let ours: Vec<Vec<u8>> = f
            .samples
            .chunks(120)
            .map(|part| {
                let mut c = XorChunk::new();
                for &(t, v) in part {
                    c.append(t, f64::from_bits(v));
                }
                c.into_bytes()
            })
            .collect();
        assert_eq!(ours.len(), f.chunks.len(), "{}: chunk count", f.name);
        for (i, (a, b)) in ours.iter().zip(&f.chunks).enumerate() {
            assert_eq!(a, b, "{}: chunk {i} differs from Prometheus' bytes", f.name);
        }
    }
}

#[test]
fn decoding_prometheus_chunks_gives_the_samples() {
    for f in fixtures() {
        let mut got = Vec::new();
        for c in &f.chunks {
            let mut it = XorIter::new(c);
            got.extend((&mut it).map(|(t, v)| (t, v.to_bits())));
            assert!(it.err().is_none(), "{}: {:?}", f.name, it.err());
        }
        assert_eq!(got, f.samples, "{}", f.name);
    }
}
