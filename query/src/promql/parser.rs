//! PromQL parser.

use super::ast::Expr;

/// A syntax or type error with its byte position.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{msg}")]
pub struct ParseError {
    /// Message, Prometheus style.
    pub msg: String,
    /// Byte offset of the error in the input.
    pub pos: usize,
}

/// Parses `input` into an expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let _ = input;
    todo!()
}
