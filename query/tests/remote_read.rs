//! Remote-read with STREAMED_XOR_CHUNKS: frames decode, chunks hold exactly the stored
//! samples (passed through from the head, re-encoded when out-of-order samples or dense
//! blocks are involved), frames are split by size, unsupported response types are refused.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use remote::prompb::{self, read_request::ResponseType, ChunkedReadResponse};
use remote::prost::Message;
use tower::ServiceExt;
use tsdb::chunkenc::XorIter;

fn open(dir: &std::path::Path, ooo_ms: i64) -> Arc<tsdb::Db> {
    Arc::new(
        tsdb::Db::open(
            dir,
            tsdb::Options {
                block_duration_ms: 3_600_000,
                out_of_order_window_ms: ooo_ms,
                retention_time_ms: 0,
                ..Default::default()
            },
        )
        .unwrap(),
    )
}

fn append(db: &tsdb::Db, labels: &[(&str, &str)], samples: &[(i64, f64)]) {
    let out = db.append_batch(&[(labels, samples)]).unwrap();
    assert!(out.rejected.is_empty(), "{out:?}");
}

/// Posts a remote-read of `name` over [start, end] accepting `types`.
async fn read(
    db: &Arc<tsdb::Db>,
    name: &str,
    start: i64,
    end: i64,
    types: Vec<i32>,
) -> (StatusCode, String, Vec<u8>) {
    let rr = prompb::ReadRequest {
        queries: vec![prompb::Query {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers: vec![prompb::LabelMatcher {
                r#type: 2,
                name: "__name__".into(),
                value: name.into(),
            }],
            hints: None,
        }],
        accepted_response_types: types,
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&rr.encode_to_vec())
        .unwrap();
    let app = query::router(db.clone(), query::ApiOptions::default());
    let resp = app
        .oneshot(
            Request::post("/api/v1/read")
                .header("content-type", "application/x-protobuf")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let b = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, b)
}

/// One streamed series: name, samples in range, chunk count.
type Decoded = (String, Vec<(i64, f64)>, usize);

/// Series name → samples within [start, end] decoded from streamed frames; also the frames.
fn decode(body: &[u8], start: i64, end: i64) -> (Vec<Decoded>, Vec<ChunkedReadResponse>) {
    let frames = remote::read_chunked_frames(body).unwrap();
    let mut out = Vec::new();
    for f in &frames {
        for s in &f.chunked_series {
            let name: Vec<String> = s
                .labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect();
            let mut samples = Vec::new();
            let mut last_max = i64::MIN;
            for c in &s.chunks {
                assert_eq!(c.r#type, prompb::chunk::Encoding::Xor as i32);
                assert!(c.min_time_ms > last_max, "chunks in order, disjoint");
                last_max = c.max_time_ms;
                let mut it = XorIter::new(&c.data);
                let got: Vec<(i64, f64)> = (&mut it).collect();
                assert!(it.err().is_none());
                assert_eq!(got.first().unwrap().0, c.min_time_ms);
                assert_eq!(got.last().unwrap().0, c.max_time_ms);
                samples.extend(got.into_iter().filter(|&(t, _)| t >= start && t <= end));
            }
            out.push((name.join(","), samples, s.chunks.len()));
        }
    }
    (out, frames)
}

#[tokio::test]
async fn head_chunks_pass_through_and_out_of_order_is_reencoded() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), 600_000);
    let a: Vec<(i64, f64)> = (0..300).map(|i| (i * 10_000, i as f64 * 1.5)).collect();
    append(&db, &[("__name__", "m"), ("job", "a")], &a);
    let mut b: Vec<(i64, f64)> = (0..50).map(|i| (i * 20_000, i as f64)).collect();
    append(&db, &[("__name__", "m"), ("job", "b")], &b);
    // An out-of-order sample (within the window) forces a merge and re-encode.
    append(&db, &[("__name__", "m"), ("job", "b")], &[(970_000, 42.0)]);
    b.insert(49, (970_000, 42.0));

    let types = vec![
        ResponseType::StreamedXorChunks as i32,
        ResponseType::Samples as i32,
    ];
    let (s, ct, body) = read(&db, "m", 0, 3_000_000, types).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        ct,
        "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
    );
    let (series, frames) = decode(&body, 0, 3_000_000);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].query_index, 0);
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].0, "__name__=m,job=a");
    assert_eq!(series[0].1, a);
    assert_eq!(series[0].2, 3, "120 + 120 stored, 60 open");
    assert_eq!(series[1].0, "__name__=m,job=b");
    assert_eq!(series[1].1, b);

    // A narrower range: whole chunks come back; the client trims to the range.
    let (_, _, body) = read(&db, "m", 1_300_000, 1_400_000, vec![1]).await;
    let (series, _) = decode(&body, 1_300_000, 1_400_000);
    let want: Vec<(i64, f64)> = a
        .iter()
        .copied()
        .filter(|&(t, _)| (1_300_000..=1_400_000).contains(&t))
        .collect();
    assert_eq!(series[0].1, want);
    assert_eq!(series[0].2, 1, "only the chunk overlapping the range");

    // SAMPLES when preferred.
    let (s, ct, _) = read(&db, "m", 0, 3_000_000, vec![0, 1]).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/x-protobuf"));
    // Nothing supported.
    let (s, _, body) = read(&db, "m", 0, 3_000_000, vec![7]).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test]
async fn compacted_blocks_are_reencoded_and_frames_split() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), 0);
    // 400 series × 12 h at 30 s: blocks get cut and compacted (dense encoding) by maintenance.
    let hours = 12;
    let n = hours * 120;
    let insts: Vec<String> = (0..400).map(|s| format!("host-{s:03}")).collect();
    let want: Vec<(String, Vec<(i64, f64)>)> = insts
        .iter()
        .enumerate()
        .map(|(s, inst)| {
            let samples = (0..n)
                .map(|i| (i as i64 * 30_000, (i * (s + 1)) as f64 + 0.25))
                .collect();
            (format!("__name__=big,instance={inst}"), samples)
        })
        .collect();
    // Time-ordered rounds of one hour, as remote-write sends them.
    for round in 0..hours {
        for (inst, (_, samples)) in insts.iter().zip(&want) {
            let part = &samples[round * 120..(round + 1) * 120];
            append(&db, &[("__name__", "big"), ("instance", inst)], part);
        }
        db.maintenance().unwrap();
    }
    let levels: Vec<u32> = db.blocks().iter().map(|b| b.meta().level).collect();
    assert!(
        levels.iter().any(|&l| l > 1),
        "compacted blocks exist: {levels:?}"
    );
    let end = (n as i64) * 30_000;
    let (s, _, body) = read(&db, "big", 0, end, vec![1]).await;
    assert_eq!(s, StatusCode::OK);
    let (series, frames) = decode(&body, 0, end);
    assert!(frames.len() > 1, "a > 1 MiB answer is split into frames");
    assert!(frames.iter().all(|f| f.query_index == 0));
    let got: Vec<(String, Vec<(i64, f64)>)> = series.into_iter().map(|(n, s, _)| (n, s)).collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0);
        assert!(
            g.1 == w.1,
            "{}: {} vs {} samples",
            g.0,
            g.1.len(),
            w.1.len()
        );
    }
}
