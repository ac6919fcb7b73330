//! `POST /api/v1/write`: Prometheus remote-write 1.0.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::ApiState;

/// Per blocking thread: the decompression buffer and the parsed request's vectors, emptied
/// and reused by the next request on the thread (a request of 5,000 series would otherwise
/// allocate, fault in and grow about 2 MB of fresh vectors).
#[derive(Default)]
struct Scratch {
    buf: Vec<u8>,
    req: remote::WriteRequestRef<'static>,
    batch: Vec<Entry<'static>>,
}

/// Scratch vectors of requests with more labels plus samples than this are freed after use.
const KEEP_ENTRIES: usize = 1 << 20;

/// One series of a batch for `tsdb::Db::append_batch`: labels and samples.
type Entry<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

/// Empties `v` and rebinds it to another lifetime, keeping its allocation (same layout).
fn rebind<'b>(mut v: Vec<Entry<'_>>) -> Vec<Entry<'b>> {
    v.clear();
    v.into_iter().map(|_| (&[][..], &[][..])).collect()
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Decodes, validates and stores one remote-write request; 204 when everything was stored.
pub(crate) async fn remote_write(State(st): State<ApiState>, body: Bytes) -> Response {
    st.metrics.request("write");
    let st2 = st.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        SCRATCH.with(|scratch| {
            let scratch = &mut *scratch.borrow_mut();
            remote::decompress(&body, st2.opts.max_decompressed_bytes, &mut scratch.buf)
                .map_err(decode_error)?;
            let mut req = std::mem::take(&mut scratch.req).reuse();
            remote::parse_write_request(&scratch.buf, &mut req).map_err(decode_error)?;
            let mut batch = rebind(std::mem::take(&mut scratch.batch));
            let res = store(&st2, &req, &mut batch);
            let batch = rebind(batch);
            // An unusually large request does not pin its memory to the thread.
            if req.num_labels() + req.num_samples() <= KEEP_ENTRIES {
                scratch.batch = batch;
                scratch.req = req.reuse();
            }
            if scratch.buf.capacity() > KEEP_ENTRIES * 16 {
                scratch.buf = Vec::new();
            }
            res
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

/// Appends the parsed request `req` to the database (through `batch`, empty on entry).
fn store<'r>(
    st: &ApiState,
    req: &'r remote::WriteRequestRef<'_>,
    batch: &mut Vec<Entry<'r>>,
) -> Result<(), ApiError> {
    let (db, opts, metrics) = (&st.db, &st.opts, &st.metrics);
    metrics
        .histograms_dropped
        .fetch_add(req.num_histograms() as u64, Ordering::Relaxed);
    metrics
        .exemplars_dropped
        .fetch_add(req.num_exemplars() as u64, Ordering::Relaxed);
    batch.extend(req.series());
    let max = opts.max_series_per_request;
    if max > 0 && batch.len() > max {
        return Err(ApiError::BadData(format!(
            "request has {} series, more than the limit of {max} (--web.max-series-per-request)",
            batch.len()
        )));
    }
    let out = db
        .append_batch(batch)
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
}

fn decode_error(e: remote::DecodeError) -> ApiError {
    match e {
        remote::DecodeError::TooLarge { .. } => ApiError::TooLarge(e.to_string()),
        e => ApiError::BadData(e.to_string()),
    }
}
