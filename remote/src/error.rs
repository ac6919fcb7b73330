//! The crate's error type: every way a remote-write / remote-read body can be rejected.

/// Why a remote-write or remote-read body was rejected; the Display text is meant for HTTP clients.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum DecodeError {
    /// The body is not a valid snappy block-format stream.
    #[error("snappy decompression failed: {0}")]
    Snappy(String),
    /// The decompressed body would exceed the configured limit.
    #[error("decompressed body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size the snappy header announces.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The protobuf encoding is malformed (truncated, bad varint, wrong wire type, ...).
    #[error("malformed protobuf at byte {offset}: {detail}")]
    Protobuf {
        /// Byte offset in the decompressed message where the problem was found.
        offset: usize,
        /// What was wrong.
        detail: &'static str,
    },
    /// prost rejected a message decoded with the owned (allocating) decoder.
    #[error("malformed protobuf: {0}")]
    Prost(#[from] prost::DecodeError),
    /// A label of a series has an empty name.
    #[error("series {series}: empty label name")]
    EmptyLabelName {
        /// Index of the series in the request.
        series: usize,
    },
    /// A string inside a series (label name or value, exemplar label) is not valid UTF-8.
    #[error("series {series}: string at byte {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Index of the series in the request.
        series: usize,
        /// Byte offset of the string in the decompressed message.
        offset: usize,
    },
    /// Two adjacent labels of a series are not sorted by name.
    #[error("series {series}: labels are not sorted by name: {prev:?} is followed by {next:?}")]
    UnsortedLabels {
        /// Index of the series in the request.
        series: usize,
        /// The earlier label name.
        prev: String,
        /// The later label name, which sorts before `prev`.
        next: String,
    },
    /// A series has the same label name twice.
    #[error("series {series}: duplicate label name {name:?}")]
    DuplicateLabel {
        /// Index of the series in the request.
        series: usize,
        /// The repeated name.
        name: String,
    },
    /// A series has no labels (after dropping empty-valued ones).
    #[error("series {series}: no labels (empty label set)")]
    NoLabels {
        /// Index of the series in the request.
        series: usize,
    },
    /// A series has a `__name__` label with an empty value.
    #[error("series {series}: empty metric name (__name__ label has an empty value)")]
    EmptyMetricName {
        /// Index of the series in the request.
        series: usize,
    },
    /// A STREAMED_XOR_CHUNKS frame is truncated or malformed.
    #[error("bad chunked frame at byte {offset}: {detail}")]
    Frame {
        /// Byte offset of the frame in the stream.
        offset: usize,
        /// What was wrong.
        detail: &'static str,
    },
    /// A STREAMED_XOR_CHUNKS frame failed its CRC32-Castagnoli check.
    #[error(
        "chunked frame at byte {offset}: checksum {actual:#010x} does not match {expected:#010x}"
    )]
    FrameChecksum {
        /// Byte offset of the frame in the stream.
        offset: usize,
        /// Checksum stored in the frame.
        expected: u32,
        /// Checksum computed over the message bytes.
        actual: u32,
    },
}

impl DecodeError {
    /// True for errors of the wire encoding itself (what a generic protobuf decoder would also reject).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            DecodeError::Protobuf { .. } | DecodeError::Prost(_) | DecodeError::InvalidUtf8 { .. }
        )
    }
}
