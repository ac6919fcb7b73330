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
pub struct WriteScratch {
    buf: Vec<u8>,
    req: remote::WriteRequestRef<'static>,
    batch: Vec<KeyedEntry<'static>>,
}

/// Scratch vectors of requests with more labels plus samples than this are freed after use.
const KEEP_ENTRIES: usize = 1 << 20;

use tsdb::{Keyed, KeyedEntry};

/// Empties `v` and rebinds it to another lifetime, keeping its allocation (same layout).
fn rebind<'b>(mut v: Vec<KeyedEntry<'_>>) -> Vec<KeyedEntry<'b>> {
    v.clear();
    v.into_iter()
        .map(|_| KeyedEntry {
            key: 0,
            labels: None,
            samples: &[],
        })
        .collect()
}

/// Most idle scratch sets kept for later requests. They are shared by all blocking threads
/// rather than kept per thread: the blocking pool grows to many threads (queries, maintenance)
/// and any of them may run the next write, so per-thread sets grew to one per thread
/// (≈ 4 MB each, ≈ 60 MB with 16 threads); shared, they are as many as concurrent writes.
const KEEP_SCRATCH: usize = 4;

/// Idle scratch sets, at most [`KEEP_SCRATCH`], with when each was last returned.
static SCRATCH: std::sync::Mutex<Vec<(WriteScratch, Instant)>> = std::sync::Mutex::new(Vec::new());

/// A scratch set for one request: an idle one (the most recently used), or a new one.
fn take_scratch() -> WriteScratch {
    SCRATCH
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .map(|(s, _)| s)
        .unwrap_or_default()
}

/// Returns `s` for a later request, unless enough are kept already.
fn give_scratch(s: WriteScratch) {
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
        let res = write_body(
            &st2.db,
            &body,
            st2.opts.max_decompressed_bytes,
            st2.opts.max_series_per_request,
            &mut scratch,
        );
        give_scratch(scratch);
        let w = res?;
        let m = &st2.metrics;
        m.write_samples.fetch_add(w.samples, Ordering::Relaxed);
        m.histograms_dropped
            .fetch_add(w.histograms, Ordering::Relaxed);
        m.exemplars_dropped
            .fetch_add(w.exemplars, Ordering::Relaxed);
        w.rejected.map_or(Ok(()), |msg| Err(ApiError::BadData(msg)))
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

/// What one remote-write request stored.
#[derive(Debug, Default)]
pub struct Written {
    /// Samples stored.
    pub samples: u64,
    /// Native histogram samples in the request (not stored).
    pub histograms: u64,
    /// Exemplars in the request (not stored).
    pub exemplars: u64,
    /// The message naming the rejected samples, when some were rejected (the rest are stored).
    pub rejected: Option<String>,
}

/// Decodes the snappy-compressed remote-write `body` (at most `max_decompressed` bytes once
/// decompressed, at most `max_series` series unless 0) and stores it in `db`, through
/// `scratch`'s buffers; an error means nothing was stored.
pub fn write_body(
    db: &tsdb::Db,
    body: &[u8],
    max_decompressed: usize,
    max_series: usize,
    scratch: &mut WriteScratch,
) -> Result<Written, ApiError> {
    remote::decompress(body, max_decompressed, &mut scratch.buf).map_err(decode_error)?;
    let mut req = std::mem::take(&mut scratch.req).reuse();
    remote::parse_write_request_lazy(&scratch.buf, &mut req).map_err(decode_error)?;
    let mut batch = rebind(std::mem::take(&mut scratch.batch));
    let res = store(db, &scratch.buf, &req, max_series, &mut batch);
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

/// Appends the request `req`, parsed from `buf` with its label fields left as they came, to
/// `db` (through `batch`, empty on entry). Series are looked up by their label bytes; labels
/// are parsed (and checked) only for series the head does not know, and for series without
/// samples, so that a request is rejected for bad labels wherever they are.
fn store<'r>(
    db: &tsdb::Db,
    buf: &'r [u8],
    req: &'r remote::WriteRequestRef<'r>,
    max_series: usize,
    batch: &mut Vec<KeyedEntry<'r>>,
) -> Result<Written, ApiError> {
    if max_series > 0 && req.len() > max_series {
        return Err(ApiError::BadData(format!(
            "request has {} series, more than the limit of {max_series} (--web.max-series-per-request)",
            req.len()
        )));
    }
    let mut need = Vec::new();
    for (i, (labels, samples)) in req.series().enumerate() {
        batch.push(match req.unparsed_labels(i) {
            Some(span) => {
                if samples.is_empty() {
                    need.push(i);
                }
                KeyedEntry {
                    key: tsdb::labels::fingerprint_wire(&buf[span.0..span.1]),
                    labels: None,
                    samples,
                }
            }
            None => KeyedEntry {
                key: 0,
                labels: Some(labels),
                samples,
            },
        });
    }
    // Rounds: the series the head did not know get their labels (rarely more than one round:
    // only when a series was dropped from the head between two rounds).
    let mut parsed = Vec::new();
    let out = loop {
        parsed.clear();
        let mut at = Vec::with_capacity(need.len());
        for &i in &need {
            let span = req
                .unparsed_labels(i)
                .expect("BUG: needed labels were parsed");
            let start = parsed.len();
            remote::parse_labels(buf, span, i, &mut parsed).map_err(decode_error)?;
            at.push((i, start, parsed.len()));
        }
        let mut with_labels = Vec::new();
        let entries: &[KeyedEntry] = if at.is_empty() {
            batch
        } else {
            with_labels.extend_from_slice(batch);
            for &(i, s, e) in &at {
                with_labels[i].labels = Some(&parsed[s..e]);
            }
            &with_labels
        };
        match db
            .append_keyed(entries)
            .map_err(|e| ApiError::Internal(format!("storing samples: {e}")))?
        {
            Keyed::Done(out) => break out,
            Keyed::NeedLabels(more) => {
                need.extend(more);
                need.sort_unstable();
                need.dedup();
            }
        }
    };
    let mut w = Written {
        samples: out.appended,
        histograms: req.num_histograms() as u64,
        exemplars: req.num_exemplars() as u64,
        rejected: None,
    };
    if out.rejected.is_empty() {
        return Ok(w);
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
    w.rejected = Some(msg);
    Ok(w)
}

fn decode_error(e: remote::DecodeError) -> ApiError {
    match e {
        remote::DecodeError::TooLarge { .. } => ApiError::TooLarge(e.to_string()),
        e => ApiError::BadData(e.to_string()),
    }
}
