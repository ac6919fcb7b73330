//! `POST /api/v1/write`: Prometheus remote-write 1.0.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::ApiState;

/// The decompression buffer and the parsed request's vectors, emptied and reused by a later
/// request (a request of 5,000 series would otherwise allocate, fault in and grow about 2 MB
/// of fresh vectors).
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

/// Most idle scratch sets kept for later requests. They are shared by all blocking threads
/// rather than kept per thread: the blocking pool grows to many threads (queries, maintenance)
/// and any of them may run the next write, so per-thread sets grew to one per thread
/// (≈ 4 MB each, ≈ 60 MB with 16 threads); shared, they are as many as concurrent writes.
const KEEP_SCRATCH: usize = 4;

/// Idle scratch sets, at most [`KEEP_SCRATCH`], with when each was last returned.
static SCRATCH: std::sync::Mutex<Vec<(Scratch, Instant)>> = std::sync::Mutex::new(Vec::new());

/// A scratch set for one request: an idle one (the most recently used), or a new one.
fn take_scratch() -> Scratch {
    SCRATCH
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .map(|(s, _)| s)
        .unwrap_or_default()
}

/// Returns `s` for a later request, unless enough are kept already.
fn give_scratch(s: Scratch) {
    let mut idle = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() < KEEP_SCRATCH {
        idle.push((s, Instant::now()));
    }
}

/// Frees the remote-write scratch sets (a few MB each) that no request has used for `idle`,
/// so that a store whose writers stopped or slowed down does not keep them.
pub fn release_idle_write_buffers(idle: Duration) {
    SCRATCH
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(_, returned)| returned.elapsed() < idle);
}

/// Decodes, validates and stores one remote-write request; 204 when everything was stored.
pub(crate) async fn remote_write(State(st): State<ApiState>, body: Bytes) -> Response {
    st.metrics.request("write");
    let st2 = st.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        let mut scratch = take_scratch();
        let res = write_with(&st2, &body, &mut scratch);
        give_scratch(scratch);
        res
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

/// Decodes `body` into `scratch`'s buffers and stores it; `scratch` stays reusable.
fn write_with(st: &ApiState, body: &[u8], scratch: &mut Scratch) -> Result<(), ApiError> {
    remote::decompress(body, st.opts.max_decompressed_bytes, &mut scratch.buf)
        .map_err(decode_error)?;
    let mut req = std::mem::take(&mut scratch.req).reuse();
    remote::parse_write_request(&scratch.buf, &mut req).map_err(decode_error)?;
    let mut batch = rebind(std::mem::take(&mut scratch.batch));
    let res = store(st, &req, &mut batch);
    let batch = rebind(batch);
    // An unusually large request does not pin its memory for later ones.
    if req.num_labels() + req.num_samples() <= KEEP_ENTRIES {
        scratch.batch = batch;
        scratch.req = req.reuse();
    }
    if scratch.buf.capacity() > KEEP_ENTRIES * 16 {
        scratch.buf = Vec::new();
    }
    res
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
