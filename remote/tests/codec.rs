//! Remote-read request/response helpers and STREAMED_XOR_CHUNKS framing.

use prost::Message;
use remote::prompb::{self, chunk, label_matcher, read_request};
use remote::{
    decode_read_request, decompress, encode_read_response, read_chunked_frames,
    write_chunked_frame, DecodeError,
};

fn read_request() -> prompb::ReadRequest {
    prompb::ReadRequest {
        queries: vec![prompb::Query {
            start_timestamp_ms: 1000,
            end_timestamp_ms: 2000,
            matchers: vec![
                prompb::LabelMatcher {
                    r#type: label_matcher::Type::Eq as i32,
                    name: "__name__".into(),
                    value: "up".into(),
                },
                prompb::LabelMatcher {
                    r#type: label_matcher::Type::Nre as i32,
                    name: "job".into(),
                    value: "a|b".into(),
                },
            ],
            hints: Some(prompb::ReadHints {
                step_ms: 15_000,
                func: "rate".into(),
                grouping: vec!["job".into()],
                by: true,
                ..Default::default()
            }),
        }],
        accepted_response_types: vec![
            read_request::ResponseType::StreamedXorChunks as i32,
            read_request::ResponseType::Samples as i32,
        ],
    }
}

#[test]
fn read_request_roundtrip_and_limits() {
    let req = read_request();
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    assert_eq!(decode_read_request(&body, 1 << 20).unwrap(), req);
    assert!(matches!(
        decode_read_request(&body, 10),
        Err(DecodeError::TooLarge { limit: 10, .. })
    ));
    assert!(matches!(
        decode_read_request(b"\x05garbage", 100),
        Err(DecodeError::Snappy(_))
    ));
    let bad = snap::raw::Encoder::new()
        .compress_vec(&[0x0a, 0x05, 0x01])
        .unwrap();
    let e = decode_read_request(&bad, 100).unwrap_err();
    assert!(
        matches!(e, DecodeError::Prost(_)) && e.is_malformed(),
        "{e:?}"
    );
}

/// Field numbers on the wire, checked byte by byte against prompb's remote.proto/types.proto.
#[test]
fn wire_field_numbers() {
    let q = prompb::Query {
        start_timestamp_ms: 1,
        end_timestamp_ms: 2,
        matchers: vec![],
        hints: Some(Default::default()),
    };
    assert_eq!(q.encode_to_vec(), [0x08, 1, 0x10, 2, 0x22, 0]);
    let m = prompb::LabelMatcher {
        r#type: 2,
        name: "a".into(),
        value: "b".into(),
    };
    assert_eq!(m.encode_to_vec(), [0x08, 2, 0x12, 1, b'a', 0x1a, 1, b'b']);
    let c = prompb::Chunk {
        min_time_ms: 1,
        max_time_ms: 2,
        r#type: chunk::Encoding::Xor as i32,
        data: vec![9],
    };
    assert_eq!(c.encode_to_vec(), [0x08, 1, 0x10, 2, 0x18, 1, 0x22, 1, 9]);
    let r = prompb::ReadRequest {
        queries: vec![],
        accepted_response_types: vec![1, 0],
    };
    assert_eq!(r.encode_to_vec(), [0x12, 2, 1, 0]); // packed repeated enum, field 2
    let w = prompb::WriteRequest {
        timeseries: vec![Default::default()],
        metadata: vec![Default::default()],
    };
    assert_eq!(w.encode_to_vec(), [0x0a, 0, 0x1a, 0]);
    let s = prompb::Sample {
        value: 1.0,
        timestamp: 3,
    };
    let mut want = vec![0x09];
    want.extend_from_slice(&1.0f64.to_le_bytes());
    want.extend_from_slice(&[0x10, 3]);
    assert_eq!(s.encode_to_vec(), want);
    let ts = prompb::TimeSeries {
        exemplars: vec![Default::default()],
        histograms: vec![Default::default()],
        ..Default::default()
    };
    assert_eq!(ts.encode_to_vec(), [0x1a, 0, 0x22, 0]);
    let md = prompb::MetricMetadata {
        r#type: 1,
        metric_family_name: "a".into(),
        help: "h".into(),
        unit: "u".into(),
    };
    assert_eq!(
        md.encode_to_vec(),
        [0x08, 1, 0x12, 1, b'a', 0x22, 1, b'h', 0x2a, 1, b'u']
    );
    let crr = prompb::ChunkedReadResponse {
        chunked_series: vec![Default::default()],
        query_index: 5,
    };
    assert_eq!(crr.encode_to_vec(), [0x0a, 0, 0x10, 5]);
    let h = prompb::ReadHints {
        range_ms: 1,
        by: true,
        ..Default::default()
    };
    assert_eq!(h.encode_to_vec(), [0x30, 1, 0x38, 1]);
}

#[test]
fn read_response_is_snappy_protobuf() {
    let resp = prompb::ReadResponse {
        results: vec![prompb::QueryResult {
            timeseries: vec![prompb::TimeSeries {
                labels: vec![prompb::Label {
                    name: "__name__".into(),
                    value: "up".into(),
                }],
                samples: vec![prompb::Sample {
                    value: 1.0,
                    timestamp: 5,
                }],
                ..Default::default()
            }],
        }],
    };
    let body = encode_read_response(&resp);
    let mut raw = Vec::new();
    decompress(&body, 1 << 20, &mut raw).unwrap();
    assert_eq!(prompb::ReadResponse::decode(raw.as_slice()).unwrap(), resp);
}

fn frame_msg(i: i64) -> prompb::ChunkedReadResponse {
    prompb::ChunkedReadResponse {
        chunked_series: vec![prompb::ChunkedSeries {
            labels: vec![prompb::Label {
                name: "__name__".into(),
                value: format!("m{i}"),
            }],
            chunks: vec![prompb::Chunk {
                min_time_ms: i,
                max_time_ms: i + 10,
                r#type: 1,
                data: vec![i as u8; 200],
            }],
        }],
        query_index: i,
    }
}

#[test]
fn chunked_frames_layout_and_roundtrip() {
    let msg = frame_msg(3);
    let mut out = Vec::new();
    write_chunked_frame(&mut out, &msg);
    let bytes = msg.encode_to_vec();
    assert!(bytes.len() >= 128, "length needs a two-byte uvarint");
    // uvarint length, big-endian CRC32-Castagnoli, message.
    let mut want = vec![(bytes.len() as u8) | 0x80, (bytes.len() >> 7) as u8];
    want.extend_from_slice(&crc32c::crc32c(&bytes).to_be_bytes());
    want.extend_from_slice(&bytes);
    assert_eq!(out, want);
    // CRC32C check value of the Castagnoli polynomial.
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);

    let msgs: Vec<_> = (0..5).map(frame_msg).collect();
    let mut stream = Vec::new();
    for m in &msgs {
        write_chunked_frame(&mut stream, m);
    }
    write_chunked_frame(&mut stream, &Default::default()); // empty message: length 0
    let back = read_chunked_frames(&stream).unwrap();
    assert_eq!(&back[..5], &msgs[..]);
    assert_eq!(back[5], prompb::ChunkedReadResponse::default());
    assert!(read_chunked_frames(&[]).unwrap().is_empty());
}

#[test]
fn chunked_frames_errors() {
    let mut stream = Vec::new();
    write_chunked_frame(&mut stream, &frame_msg(1));
    let first = stream.len();
    write_chunked_frame(&mut stream, &frame_msg(2));
    let mut bad = stream.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    match read_chunked_frames(&bad) {
        Err(DecodeError::FrameChecksum { offset, .. }) => assert_eq!(offset, first),
        other => panic!("{other:?}"),
    }
    for cut in 1..stream.len() {
        if cut == first {
            continue;
        }
        assert!(read_chunked_frames(&stream[..cut]).is_err(), "cut {cut}");
    }
    assert!(matches!(
        read_chunked_frames(&[0xff; 3]),
        Err(DecodeError::Frame { offset: 0, .. })
    ));
    // Correct checksum over bytes that are not a valid message.
    let junk = [0x0a, 0x05];
    let mut f = vec![2];
    f.extend_from_slice(&crc32c::crc32c(&junk).to_be_bytes());
    f.extend_from_slice(&junk);
    assert!(matches!(
        read_chunked_frames(&f),
        Err(DecodeError::Prost(_))
    ));
}
