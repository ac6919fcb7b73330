//! `POST /api/v1/read`: Prometheus remote-read with SAMPLES responses.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use remote::prompb;
use tsdb::{MatchOp, Matcher};

use crate::error::ApiError;
use crate::ApiState;

/// Answers every query of the request with the stored samples.
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
    if !req.accepted_response_types.is_empty()
        && !req
            .accepted_response_types
            .contains(&(prompb::read_request::ResponseType::Samples as i32))
    {
        return Err(ApiError::BadData(
            "only the SAMPLES response type is supported".into(),
        ));
    }
    let db = st.db.clone();
    let limit = st.opts.read_sample_limit;
    let resp = tokio::task::spawn_blocking(move || -> Result<prompb::ReadResponse, ApiError> {
        let mut results = Vec::with_capacity(req.queries.len());
        let mut total = 0usize;
        for q in &req.queries {
            let matchers = q
                .matchers
                .iter()
                .map(|m| {
                    let op = match m.r#type {
                        0 => MatchOp::Equal,
                        1 => MatchOp::NotEqual,
                        2 => MatchOp::Regex,
                        3 => MatchOp::NotRegex,
                        t => return Err(ApiError::BadData(format!("unknown matcher type {t}"))),
                    };
                    Matcher::new(op, &m.name, &m.value)
                        .map_err(|e| ApiError::BadData(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let series = db.select_samples(&matchers, q.start_timestamp_ms, q.end_timestamp_ms)?;
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
                        labels: s
                            .labels
                            .iter()
                            .map(|l| prompb::Label {
                                name: l.name.clone(),
                                value: l.value.clone(),
                            })
                            .collect(),
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
