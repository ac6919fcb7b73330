//! Prometheus rule files: loading, recording and alerting rule evaluation, and the
//! Alertmanager notifier.

pub mod alerting;
pub mod api;
pub mod check;
pub mod eval;
pub mod file;
mod gofmt;
pub mod manager;
pub mod notifier;
pub mod template;
pub mod unittest;

pub use file::{load_file, parse_file, Rule, RuleFile, RuleGroup, RuleKind};

/// Errors of the rule engine.
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
    /// A rule or unit-test file is invalid; each message is `file: line:col: problem`.
    #[error("{}", errors.join("\n"))]
    Invalid {
        /// The file.
        file: String,
        /// Every problem found.
        errors: Vec<String>,
    },
}
