//! STREAMED_XOR_CHUNKS framing of remote-read responses: each frame is the uvarint length of
//! the message, its CRC32-Castagnoli as 4 big-endian bytes, then the protobuf message itself.

use prost::Message;

use crate::prompb::ChunkedReadResponse;
use crate::DecodeError;

/// Appends one framed `ChunkedReadResponse` (uvarint length, big-endian CRC32C, message) to `out`.
pub fn write_chunked_frame(out: &mut Vec<u8>, msg: &ChunkedReadResponse) {
    let len = msg.encoded_len();
    out.reserve(len + 14);
    prost::encoding::encode_varint(len as u64, out);
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let msg_at = out.len();
    // Encoding into a Vec cannot run out of space.
    let _ = msg.encode(out);
    let crc = crc32c::crc32c(&out[msg_at..]);
    out[crc_at..msg_at].copy_from_slice(&crc.to_be_bytes());
}

/// Splits a whole STREAMED_XOR_CHUNKS body into its messages, checking every checksum.
pub fn read_chunked_frames(buf: &[u8]) -> Result<Vec<ChunkedReadResponse>, DecodeError> {
    let mut msgs = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let frame = pos;
        let mut rest = &buf[pos..];
        let len = prost::encoding::decode_varint(&mut rest).map_err(|_| DecodeError::Frame {
            offset: frame,
            detail: "bad length varint",
        })?;
        pos = buf.len() - rest.len();
        let Some(crc) = buf.get(pos..pos + 4) else {
            return Err(DecodeError::Frame {
                offset: frame,
                detail: "truncated checksum",
            });
        };
        let expected = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        pos += 4;
        if len > (buf.len() - pos) as u64 {
            return Err(DecodeError::Frame {
                offset: frame,
                detail: "truncated message",
            });
        }
        let data = &buf[pos..pos + len as usize];
        pos += len as usize;
        let actual = crc32c::crc32c(data);
        if actual != expected {
            return Err(DecodeError::FrameChecksum {
                offset: frame,
                expected,
                actual,
            });
        }
        msgs.push(ChunkedReadResponse::decode(data)?);
    }
    Ok(msgs)
}
