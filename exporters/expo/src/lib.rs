//! Prometheus exposition: a metric-family model, writers for text 0.0.4 and
//! OpenMetrics 1.0, content negotiation, and a text-format parser.

mod float;
mod model;
mod parse;
mod render;

pub use float::{fmt_float, fmt_float_om};
pub use model::{Family, MetricSet, MetricType, SampleRef};
pub use parse::{parse, parse_openmetrics, ParsedFamily, ParsedSample};
pub use render::{escape_help, escape_label_value, render, Format};

/// Errors of this crate (only the parser can fail).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    /// A line of the text format that does not parse.
    #[error("line {line}: {msg}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
}
