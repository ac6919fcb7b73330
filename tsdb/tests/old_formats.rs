//! Blocks written by earlier versions stay readable.

use tsdb::chunkenc::decode_any;

/// A block written by the previous version (index version 1; XOR, dense and packed chunks)
/// still opens and reads back (`testdata/index-v1`, written once by that version).
#[test]
fn version_1_index_block_reads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/index-v1");
    let dir = std::fs::read_dir(&root)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let b = tsdb::block::Block::open(&dir).unwrap();
    let samples = |s: usize, n: usize, t0: i64| -> Vec<(i64, u64)> {
        (0..n)
            .map(|i| {
                let v = match s {
                    0 => i as f64 * 0.25,
                    1 => 1e9 + (i * i) as f64,
                    _ if i % 10 == 3 => f64::NAN,
                    _ => -(i as f64),
                };
                (t0 + i as i64 * 15_000, v.to_bits())
            })
            .collect()
    };
    let t0 = 1_000_000;
    let want = [
        (
            "a",
            "x",
            [samples(0, 120, t0), samples(0, 100, t0 + 1_800_000)].concat(),
        ),
        ("b", "x", samples(1, 200, t0)),
        ("b", "y", samples(2, 50, t0)),
    ];
    assert_eq!(b.num_series(), 3);
    for (id, (name, job, samples)) in want.iter().enumerate() {
        let (labels, metas) = b.series(id as u32).unwrap();
        assert_eq!(labels.get("__name__"), Some(*name));
        assert_eq!(labels.get("job"), Some(*job));
        let mut got = Vec::new();
        for m in metas {
            let (enc, data) = b.chunk(m.chunk_ref).unwrap();
            decode_any(enc, data, &mut got).unwrap();
        }
        let got: Vec<(i64, u64)> = got.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(&got, samples, "series {id}");
    }
}
