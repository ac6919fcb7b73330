//! Decoding XOR chunks through a 64-bit bit buffer refilled 8 bytes at a time (rather than
//! bounds-checked reads per field): [`decode_xor`] for reads, and the per-sample step that
//! [`super::XorIter`] uses too.

use super::ChunkError;

/// Bits of a byte slice, most significant first, through a left-aligned 64-bit buffer.
#[derive(Clone, Debug)]
pub(super) struct Bits<'a> {
    b: &'a [u8],
    /// Next byte of `b` to load.
    next: usize,
    /// The next `n` bits of the stream in the high bits; below them stream bits or zeros.
    acc: u64,
    n: u32,
}

impl<'a> Bits<'a> {
    /// Starts at the first bit of `b`.
    pub(super) fn new(b: &'a [u8]) -> Bits<'a> {
        Bits {
            b,
            next: 0,
            acc: 0,
            n: 0,
        }
    }

    /// Bits consumed so far.
    pub(super) fn position(&self) -> usize {
        self.next * 8 - self.n as usize
    }

    /// Tops the buffer up to at least 56 bits (fewer only at the end of the bytes).
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(w) = self.b.get(self.next..self.next + 8) {
            // Bits past the whole bytes taken are stream bits too: OR-ing them again later
            // changes nothing.
            self.acc |= u64::from_be_bytes(w.try_into().expect("8 bytes")) >> self.n;
            let take = (63 - self.n) >> 3;
            self.next += take as usize;
            self.n += take * 8;
        } else {
            while self.n <= 56 && self.next < self.b.len() {
                self.acc |= (self.b[self.next] as u64) << (56 - self.n);
                self.next += 1;
                self.n += 8;
            }
        }
    }

    /// The next `k` bits (1 ≤ k ≤ 56); None when fewer remain.
    #[inline(always)]
    fn read(&mut self, k: u32) -> Option<u64> {
        if self.n < k {
            self.refill();
            if self.n < k {
                return None;
            }
        }
        let v = self.acc >> (64 - k);
        self.acc <<= k;
        self.n -= k;
        Some(v)
    }

    /// The next `k` bits (1 ≤ k ≤ 64).
    #[inline(always)]
    fn read_long(&mut self, k: u32) -> Option<u64> {
        if k <= 56 {
            return self.read(k);
        }
        let hi = self.read(32)?;
        Some((hi << (k - 32)) | self.read(k - 32)?)
    }

    #[inline(always)]
    fn bit(&mut self) -> Option<bool> {
        Some(self.read(1)? == 1)
    }

    /// The number of leading one bits among the next four (at most 4), consuming them and the
    /// zero that ends them.
    #[inline(always)]
    fn prefix4(&mut self) -> Option<u32> {
        if self.n < 4 {
            self.refill();
        }
        let ones = (!self.acc).leading_zeros().min(4);
        let used = if ones < 4 { ones + 1 } else { 4 };
        if used > self.n {
            return None;
        }
        self.acc <<= used;
        self.n -= used;
        Some(ones)
    }

    fn uvarint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.read(8)? as u8;
            if i == 9 && b > 1 {
                return None;
            }
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
}

/// Decoder state between samples: the last sample, the last time delta, the last value
/// window (`leading` 0xff before the first).
#[derive(Clone, Copy, Debug)]
pub(super) struct State {
    pub t: i64,
    pub t_delta: i64,
    pub v: u64,
    pub leading: u8,
    pub trailing: u8,
}

impl State {
    /// The state before the first sample.
    pub(super) fn new() -> State {
        State {
            t: 0,
            t_delta: 0,
            v: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    /// Reads sample number `i` (0, 1: their own layouts; later ones: delta of deltas).
    #[inline(always)]
    pub(super) fn step(&mut self, r: &mut Bits, i: usize) -> Option<()> {
        match i {
            0 => {
                let u = r.uvarint()?;
                self.t = ((u >> 1) as i64) ^ -((u & 1) as i64);
                self.v = r.read_long(64)?;
                Some(())
            }
            1 => {
                self.t_delta = r.uvarint()? as i64;
                self.t = self.t.wrapping_add(self.t_delta);
                self.value(r)
            }
            _ => {
                self.timestamp(r)?;
                self.value(r)
            }
        }
    }

    #[inline(always)]
    fn value(&mut self, r: &mut Bits) -> Option<()> {
        if !r.bit()? {
            return Some(());
        }
        if r.bit()? {
            let leading = r.read(5)? as u8;
            let mut sig = r.read(6)? as u8;
            if sig == 0 {
                sig = 64;
            }
            if leading as u32 + sig as u32 > 64 {
                return None;
            }
            self.leading = leading;
            self.trailing = 64 - leading - sig;
        } else if self.leading == 0xff {
            return None;
        }
        let sig = 64 - self.leading - self.trailing;
        self.v ^= r.read_long(sig as u32)? << self.trailing;
        Some(())
    }

    #[inline(always)]
    fn timestamp(&mut self, r: &mut Bits) -> Option<()> {
        // Bits of the delta of deltas by its prefix's number of ones (a lookup, not a jump).
        const SIZES: [u32; 5] = [0, 14, 17, 20, 64];
        let sz = SIZES[r.prefix4()? as usize];
        let mut dod: i64 = 0;
        if sz != 0 {
            let bits = r.read_long(sz)?;
            dod = bits as i64;
            if sz != 64 && bits > (1u64 << (sz - 1)) {
                dod = (bits as i64) - (1i64 << sz);
            }
        }
        self.t_delta = self.t_delta.wrapping_add(dod);
        self.t = self.t.wrapping_add(self.t_delta);
        Some(())
    }
}

/// Decodes the XOR chunk `bytes`, appending its samples to `out`; on a malformed chunk the
/// samples before the fault are appended and the error is what [`super::XorIter`] reports.
pub fn decode_xor(bytes: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), ChunkError> {
    let Some((head, body)) = bytes.split_first_chunk::<2>() else {
        return Err(ChunkError::Invalid(
            "chunk shorter than its 2-byte header".into(),
        ));
    };
    let total = u16::from_be_bytes(*head) as usize;
    let start = out.len();
    out.resize(start + total, (0, 0.0));
    let mut r = Bits::new(body);
    let mut s = State::new();
    let decoded = decode_into(&mut r, &mut s, &mut out[start..]);
    if decoded < total {
        out.truncate(start + decoded);
        return Err(ChunkError::Truncated {
            decoded,
            expected: total,
        });
    }
    Ok(())
}

/// Fills `dst` with the next samples; returns how many were whole.
fn decode_into(r: &mut Bits, s: &mut State, dst: &mut [(i64, f64)]) -> usize {
    let head = dst.len().min(2);
    for (i, d) in dst[..head].iter_mut().enumerate() {
        if s.step(r, i).is_none() {
            return i;
        }
        *d = (s.t, f64::from_bits(s.v));
    }
    // From the third sample on every one is a delta of deltas and a value: a loop of its
    // own, on copies of the state that stay in registers.
    let (mut bits, mut st) = (r.clone(), *s);
    for (i, d) in dst[head..].iter_mut().enumerate() {
        if st
            .timestamp(&mut bits)
            .and_then(|_| st.value(&mut bits))
            .is_none()
        {
            return head + i;
        }
        *d = (st.t, f64::from_bits(st.v));
    }
    (*r, *s) = (bits, st);
    dst.len()
}

#[cfg(test)]
mod tests {
    use super::super::{XorChunk, XorIter};
    use super::*;
    use proptest::prelude::*;

    /// What the iterator gives: the samples before any fault, and the fault.
    fn by_iter(bytes: &[u8]) -> (Vec<(i64, u64)>, Option<ChunkError>) {
        let mut it = XorIter::new(bytes);
        let s = (&mut it).map(|(t, v)| (t, v.to_bits())).collect();
        (s, it.err().cloned())
    }

    fn by_bulk(bytes: &[u8]) -> (Vec<(i64, u64)>, Option<ChunkError>) {
        let mut out = vec![];
        let e = decode_xor(bytes, &mut out).err();
        (out.iter().map(|&(t, v)| (t, v.to_bits())).collect(), e)
    }

    proptest! {
        #[test]
        fn prop_same_as_the_iterator(start in any::<i64>(), deltas in proptest::collection::vec(any::<i64>(), 0..200), vals in proptest::collection::vec(any::<u64>(), 200), small in any::<bool>()) {
            let mut c = XorChunk::new();
            let mut t = start;
            for (i, d) in std::iter::once(0).chain(deltas).enumerate() {
                // Small steps exercise every dod bucket; any step the 64-bit one.
                t = t.wrapping_add(if small { d % 2_000_000 } else { d });
                let v = if i % 3 == 0 { (i as f64) * 0.5 } else { f64::from_bits(vals[i % vals.len()]) };
                c.append(t, v);
            }
            let b = c.bytes();
            prop_assert_eq!(by_bulk(b), by_iter(b));
            // Every truncation faults at the same sample.
            for n in (0..b.len()).step_by(3) {
                prop_assert_eq!(by_bulk(&b[..n]), by_iter(&b[..n]));
            }
        }

        #[test]
        fn prop_garbage_same_as_the_iterator(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(by_bulk(&bytes), by_iter(&bytes));
        }
    }
}
