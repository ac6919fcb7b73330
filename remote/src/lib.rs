//! Prometheus remote-write 1.0 / remote-read wire formats: `prompb` messages, snappy framing,
//! a fast zero-copy validating `WriteRequest` parser and STREAMED_XOR_CHUNKS frames.
//!
//! This crate knows nothing about storage or queries (it must not depend on `tsdb` or `query`).

mod chunked;
mod codec;
mod error;
mod pbread;
pub mod prompb;
mod write;

pub use chunked::{read_chunked_frames, write_chunked_frame};
pub use codec::{decode_read_request, decompress, encode_read_response, encode_write_request};
pub use error::DecodeError;
/// The `prost` crate the `prompb` messages derive from (for `prost::Message` in callers).
pub use prost;
pub use write::{
    parse_labels, parse_write_request, parse_write_request_lazy, LabelRef, SeriesRef,
    WriteRequestRef,
};

/// `Content-Type` of a snappy-compressed protobuf body (write requests, SAMPLES read responses).
pub const CONTENT_TYPE_PROTOBUF: &str = "application/x-protobuf";
/// `Content-Type` of a STREAMED_XOR_CHUNKS remote-read response.
pub const CONTENT_TYPE_STREAMED: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
/// `Content-Encoding` of remote-write/read bodies.
pub const CONTENT_ENCODING: &str = "snappy";
/// `X-Prometheus-Remote-Write-Version` header value this crate implements.
pub const REMOTE_WRITE_VERSION: &str = "0.1.0";
