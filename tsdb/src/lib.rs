//! Vitals' time-series database: Gorilla/XOR chunks, a head with WAL and memory-mapped
//! chunks, immutable blocks with an inverted index, compaction and retention.
//!
//! Formats are specified in `FORMAT.md` next to this crate.

pub mod block;
mod cardinality;
mod chunk_refs;
pub mod chunkenc;
mod compact;
mod db;
mod db_append;
mod db_read;
mod delete;
pub mod error;
mod head;
pub mod head_chunks;
pub mod head_snapshot;
mod label_ids;
pub mod labels;
pub mod matcher;
pub mod postings;
mod prefetch;
mod series_table;
mod snapshot;
pub mod tombstones;
pub mod wal;

pub use cardinality::HeadCardinality;
pub use db::{Db, HeadStats, Limits, Options, SeriesSamples};
pub use db_append::{AppendOutcome, Keyed, KeyedEntry};
pub use db_read::{ParSeriesFn, RawChunk};
pub use error::{Error, RejectReason};
pub use labels::{Label, Labels};
pub use matcher::{MatchOp, Matcher};
