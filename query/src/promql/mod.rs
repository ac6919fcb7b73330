//! PromQL: parser, evaluator and the storage interface it reads through.

mod aggregate;
pub mod ast;
mod binary;
mod buckets;
mod call;
mod eval;
mod functions;
mod fused;
mod info;
pub mod lexer;
mod matching;
mod names;
pub mod parser;
mod range;
mod range_arg;
mod sorted_window;
mod storage;
mod stream_agg;
mod value;

pub use ast::Expr;
pub(crate) use call::civil;
pub use eval::{Engine, EngineOptions, QueryError, QueryOutput};
pub use parser::{parse, ParseError};
pub use storage::{MemStorage, Storage};
pub use value::{is_stale_nan, Sample, Series, Value, STALE_NAN_BITS};
