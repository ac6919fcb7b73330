//! Limits on what one write may add: series per request, labels per series, label lengths,
//! series per metric (`vitals store` flags; 0 means unlimited).

/// Write-path limit flags.
#[derive(clap::Args, Debug, Clone)]
pub struct LimitFlags {
    /// Most series in one remote-write request (400 above).
    #[arg(long = "web.max-series-per-request", default_value_t = 100_000)]
    pub series_per_request: usize,
    /// Largest decompressed remote-write or remote-read body in bytes (413 before
    /// allocating; a snappy bomb stops here). 0 = unlimited.
    #[arg(long = "web.max-decompressed-bytes", default_value_t = 256 << 20)]
    pub decompressed_bytes: usize,
    /// Most labels (including __name__) of a new series; more are rejected as label_limit.
    #[arg(long = "storage.max-labels-per-series", default_value_t = 256)]
    pub labels_per_series: usize,
    /// Longest label name of a new series in bytes.
    #[arg(long = "storage.max-label-name-length", default_value_t = 1024)]
    pub label_name_length: usize,
    /// Longest label value of a new series in bytes.
    #[arg(long = "storage.max-label-value-length", default_value_t = 32 << 10)]
    pub label_value_length: usize,
    /// Most series per metric name in the head; more are rejected as series_limit.
    #[arg(long = "storage.max-series-per-metric", default_value_t = 0)]
    pub series_per_metric: usize,
}

impl LimitFlags {
    /// The TSDB's limits.
    pub fn tsdb(&self) -> tsdb::Limits {
        tsdb::Limits {
            max_labels: self.labels_per_series,
            max_label_name_bytes: self.label_name_length,
            max_label_value_bytes: self.label_value_length,
            max_series_per_metric: self.series_per_metric,
        }
    }

    /// The decompressed-size cap the API applies (0 = unlimited).
    pub fn max_decompressed(&self) -> usize {
        match self.decompressed_bytes {
            0 => usize::MAX,
            n => n,
        }
    }

    /// `(name, value)` pairs for `/api/v1/status/flags`.
    pub fn status_flags(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "web.max-series-per-request",
                self.series_per_request.to_string(),
            ),
            (
                "web.max-decompressed-bytes",
                self.decompressed_bytes.to_string(),
            ),
            (
                "storage.max-labels-per-series",
                self.labels_per_series.to_string(),
            ),
            (
                "storage.max-label-name-length",
                self.label_name_length.to_string(),
            ),
            (
                "storage.max-label-value-length",
                self.label_value_length.to_string(),
            ),
            (
                "storage.max-series-per-metric",
                self.series_per_metric.to_string(),
            ),
        ]
    }
}
