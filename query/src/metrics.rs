//! HTTP self-metrics and the `/metrics` endpoint.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use parking_lot::Mutex;

use crate::ApiState;

/// Counters of the HTTP layer.
#[derive(Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<&'static str, u64>>,
    write_codes: Mutex<BTreeMap<u16, u64>>,
    /// Samples accepted by remote-write.
    pub write_samples: AtomicU64,
    /// Native histogram samples dropped (not supported yet).
    pub histograms_dropped: AtomicU64,
    /// Exemplars dropped (not stored).
    pub exemplars_dropped: AtomicU64,
}

impl HttpMetrics {
    /// Counts one request to `handler`.
    pub fn request(&self, handler: &'static str) {
        *self.requests.lock().entry(handler).or_default() += 1;
    }

    /// Counts one remote-write answer with status `code`.
    pub fn write_code(&self, code: u16) {
        *self.write_codes.lock().entry(code).or_default() += 1;
    }

    /// Appends the counters in text format.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP vitals_http_requests_total Requests received, by handler.\n# TYPE vitals_http_requests_total counter");
        for (h, n) in self.requests.lock().iter() {
            let _ = writeln!(out, "vitals_http_requests_total{{handler=\"{h}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP vitals_remote_write_requests_total Remote-write requests answered, by status code.\n# TYPE vitals_remote_write_requests_total counter");
        for (c, n) in self.write_codes.lock().iter() {
            let _ = writeln!(
                out,
                "vitals_remote_write_requests_total{{code=\"{c}\"}} {n}"
            );
        }
        for (name, help, v) in [
            (
                "vitals_remote_write_samples_total",
                "Samples accepted by remote-write.",
                &self.write_samples,
            ),
            (
                "vitals_remote_write_histograms_dropped_total",
                "Native histogram samples received and not stored (not supported yet).",
                &self.histograms_dropped,
            ),
            (
                "vitals_remote_write_exemplars_dropped_total",
                "Exemplars received and not stored.",
                &self.exemplars_dropped,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
    }
}

/// Appends more self-metrics to `/metrics` (the rule manager's, which `query` cannot
/// depend on); called on every scrape from a blocking thread.
#[derive(Clone)]
pub struct MetricsHook(pub std::sync::Arc<dyn Fn(&mut String) + Send + Sync>);

impl std::fmt::Debug for MetricsHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsHook")
    }
}

/// `GET /metrics`: the store's own metrics in Prometheus text format 0.0.4.
pub(crate) async fn metrics(State(st): State<ApiState>) -> impl IntoResponse {
    st.metrics.request("metrics");
    let db = st.db.clone();
    let m = st.metrics.clone();
    let hooks = st.opts.extra_metrics.clone();
    let text = tokio::task::spawn_blocking(move || {
        let mut out = String::with_capacity(8192);
        db.render_metrics(&mut out);
        m.render(&mut out);
        for h in &hooks {
            (h.0)(&mut out);
        }
        process_metrics(&mut out);
        out
    })
    .await
    .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// Standard `process_*` metrics from /proc/self.
fn process_metrics(out: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let tick = 100.0;
    if fields.len() > 21 {
        let cpu = (fields[11].parse::<f64>().unwrap_or(0.0)
            + fields[12].parse::<f64>().unwrap_or(0.0))
            / tick;
        let _ = writeln!(out, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}");
        let rss = fields[21].parse::<f64>().unwrap_or(0.0) * 4096.0;
        let _ = writeln!(out, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}");
    }
}
