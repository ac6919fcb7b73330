//! Prometheus XOR chunks: delta-of-delta timestamps and XOR'd float values (Gorilla),
//! byte-identical to Prometheus' own encoding of the same samples.

use super::bstream::BitWriter;
use super::xor_read::{Bits, State};
use super::ChunkError;

/// An XOR chunk being appended to: its bytes plus the appender state.
#[derive(Clone, Debug)]
pub struct XorChunk {
    w: BitWriter,
    num: u16,
    t: i64,
    t_delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        XorChunk::new()
    }
}

impl XorChunk {
    /// An empty chunk.
    pub fn new() -> XorChunk {
        XorChunk {
            w: BitWriter::from_parts(vec![0, 0], 0),
            num: 0,
            t: 0,
            t_delta: 0,
            v: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    /// Re-opens encoded bytes for appending, restoring the appender state by decoding them.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<XorChunk, ChunkError> {
        let mut it = XorIter::new(&bytes);
        for _ in &mut it {}
        if let Some(e) = it.err() {
            return Err(e.clone());
        }
        let (num, t, t_delta, v, leading, trailing) = (
            it.num,
            it.s.t,
            it.s.t_delta,
            it.s.v,
            it.s.leading,
            it.s.trailing,
        );
        let used_bits = it.r_pos_bits();
        let total = bytes.len() * 8;
        if total < used_bits || total - used_bits > 8 {
            return Err(ChunkError::Invalid(
                "trailing bytes after the last sample".into(),
            ));
        }
        let free = (total - used_bits) as u8;
        Ok(XorChunk {
            w: BitWriter::from_parts(bytes, free),
            num,
            t,
            t_delta,
            v,
            leading,
            trailing,
        })
    }

    /// Appends a sample; timestamps must increase (the caller enforces it).
    pub fn append(&mut self, t: i64, v: f64) {
        // An open chunk lives in memory until it is full: its bytes grow in small exact steps
        // instead of doubling (a doubled buffer is a third empty on average).
        let b = &mut self.w.bytes;
        if b.capacity() - b.len() < MAX_APPEND_BYTES {
            b.reserve_exact(MAX_APPEND_BYTES + GROW_BYTES);
        }
        let vb = v.to_bits();
        match self.num {
            0 => {
                self.write_uvarint(((t << 1) ^ (t >> 63)) as u64);
                self.w.write_bits(vb, 64);
            }
            1 => {
                let delta = t.wrapping_sub(self.t);
                self.write_uvarint(delta as u64);
                self.write_value(vb);
                self.t_delta = delta;
            }
            _ => {
                let delta = t.wrapping_sub(self.t);
                let dod = delta.wrapping_sub(self.t_delta);
                if dod == 0 {
                    self.w.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.w.write_bits(0b10, 2);
                    self.w.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    self.w.write_bits(0b110, 3);
                    self.w.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    self.w.write_bits(0b1110, 4);
                    self.w.write_bits(dod as u64, 20);
                } else {
                    self.w.write_bits(0b1111, 4);
                    self.w.write_bits(dod as u64, 64);
                }
                self.write_value(vb);
                self.t_delta = delta;
            }
        }
        self.t = t;
        self.v = vb;
        self.num += 1;
        let n = self.num.to_be_bytes();
        self.w.bytes[0] = n[0];
        self.w.bytes[1] = n[1];
    }

    /// Writes `v` as a varint (bytes at the current bit position, as Prometheus does).
    fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.w.write_byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.w.write_byte(v as u8);
    }

    fn write_value(&mut self, vb: u64) {
        let delta = vb ^ self.v;
        if delta == 0 {
            self.w.write_bit(false);
            return;
        }
        self.w.write_bit(true);
        let mut leading = delta.leading_zeros() as u8;
        let trailing = delta.trailing_zeros() as u8;
        if leading >= 32 {
            leading = 31;
        }
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.w.write_bit(false);
            self.w
                .write_bits(delta >> self.trailing, 64 - self.leading - self.trailing);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        self.w.write_bit(true);
        self.w.write_bits(leading as u64, 5);
        let sig = 64 - leading - trailing;
        // 64 significant bits are written as 0: 6 bits cannot hold 64.
        self.w.write_bits(sig as u64, 6);
        self.w.write_bits(delta >> trailing, sig);
    }

    /// Number of samples.
    pub fn num_samples(&self) -> usize {
        self.num as usize
    }

    /// The encoded bytes (2-byte big-endian count header first).
    pub fn bytes(&self) -> &[u8] {
        &self.w.bytes
    }

    /// Consumes the chunk into its encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.bytes
    }

    /// Iterates the samples.
    pub fn iter(&self) -> XorIter<'_> {
        XorIter::new(&self.w.bytes)
    }

    /// Timestamp of the newest sample (meaningless when empty).
    pub fn last_time(&self) -> i64 {
        self.t
    }
}

/// Most bytes one append adds: a 64-bit timestamp delta-of-delta (68 bits) and a value with
/// new leading and trailing zero counts (77 bits), with a partly filled last byte.
const MAX_APPEND_BYTES: usize = 20;
/// Extra bytes an open chunk's buffer grows by beyond the room for one append.
const GROW_BYTES: usize = 32;

/// True when `x` fits the signed `nbits` range Prometheus uses for dod buckets.
fn bit_range(x: i64, nbits: u8) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= x && x <= 1i64 << (nbits - 1)
}

/// Iterator over an XOR chunk's samples; a malformed chunk ends it with [`XorIter::err`] set.
#[derive(Clone, Debug)]
pub struct XorIter<'a> {
    r: Bits<'a>,
    s: State,
    total: u16,
    num: u16,
    err: Option<ChunkError>,
}

impl<'a> XorIter<'a> {
    /// Starts iterating the chunk `bytes`.
    pub fn new(bytes: &'a [u8]) -> XorIter<'a> {
        let (total, err, body) = if bytes.len() < 2 {
            (
                0,
                Some(ChunkError::Invalid(
                    "chunk shorter than its 2-byte header".into(),
                )),
                &bytes[..0],
            )
        } else {
            (u16::from_be_bytes([bytes[0], bytes[1]]), None, &bytes[2..])
        };
        XorIter {
            r: Bits::new(body),
            s: State::new(),
            total,
            num: 0,
            err,
        }
    }

    /// The error that ended iteration early, if any.
    pub fn err(&self) -> Option<&ChunkError> {
        self.err.as_ref()
    }

    /// Bits consumed so far, the 2-byte header included.
    fn r_pos_bits(&self) -> usize {
        16 + self.r.position()
    }
}

impl Iterator for XorIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.err.is_some() || self.num >= self.total {
            return None;
        }
        let before = self.r.clone();
        if self.s.step(&mut self.r, self.num as usize).is_none() {
            self.r = before;
            self.err = Some(ChunkError::Truncated {
                decoded: self.num as usize,
                expected: self.total as usize,
            });
            return None;
        }
        self.num += 1;
        Some((self.s.t, f64::from_bits(self.s.v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_reopen() {
        let mut c = XorChunk::new();
        let samples = [
            (1000i64, 1.0f64),
            (16000, 1.5),
            (31000, 1.5),
            (46005, 1e9),
            (61000, f64::NAN),
            (500_000, -0.0),
        ];
        for &(t, v) in &samples {
            c.append(t, v);
        }
        let got: Vec<_> = c.iter().map(|(t, v)| (t, v.to_bits())).collect();
        let want: Vec<_> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(got, want);
        let mut re = XorChunk::from_bytes(c.bytes().to_vec()).unwrap();
        re.append(515_000, 3.0);
        c.append(515_000, 3.0);
        assert_eq!(re.bytes(), c.bytes());
    }

    #[test]
    fn stale_marker_round_trips() {
        let mut c = XorChunk::new();
        c.append(0, 1.0);
        c.append(15_000, f64::from_bits(crate::chunkenc::STALE_NAN_BITS));
        c.append(30_000, 2.0);
        let v: Vec<_> = c.iter().collect();
        assert!(crate::chunkenc::is_stale_nan(v[1].1));
        assert_eq!(v[2], (30_000, 2.0));
    }

    #[test]
    fn truncated_chunk_errors_without_panic() {
        let mut c = XorChunk::new();
        for i in 0..50 {
            c.append(i * 15_000 + (i % 3), i as f64 * 1.25);
        }
        let b = c.bytes();
        for n in 0..b.len() {
            let mut it = XorIter::new(&b[..n]);
            let k = (&mut it).count();
            assert!(k < 50);
            assert!(it.err().is_some(), "cut at {n}");
        }
    }

    proptest! {
        #[test]
        fn prop_round_trip(start in -1_000_000_000_000i64..1_000_000_000_000, deltas in proptest::collection::vec(1i64..10_000_000_000, 0..200), vals in proptest::collection::vec(any::<u64>(), 200)) {
            let mut c = XorChunk::new();
            let mut t = start;
            let mut want = Vec::new();
            for (i, d) in std::iter::once(0).chain(deltas.into_iter()).enumerate() {
                t += d;
                let v = if i % 3 == 0 { (i as f64) * 0.5 } else { f64::from_bits(vals[i % vals.len()]) };
                c.append(t, v);
                want.push((t, v.to_bits()));
            }
            let got: Vec<_> = c.iter().map(|(t, v)| (t, v.to_bits())).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn prop_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut it = XorIter::new(&bytes);
            let _ = (&mut it).count();
        }
    }
}
