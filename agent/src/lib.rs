//! Agent-mode scraping: the Prometheus configuration file (`global`, `scrape_configs`,
//! `remote_write`), relabeling, service discovery (static, file, Kubernetes) and scrape
//! loops that hand samples to an [`Appender`].

pub mod config;
pub mod discovery;
pub mod http;
pub mod kubernetes;
pub mod manager;
pub mod relabel;
pub mod scrape;
pub mod target;

pub use config::{load, Config, ScrapeConfig};
pub use manager::Manager;
pub use relabel::LabelSet;

/// One sample for an appender: labels sorted by name (with `__name__`), timestamp in ms, value.
pub type Sample = (Vec<(String, String)>, i64, f64);

/// Where scraped samples go (the store's TSDB, or the remote-write client).
pub trait Appender: Send + Sync {
    /// Appends one scrape's samples; staleness markers are NaN with [`STALE_NAN_BITS`].
    fn append(&self, batch: &[Sample]) -> Result<(), String>;
}

/// The bit pattern Prometheus uses for staleness markers.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An invalid configuration file.
    #[error("{file}:{line}: {msg}")]
    Config {
        /// The file.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// An invalid relabel rule.
    #[error("relabel: {0}")]
    Relabel(String),
    /// An invalid service discovery file or response.
    #[error("discovery: {0}")]
    Discovery(String),
    /// An HTTP request failed (connection, TLS, status).
    #[error("http: {0}")]
    Http(String),
    /// A scrape failed (parse error, limit exceeded).
    #[error("scrape: {0}")]
    Scrape(String),
    /// Credentials or TLS files of an HTTP client block (never shows a secret).
    #[error(transparent)]
    Client(#[from] promconfig::Error),
}
