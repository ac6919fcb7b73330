//! The write-ahead log: checksummed records in numbered segment files, checkpoints.
//!
//! Design constraints:
//! - Segments `wal/NNNNNNNN` are at most `segment_bytes`; a record never spans two.
//! - Every record carries a CRC32C; a torn tail of the newest segment (crash mid-write) is
//!   cut off on open and ends replay cleanly, while damage anywhere else is an error.
//! - `flush` writes to the OS: an acknowledged append survives `kill -9`. `sync` fsyncs.
//! - A checkpoint `checkpoint.NNNNNNNN/` condenses the segments up to NNNNNNNN; it is
//!   written as `.tmp`, fsynced and renamed before any segment it covers is deleted.

mod record;
mod segment;

pub use record::{
    decode_record, encode_samples, encode_series, encode_series_refs, Record, SampleRecord,
    SeriesRecord, RECORD_OOO_SAMPLES, RECORD_SAMPLES, RECORD_SERIES, RECORD_TOMBSTONES,
};
pub use segment::{
    checkpoint, checkpoint_index, replay, replay_from, CheckpointStats, ReplayStats, Wal,
    WalOptions,
};
