//! PromQL: parser, evaluator and the storage interface it reads through.

pub mod ast;
mod aggregate;
mod binary;
mod buckets;
mod call;
mod eval;
mod functions;
pub mod lexer;
pub mod parser;
mod storage;
mod value;

pub use ast::Expr;
pub(crate) use call::civil;
pub use eval::{Engine, EngineOptions, QueryError, QueryOutput};
pub use parser::{parse, ParseError};
pub use storage::{MemStorage, Storage};
pub use value::{Sample, Series, Value, STALE_NAN_BITS, is_stale_nan};
