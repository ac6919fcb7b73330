//! Snappy block-format bodies: bounded decompression and the owned encode/decode helpers.

use prost::Message;

use crate::prompb;
use crate::DecodeError;

/// Decompresses a snappy block-format body into `out` (replacing its contents), refusing output
/// larger than `limit` bytes (checked from the snappy header before allocating).
pub fn decompress(body: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let size = match snap::raw::decompress_len(body) {
        Ok(size) => size,
        Err(e) => {
            out.clear();
            return Err(DecodeError::Snappy(e.to_string()));
        }
    };
    if size > limit {
        out.clear();
        return Err(DecodeError::TooLarge { size, limit });
    }
    // A reused buffer keeps its old bytes up to `size` (the decoder overwrites them): zeroing
    // all of it again for every request cost more than the decompression's own writes.
    out.resize(size, 0);
    match snap::raw::Decoder::new().decompress(body, out) {
        Ok(n) => {
            out.truncate(n);
            Ok(())
        }
        Err(e) => {
            out.clear();
            Err(DecodeError::Snappy(e.to_string()))
        }
    }
}

/// Compresses `raw` into a snappy block-format body.
fn compress(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; snap::raw::max_compress_len(raw.len())];
    // Compression into a buffer of max_compress_len bytes only fails for inputs over ~4 GiB,
    // which protobuf messages (limited to 2 GiB) cannot be.
    let n = snap::raw::Encoder::new()
        .compress(raw, &mut out)
        .unwrap_or(0);
    out.truncate(n);
    out
}

/// Encodes a WriteRequest as protobuf and compresses it with snappy (block format), ready to POST.
pub fn encode_write_request(req: &prompb::WriteRequest) -> Vec<u8> {
    compress(&req.encode_to_vec())
}

/// Decompresses (at most `limit` bytes) and decodes a snappy-compressed remote-read request.
pub fn decode_read_request(body: &[u8], limit: usize) -> Result<prompb::ReadRequest, DecodeError> {
    let mut raw = Vec::new();
    decompress(body, limit, &mut raw)?;
    Ok(prompb::ReadRequest::decode(raw.as_slice())?)
}

/// Encodes a SAMPLES-mode ReadResponse as protobuf compressed with snappy (block format).
pub fn encode_read_response(resp: &prompb::ReadResponse) -> Vec<u8> {
    compress(&resp.encode_to_vec())
}
