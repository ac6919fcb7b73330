//! The evaluator: instant and range queries over a [`Storage`].

use std::time::Duration;

use super::storage::Storage;
use super::value::Value;
use super::ParseError;

/// Engine limits and defaults.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (ms).
    pub lookback_ms: i64,
    /// Most samples a query may hold at once.
    pub max_samples: usize,
    /// Wall-clock limit of one query.
    pub timeout: Duration,
    /// Step of subqueries that give none (`x[5m:]`), in ms.
    pub default_subquery_step_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step_ms: 60_000,
        }
    }
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The expression does not parse or type-check.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The query ran past its timeout.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query would hold more samples than allowed.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// Evaluation failed (e.g. duplicate series, bad argument).
    #[error("{0}")]
    Execution(String),
    /// The storage failed.
    #[error("storage: {0}")]
    Storage(String),
}

impl QueryError {
    /// The Prometheus API `errorType` of this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) => "bad_data",
            QueryError::Timeout(_) => "timeout",
            QueryError::TooManySamples(_) | QueryError::Execution(_) => "execution",
            QueryError::Storage(_) => "internal",
        }
    }
}

/// A query result with the annotations Prometheus returns beside it.
#[derive(Clone, Debug)]
pub struct QueryOutput {
    /// The value.
    pub value: Value,
    /// Warnings (e.g. "metric might not be a counter").
    pub warnings: Vec<String>,
    /// Informational notices.
    pub infos: Vec<String>,
}

/// Evaluates PromQL expressions.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    /// An engine with `opts`.
    pub fn new(opts: EngineOptions) -> Engine {
        Engine { opts }
    }

    /// Evaluates `query` at `t` (ms).
    pub fn instant(&self, st: &dyn Storage, query: &str, t: i64) -> Result<QueryOutput, QueryError> {
        let _ = (st, query, t, &self.opts);
        todo!()
    }

    /// Evaluates `query` at every `step` from `start` to `end` (ms); the result is a matrix.
    pub fn range(
        &self,
        st: &dyn Storage,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryOutput, QueryError> {
        let _ = (st, query, start, end, step);
        todo!()
    }
}
