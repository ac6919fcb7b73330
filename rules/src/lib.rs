//! Prometheus rule files: loading, recording and alerting rule evaluation, and the
//! Alertmanager notifier.

pub mod alerting;
pub mod api;
pub mod check;
pub mod eval;
pub mod file;
mod gofmt;
pub mod manager;
pub mod metrics;
pub mod notifier;
pub mod template;
pub mod unittest;

/// The shipped default rules (`rules/vitals.rules.yml`), loaded by the all-in-one mode.
pub const BUILTIN_RULES: &str = include_str!("../vitals.rules.yml");

/// The `file` the built-in rules are shown under (`/api/v1/rules`, `rule_group`).
pub const BUILTIN_RULES_FILE: &str = "builtin/vitals.rules.yml";

/// Evaluation interval of the built-in rules when the config sets none (ms).
pub const BUILTIN_INTERVAL_MS: i64 = 15_000;

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
