//! Minimal borrowing protobuf wire reader: varints, keys, length-delimited fields and skipping
//! of unknown fields of every wire type (groups included), with prost's acceptance rules.

use crate::DecodeError;

/// A wire-level decoding error: small and `Copy` so hot-path `Result`s stay register-sized.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wire {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was wrong.
    pub detail: &'static str,
}

impl From<Wire> for DecodeError {
    #[cold]
    fn from(w: Wire) -> Self {
        DecodeError::Protobuf {
            offset: w.offset,
            detail: w.detail,
        }
    }
}

/// Wire type 0: varint.
pub(crate) const WT_VARINT: u8 = 0;
/// Wire type 1: 8 little-endian bytes.
pub(crate) const WT_I64: u8 = 1;
/// Wire type 2: length-delimited.
pub(crate) const WT_LEN: u8 = 2;
/// Wire type 3: start group (deprecated).
pub(crate) const WT_SGROUP: u8 = 3;
/// Wire type 4: end group (deprecated).
pub(crate) const WT_EGROUP: u8 = 4;
/// Wire type 5: 4 little-endian bytes.
pub(crate) const WT_I32: u8 = 5;

/// Nesting budget for decoding, identical to prost's recursion limit.
pub(crate) const RECURSION_LIMIT: u32 = 100;

/// Builds a wire error at `offset`.
#[cold]
#[inline(never)]
pub(crate) fn err(offset: usize, detail: &'static str) -> Wire {
    Wire { offset, detail }
}

/// A cursor over `buf[pos..end]`; offsets in errors are absolute positions in `buf`.
pub(crate) struct Reader<'a> {
    /// Whole message buffer.
    pub buf: &'a [u8],
    /// Current position.
    pub pos: usize,
    /// End of the current (sub)message.
    pub end: usize,
}

impl<'a> Reader<'a> {
    /// Reader over a whole buffer.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// Reader over `buf[start..end]` (caller guarantees `start <= end <= buf.len()`).
    #[inline]
    pub fn sub(buf: &'a [u8], start: usize, end: usize) -> Self {
        Reader {
            buf,
            pos: start,
            end,
        }
    }

    /// True while bytes remain.
    #[inline(always)]
    pub fn has_more(&self) -> bool {
        self.pos < self.end
    }

    /// Reads a varint (at most 10 bytes, the 10th at most 1, like prost).
    #[inline(always)]
    pub fn varint(&mut self) -> Result<u64, Wire> {
        if self.pos < self.end {
            let b = self.buf[self.pos];
            if b < 0x80 {
                self.pos += 1;
                return Ok(b as u64);
            }
            // Two bytes: the length of most series and of larger labels.
            if let Some(&c) = self.buf[..self.end].get(self.pos + 1) {
                if c < 0x80 {
                    self.pos += 2;
                    return Ok(u64::from(b & 0x7f) | u64::from(c) << 7);
                }
            }
        }
        self.varint_slow()
    }

    #[inline(never)]
    fn varint_slow(&mut self) -> Result<u64, Wire> {
        self.varint_long()
    }

    /// Reads a varint expected to take several bytes (a timestamp), inline.
    #[inline(always)]
    pub fn varint_long(&mut self) -> Result<u64, Wire> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf[..self.end].get(self.pos) else {
                return Err(err(start, "truncated varint"));
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                if i == 9 && b >= 2 {
                    return Err(err(start, "varint overflows 64 bits"));
                }
                return Ok(value);
            }
        }
        Err(err(start, "varint longer than 10 bytes"))
    }

    /// Reads a field key, returning (field number, wire type).
    #[inline(always)]
    pub fn key(&mut self) -> Result<(u32, u8), Wire> {
        let at = self.pos;
        let k = self.varint()?;
        if k > u64::from(u32::MAX) {
            return Err(err(at, "field key out of range"));
        }
        let wt = (k & 7) as u8;
        if wt > 5 {
            return Err(err(at, "invalid wire type"));
        }
        let tag = (k >> 3) as u32;
        if tag == 0 {
            return Err(err(at, "field number 0"));
        }
        Ok((tag, wt))
    }

    /// Reads the length prefix of a length-delimited field and returns its (start, end).
    #[inline(always)]
    pub fn len_delimited(&mut self) -> Result<(usize, usize), Wire> {
        let at = self.pos;
        let len = self.varint()?;
        let avail = (self.end - self.pos) as u64;
        if len > avail {
            return Err(err(
                at,
                "length-delimited field runs past the end of its message",
            ));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok((start, self.pos))
    }

    /// Reads the bytes of a length-delimited field.
    #[inline(always)]
    pub fn bytes(&mut self) -> Result<&'a [u8], Wire> {
        let (s, e) = self.len_delimited()?;
        Ok(&self.buf[s..e])
    }

    /// Reads 8 little-endian bytes.
    #[inline(always)]
    pub fn fixed64(&mut self) -> Result<u64, Wire> {
        match self.buf[..self.end].get(self.pos..self.pos + 8) {
            Some(b) => {
                self.pos += 8;
                Ok(u64::from_le_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            }
            None => Err(err(self.pos, "truncated 64-bit field")),
        }
    }

    /// Checks that a known field has the expected wire type.
    #[inline(always)]
    pub fn expect(&self, got: u8, want: u8) -> Result<(), Wire> {
        if got == want {
            Ok(())
        } else {
            Err(err(self.pos, "unexpected wire type for a known field"))
        }
    }

    /// Skips the value of a field with wire type `wt` and number `tag`; `budget` is the
    /// remaining nesting budget at this level (groups consume one per level, as in prost).
    pub fn skip(&mut self, wt: u8, tag: u32, budget: u32) -> Result<(), Wire> {
        if budget == 0 {
            return Err(err(self.pos, "nesting limit reached"));
        }
        match wt {
            WT_VARINT => {
                self.varint()?;
            }
            WT_I64 => self.advance(8)?,
            WT_I32 => self.advance(4)?,
            WT_LEN => {
                self.len_delimited()?;
            }
            WT_SGROUP => loop {
                if !self.has_more() {
                    return Err(err(self.pos, "unterminated group"));
                }
                let (inner_tag, inner_wt) = self.key()?;
                if inner_wt == WT_EGROUP {
                    if inner_tag != tag {
                        return Err(err(self.pos, "end-group tag does not match its start"));
                    }
                    break;
                }
                self.skip(inner_wt, inner_tag, budget - 1)?;
            },
            _ => return Err(err(self.pos, "unexpected end-group tag")),
        }
        Ok(())
    }

    /// Advances over `n` bytes.
    #[inline(always)]
    fn advance(&mut self, n: usize) -> Result<(), Wire> {
        if self.end - self.pos < n {
            return Err(err(self.pos, "truncated fixed-size field"));
        }
        self.pos += n;
        Ok(())
    }
}
