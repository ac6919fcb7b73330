//! Chunk encodings: Prometheus-compatible XOR (Gorilla) chunks, the packed encoding of blocks
//! and the dense encoding of blocks written by earlier versions. Formats are specified in
//! `FORMAT.md` ("Chunk encodings").

mod bstream;
/// Varint helpers shared with other on-disk formats.
pub mod bstream_util {
    pub use super::bstream::{get_uvarint, get_varint, put_uvarint, put_varint, uvarint_len};
}
mod dense;
mod intseq;
mod intseq_read;
mod packed;
mod xor;
mod xor_read;
mod zstd_ctx;

pub use dense::{decode_dense, encode_dense};
pub use packed::{decode_packed, encode_packed, MAX_PACKED_SAMPLES};
pub use xor::{XorChunk, XorIter};
pub use xor_read::decode_xor;

/// Prometheus' encoding byte for XOR chunks.
pub const ENCODING_XOR: u8 = 1;
/// Encoding byte of Vitals' dense chunks (blocks written by earlier versions; still read).
pub const ENCODING_DENSE: u8 = 0x10;
/// Encoding byte of Vitals' packed chunks (every block written now).
pub const ENCODING_PACKED: u8 = 0x11;
/// Bit pattern of Prometheus' staleness marker, a NaN.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// True when `v` is the staleness marker (compared by bits: every NaN compares unequal).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// A chunk that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The bytes ended before the samples the header announced.
    #[error("chunk truncated after {decoded} of {expected} samples")]
    Truncated {
        /// Samples decoded before the end.
        decoded: usize,
        /// Samples the header announced.
        expected: usize,
    },
    /// A field held an impossible value.
    #[error("invalid chunk: {0}")]
    Invalid(String),
    /// The encoding byte is not one this build knows.
    #[error("unknown chunk encoding {0}")]
    UnknownEncoding(u8),
}

/// Decodes a chunk of any known encoding, appending its samples to `out`.
pub fn decode_any(encoding: u8, data: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), ChunkError> {
    match encoding {
        ENCODING_XOR => decode_xor(data, out),
        ENCODING_DENSE => decode_dense(data, out),
        ENCODING_PACKED => decode_packed(data, out),
        e => Err(ChunkError::UnknownEncoding(e)),
    }
}
