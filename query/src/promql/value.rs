//! Query results: scalars, strings, instant vectors and range vectors.

use tsdb::Labels;

/// Bit pattern Prometheus uses for staleness markers.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// True when `v` is the staleness marker.
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One sample of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Series labels.
    pub labels: Labels,
    /// Timestamp in ms.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// One series of a range vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Series labels.
    pub labels: Labels,
    /// `(timestamp ms, value)` points, ascending.
    pub points: Vec<(i64, f64)>,
}

/// The result of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar at a time.
    Scalar {
        /// Evaluation time (ms).
        t: i64,
        /// Value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Evaluation time (ms).
        t: i64,
        /// Value.
        s: String,
    },
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range vector (range queries always return this).
    Matrix(Vec<Series>),
}
