//! The TSDB's error type: rejections of user data apart from disk and corruption failures.

use std::path::PathBuf;

/// Errors returned by the TSDB.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on `path` failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file failed its checksum or structural checks.
    #[error("corrupt data in {path}: {detail}")]
    Corrupt {
        /// File involved.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A label matcher could not be built (bad regex).
    #[error("bad matcher: {0}")]
    BadMatcher(String),
    /// Invalid options or arguments.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The database is closed.
    #[error("database is closed")]
    Closed,
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Why one sample was not stored; each reason is a `vitals_tsdb_rejected_samples_total{reason}` series.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum RejectReason {
    /// Older than the series' newest sample minus the out-of-order window.
    TooOld,
    /// Older than the head's lower bound (already compacted into a block).
    OutOfBounds,
    /// Same timestamp as a stored sample with a different value.
    DuplicateTimestamp,
    /// A new series with too many labels, or a label name or value that is too long.
    LabelLimit,
    /// A new series whose metric already has the most series allowed per metric.
    SeriesLimit,
}

impl RejectReason {
    /// All reasons, in counter order.
    pub const ALL: [RejectReason; 5] = [
        RejectReason::TooOld,
        RejectReason::OutOfBounds,
        RejectReason::DuplicateTimestamp,
        RejectReason::LabelLimit,
        RejectReason::SeriesLimit,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::TooOld => "too_old",
            RejectReason::OutOfBounds => "out_of_bounds",
            RejectReason::DuplicateTimestamp => "duplicate_timestamp",
            RejectReason::LabelLimit => "label_limit",
            RejectReason::SeriesLimit => "series_limit",
        }
    }
}
