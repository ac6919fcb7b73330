//! Bit streams, most significant bit first, as Prometheus' XOR chunks lay them out.

/// Appends bits to a byte vector exactly as Prometheus' `bstream` does: a whole-byte write
/// always leaves a trailing partial byte, so a stream can end in an all-free zero byte.
#[derive(Clone, Debug, Default)]
pub struct BitWriter {
    /// The bytes; the last one may be partly filled (unused low bits are zero).
    pub bytes: Vec<u8>,
    /// Free bits in the last byte (0..=8; 0 = the next bit starts a new byte).
    free: u8,
}

impl BitWriter {
    /// Wraps existing bytes whose last byte has `free` unused low bits.
    pub fn from_parts(bytes: Vec<u8>, free: u8) -> BitWriter {
        BitWriter { bytes, free }
    }

    /// Writes one bit.
    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.bytes.push(0);
            self.free = 8;
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 1 << (self.free - 1);
        }
        self.free -= 1;
    }

    /// Writes 8 bits.
    #[inline]
    pub fn write_byte(&mut self, b: u8) {
        if self.free == 0 {
            self.bytes.push(0);
            self.free = 8;
        }
        let last = self.bytes.len() - 1;
        self.bytes[last] |= ((b as u16) >> (8 - self.free)) as u8;
        self.bytes.push(((b as u16) << self.free) as u8);
    }

    /// Writes the low `n` bits of `v` (n ≤ 64), most significant first.
    ///
    /// The bytes and free count are those of `n / 8` [`BitWriter::write_byte`] calls followed
    /// by `n % 8` [`BitWriter::write_bit`] calls (Prometheus' layout, including the trailing
    /// all-free byte a whole-byte write leaves), written as one 9-byte OR.
    #[inline]
    pub fn write_bits(&mut self, v: u64, n: u8) {
        if n == 0 {
            return;
        }
        let n = n.min(64) as u32;
        let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
        let used = self.bytes.len() * 8 - self.free as usize;
        let (i, o) = (used / 8, (used % 8) as u32);
        // The n bits start at bit `o` of byte `i`: o + n ≤ 71 bits, inside 9 bytes.
        let wide = (v as u128) << (128 - n - o);
        let mut head = ((wide >> 64) as u64).to_be_bytes();
        // Byte `i` holds the `o` bits written before, when it exists (its free bits are 0).
        if let Some(&b) = self.bytes.get(i) {
            head[0] |= b;
        }
        let tail = (wide >> 56) as u8;
        self.bytes.reserve(i + 9 - self.bytes.len());
        // SAFETY: capacity ≥ i + 9 after the reserve, and i ≤ len, so the nine bytes at `i`
        // are inside the allocation; the length is set below to at most i + 9, and every byte
        // up to it was just written.
        unsafe {
            let p = self.bytes.as_mut_ptr().add(i);
            std::ptr::copy_nonoverlapping(head.as_ptr(), p, 8);
            *p.add(8) = tail;
        }
        let end = used + n as usize;
        // A trailing whole byte leaves an all-free byte behind; trailing single bits do not.
        let len = if !end.is_multiple_of(8) || n.is_multiple_of(8) {
            end / 8 + 1
        } else {
            end / 8
        };
        // SAFETY: len ≤ i + 9 (end ≤ 8i + 71), all of it initialized above.
        unsafe { self.bytes.set_len(len) };
        self.free = (len * 8 - end) as u8;
    }
}

/// Reads bits from a byte slice.
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// Starts reading `bytes` at bit 0.
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    /// Reads one bit; None at the end.
    #[inline]
    pub fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Some(bit)
    }

    /// Reads `n` bits (n ≤ 64) as an unsigned integer; None when fewer remain.
    #[inline]
    pub fn read_bits(&mut self, n: u8) -> Option<u64> {
        let n = n as usize;
        if self.pos + n > self.bytes.len() * 8 {
            return None;
        }
        if n == 0 {
            return Some(0);
        }
        let off = self.pos % 8;
        if n + off > 64 {
            // Spans nine bytes: read it in two parts.
            let hi = self.read_bits(32)?;
            let lo = self.read_bits((n - 32) as u8)?;
            return Some((hi << (n - 32)) | lo);
        }
        let v = (self.window() << off) >> (64 - n);
        self.pos += n;
        Some(v)
    }

    /// The 8 bytes from the current byte on, big-endian, zero-padded past the end.
    #[inline]
    fn window(&self) -> u64 {
        let i = self.pos / 8;
        match self.bytes.get(i..i + 8) {
            Some(b) => u64::from_be_bytes(b.try_into().expect("8 bytes")),
            None => {
                let mut buf = [0u8; 8];
                let rest = &self.bytes[i.min(self.bytes.len())..];
                buf[..rest.len()].copy_from_slice(rest);
                u64::from_be_bytes(buf)
            }
        }
    }

    /// Bits consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }
}

/// Bytes of `v` as an unsigned LEB128 varint.
pub fn uvarint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded as a varint.
pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads an unsigned varint from `b` at `*pos`.
pub fn get_uvarint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let x = *b.get(*pos)?;
        *pos += 1;
        if i == 9 && x > 1 {
            return None;
        }
        v |= ((x & 0x7f) as u64) << (7 * i);
        if x < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Reads a zigzag signed varint from `b` at `*pos`.
pub fn get_varint(b: &[u8], pos: &mut usize) -> Option<i64> {
    let u = get_uvarint(b, pos)?;
    Some(((u >> 1) as i64) ^ -((u & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte- and bit-at-a-time `write_bits` that Prometheus' bstream performs.
    fn write_bits_reference(w: &mut BitWriter, v: u64, n: u8) {
        if n == 0 {
            return;
        }
        let mut u = v << (64 - n as u32);
        let mut n = n;
        while n >= 8 {
            w.write_byte((u >> 56) as u8);
            u <<= 8;
            n -= 8;
        }
        while n > 0 {
            w.write_bit(u >> 63 == 1);
            u <<= 1;
            n -= 1;
        }
    }

    proptest::proptest! {
        #[test]
        fn write_bits_matches_bit_at_a_time(
            ops in proptest::collection::vec((0u8..4, proptest::prelude::any::<u64>(), 0u8..=64), 0..200),
        ) {
            let (mut fast, mut slow) = (BitWriter::default(), BitWriter::default());
            for (kind, v, n) in ops {
                match kind {
                    0 => {
                        fast.write_bit(v & 1 == 1);
                        slow.write_bit(v & 1 == 1);
                    }
                    1 => {
                        fast.write_byte(v as u8);
                        slow.write_byte(v as u8);
                    }
                    _ => {
                        fast.write_bits(v, n);
                        write_bits_reference(&mut slow, v, n);
                    }
                }
                proptest::prop_assert_eq!(&fast.bytes, &slow.bytes);
                proptest::prop_assert_eq!(fast.free, slow.free);
            }
        }
    }

    #[test]
    fn bits_round_trip() {
        let mut w = BitWriter::default();
        w.write_bit(true);
        w.write_bits(0b1011, 4);
        w.write_bits(u64::MAX, 64);
        w.write_bits(5, 3);
        let mut r = BitReader::new(&w.bytes);
        assert_eq!(r.read_bit(), Some(true));
        assert_eq!(r.read_bits(4), Some(0b1011));
        assert_eq!(r.read_bits(64), Some(u64::MAX));
        assert_eq!(r.read_bits(3), Some(5));
        assert_eq!(r.read_bits(8), None);
        let mut b = Vec::new();
        put_varint(&mut b, -300);
        put_uvarint(&mut b, 1 << 40);
        let mut p = 0;
        assert_eq!(get_varint(&b, &mut p), Some(-300));
        assert_eq!(get_uvarint(&b, &mut p), Some(1 << 40));
    }
}
