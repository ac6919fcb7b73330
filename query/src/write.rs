//! `POST /api/v1/write`: Prometheus remote-write 1.0.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::ApiState;

thread_local! {
    static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Decodes, validates and stores one remote-write request; 204 when everything was stored.
pub(crate) async fn remote_write(State(st): State<ApiState>, body: Bytes) -> Response {
    st.metrics.request("write");
    let db = st.db.clone();
    let opts = st.opts.clone();
    let metrics = st.metrics.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            remote::decompress(&body, opts.max_decompressed_bytes, &mut buf)
                .map_err(decode_error)?;
            let mut req = remote::WriteRequestRef::new();
            remote::parse_write_request(&buf, &mut req).map_err(decode_error)?;
            metrics
                .histograms_dropped
                .fetch_add(req.num_histograms() as u64, Ordering::Relaxed);
            metrics
                .exemplars_dropped
                .fetch_add(req.num_exemplars() as u64, Ordering::Relaxed);
            let batch: Vec<(&[(&str, &str)], &[(i64, f64)])> = req.series().collect();
            let max = opts.max_series_per_request;
            if max > 0 && batch.len() > max {
                return Err(ApiError::BadData(format!(
                    "request has {} series, more than the limit of {max} (--web.max-series-per-request)",
                    batch.len()
                )));
            }
            let out = db
                .append_batch(&batch)
                .map_err(|e| ApiError::Internal(format!("storing samples: {e}")))?;
            metrics
                .write_samples
                .fetch_add(out.appended, Ordering::Relaxed);
            if out.rejected.is_empty() {
                return Ok(());
            }
            let mut msg = String::new();
            for (reason, n) in &out.rejected {
                let _ = write!(msg, "{n} {} samples rejected; ", reason.as_str());
            }
            let _ = write!(
                msg,
                "{} accepted; first: {}",
                out.appended,
                out.first_rejection.unwrap_or_default()
            );
            Err(ApiError::BadData(msg))
        })
    })
    .await;
    let resp = match res {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "remote-write rejected");
            e.into_plain()
        }
        Err(e) => ApiError::Internal(e.to_string()).into_plain(),
    };
    st.metrics.write_code(resp.status().as_u16());
    resp
}

fn decode_error(e: remote::DecodeError) -> ApiError {
    match e {
        remote::DecodeError::TooLarge { .. } => ApiError::TooLarge(e.to_string()),
        e => ApiError::BadData(e.to_string()),
    }
}
