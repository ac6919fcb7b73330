//! `POST /api/v1/read`: Prometheus remote-read, answered with SAMPLES (snappy protobuf) or
//! STREAMED_XOR_CHUNKS (framed `ChunkedReadResponse`s, stored XOR chunks as they are).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use remote::prompb;
use remote::prompb::read_request::ResponseType;
use tsdb::{Labels, MatchOp, Matcher};

use crate::error::ApiError;
use crate::ApiState;

/// Most encoded series bytes in one streamed frame (Prometheus' default
/// `--storage.remote.read-max-bytes-in-frame`).
const MAX_BYTES_IN_FRAME: usize = 1 << 20;

/// Content type of STREAMED_XOR_CHUNKS responses.
const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// One query of the request: matchers and time range.
struct ReadQuery {
    matchers: Vec<Matcher>,
    start: i64,
    end: i64,
}

/// Answers every query of the request with the stored samples or chunks.
pub(crate) async fn remote_read(
    State(st): State<ApiState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    st.metrics.request("read");
    let req =
        remote::decode_read_request(&body, st.opts.max_decompressed_bytes).map_err(
            |e| match e {
                remote::DecodeError::TooLarge { .. } => ApiError::TooLarge(e.to_string()),
                e => ApiError::BadData(e.to_string()),
            },
        )?;
    // The client lists the types it accepts in order of preference.
    let streamed = match req.accepted_response_types.iter().find(|&&t| {
        t == ResponseType::Samples as i32 || t == ResponseType::StreamedXorChunks as i32
    }) {
        Some(&t) => t == ResponseType::StreamedXorChunks as i32,
        None if req.accepted_response_types.is_empty() => false,
        None => {
            return Err(ApiError::BadData(format!(
            "none of the accepted response types {:?} is supported (SAMPLES, STREAMED_XOR_CHUNKS)",
            req.accepted_response_types
        )))
        }
    };
    let queries = req
        .queries
        .iter()
        .map(|q| {
            Ok(ReadQuery {
                matchers: q
                    .matchers
                    .iter()
                    .map(to_matcher)
                    .collect::<Result<Vec<_>, ApiError>>()?,
                start: q.start_timestamp_ms,
                end: q.end_timestamp_ms,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    if streamed {
        return Ok(stream_chunks(st.db.clone(), queries));
    }
    let db = st.db.clone();
    let limit = st.opts.read_sample_limit;
    let resp = tokio::task::spawn_blocking(move || -> Result<prompb::ReadResponse, ApiError> {
        let mut results = Vec::with_capacity(queries.len());
        let mut total = 0usize;
        for q in &queries {
            let series = db.select_samples(&q.matchers, q.start, q.end)?;
            total += series.iter().map(|s| s.samples.len()).sum::<usize>();
            if total > limit {
                return Err(ApiError::TooLarge(format!(
                    "remote-read would return more than {limit} samples"
                )));
            }
            results.push(prompb::QueryResult {
                timeseries: series
                    .into_iter()
                    .map(|s| prompb::TimeSeries {
                        labels: to_pb_labels(&s.labels),
                        samples: s
                            .samples
                            .iter()
                            .map(|&(t, v)| prompb::Sample {
                                value: v,
                                timestamp: t,
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
            });
        }
        Ok(prompb::ReadResponse { results })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let body = remote::encode_read_response(&resp);
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-protobuf"),
            (header::CONTENT_ENCODING, "snappy"),
        ],
        body,
    )
        .into_response())
}

fn to_matcher(m: &prompb::LabelMatcher) -> Result<Matcher, ApiError> {
    let op = match m.r#type {
        0 => MatchOp::Equal,
        1 => MatchOp::NotEqual,
        2 => MatchOp::Regex,
        3 => MatchOp::NotRegex,
        t => return Err(ApiError::BadData(format!("unknown matcher type {t}"))),
    };
    Matcher::new(op, &m.name, &m.value).map_err(|e| ApiError::BadData(e.to_string()))
}

fn to_pb_labels(l: &Labels) -> Vec<prompb::Label> {
    l.iter()
        .map(|l| prompb::Label {
            name: l.name.to_string(),
            value: l.value.to_string(),
        })
        .collect()
}

/// Why the streaming thread stopped early.
enum Stop {
    Db(tsdb::Error),
    ClientGone,
}

impl From<tsdb::Error> for Stop {
    fn from(e: tsdb::Error) -> Stop {
        Stop::Db(e)
    }
}

/// Streams the chunks of every query as framed `ChunkedReadResponse`s of at most about
/// [`MAX_BYTES_IN_FRAME`] each, produced by a blocking thread as the client reads.
fn stream_chunks(db: std::sync::Arc<tsdb::Db>, queries: Vec<ReadQuery>) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let send = |frame: &mut prompb::ChunkedReadResponse| -> Result<(), Stop> {
            let mut out = Vec::new();
            remote::write_chunked_frame(&mut out, frame);
            frame.chunked_series.clear();
            tx.blocking_send(Ok(Bytes::from(out)))
                .map_err(|_| Stop::ClientGone)
        };
        for (i, q) in queries.iter().enumerate() {
            let mut frame = prompb::ChunkedReadResponse {
                chunked_series: Vec::new(),
                query_index: i as i64,
            };
            let mut size = 0usize;
            let r = db.for_each_series_chunks(&q.matchers, q.start, q.end, |labels, chunks| {
                let cs = prompb::ChunkedSeries {
                    labels: to_pb_labels(&labels),
                    chunks: chunks
                        .iter()
                        .map(|c| prompb::Chunk {
                            min_time_ms: c.min_time,
                            max_time_ms: c.max_time,
                            r#type: prompb::chunk::Encoding::Xor as i32,
                            data: c.data.clone(),
                        })
                        .collect(),
                };
                size += remote::prost::Message::encoded_len(&cs);
                frame.chunked_series.push(cs);
                if size >= MAX_BYTES_IN_FRAME {
                    size = 0;
                    send(&mut frame)?;
                }
                Ok::<(), Stop>(())
            });
            let r = r.and_then(|()| {
                if frame.chunked_series.is_empty() {
                    Ok(())
                } else {
                    send(&mut frame)
                }
            });
            match r {
                Ok(()) => {}
                Err(Stop::ClientGone) => return,
                Err(Stop::Db(e)) => {
                    tracing::error!(error = %e, "remote-read: reading chunks failed");
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        [(header::CONTENT_TYPE, STREAMED_CONTENT_TYPE)],
        Body::from_stream(stream),
    )
        .into_response()
}
