//! Decoding of the packed encoding's integer sequences (written by `intseq::put_ints`; layout
//! in FORMAT.md, "Packed") straight into a caller's slice: no allocation, truncated binary
//! codes read through a 64-bit window (one unaligned load per code), exceptions patched in
//! between runs of codes, and zstd-coded residuals through a per-thread buffer.

use super::bstream::{get_uvarint, get_varint, BitReader};
use super::intseq::{unzigzag, Tb, CODING_ZSTD, SCALED};
use super::ChunkError;

fn bad(d: &str) -> ChunkError {
    ChunkError::Invalid(format!("packed chunk: {d}"))
}

/// Reads `k` (≥ 1) values written by `put_ints` at `*pos`, appending them to `out` (which
/// is left as it was on error).
#[cfg(test)]
pub(super) fn get_ints(
    b: &[u8],
    pos: &mut usize,
    k: usize,
    out: &mut Vec<i64>,
) -> Result<(), ChunkError> {
    let start = out.len();
    out.resize(start + k, 0);
    let r = get_ints_into(b, pos, &mut out[start..]);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// Reads `xs.len()` (≥ 1) values written by `put_ints` at `*pos` into `xs`.
pub(super) fn get_ints_into(b: &[u8], pos: &mut usize, xs: &mut [i64]) -> Result<(), ChunkError> {
    let head = *b.get(*pos).ok_or_else(|| bad("sequence header missing"))?;
    *pos += 1;
    let order = (head & 0x03) as usize;
    if order > 2 || head & 0x08 != 0 || head >> 4 > CODING_ZSTD {
        return Err(bad("unknown sequence header"));
    }
    let np = order.min(xs.len());
    for x in &mut xs[..np] {
        *x = get_varint(b, pos).ok_or_else(|| bad("sequence prefix truncated"))?;
    }
    let residuals = &mut xs[np..];
    if !residuals.is_empty() {
        let g = if head & SCALED != 0 {
            get_uvarint(b, pos)
                .and_then(|g| i64::try_from(g).ok())
                .filter(|&g| g >= 2)
                .ok_or_else(|| bad("residual factor"))?
        } else {
            1
        };
        if head >> 4 == CODING_ZSTD {
            get_zstd(b, pos, residuals)?;
        } else {
            get_packed(b, pos, residuals)?;
        }
        if g > 1 {
            residuals.iter_mut().for_each(|v| *v = v.wrapping_mul(g));
        }
    } else if head & SCALED != 0 {
        return Err(bad("factor without residuals"));
    }
    // Undo the differences in place.
    if order >= 2 && xs.len() >= 2 {
        let mut d = xs[1];
        let mut x = xs[0].wrapping_add(d);
        xs[1] = x;
        for v in &mut xs[2..] {
            d = d.wrapping_add(*v);
            x = x.wrapping_add(d);
            *v = x;
        }
    } else if order == 1 {
        let mut x = xs[0];
        for v in &mut xs[1..] {
            x = x.wrapping_add(*v);
            *v = x;
        }
    }
    Ok(())
}

/// Residuals as one zstd frame of zigzag varints.
fn get_zstd(b: &[u8], pos: &mut usize, dst: &mut [i64]) -> Result<(), ChunkError> {
    let len = get_uvarint(b, pos).ok_or_else(|| bad("zstd length"))? as usize;
    let frame = b
        .get(*pos..pos.saturating_add(len))
        .ok_or_else(|| bad("zstd frame truncated"))?;
    *pos += len;
    super::zstd_ctx::decompress_with(frame, dst.len() * 10, |raw| {
        let mut p = 0;
        for x in dst.iter_mut() {
            *x = get_varint(raw, &mut p).ok_or_else(|| bad("zstd residuals truncated"))?;
        }
        Ok(())
    })
    .map_err(|e| bad(&format!("zstd: {e}")))?
}

/// Residuals in truncated binary codes around a midpoint, with exceptions stored apart.
fn get_packed(b: &[u8], pos: &mut usize, dst: &mut [i64]) -> Result<(), ChunkError> {
    let c = dst.len();
    let mid = get_varint(b, pos).ok_or_else(|| bad("midpoint"))?;
    let max_z = get_uvarint(b, pos).ok_or_else(|| bad("range"))?;
    let ne = get_uvarint(b, pos).ok_or_else(|| bad("exception count"))?;
    if ne > c as u64 {
        return Err(bad("too many exceptions"));
    }
    // Check the exceptions and find where the codes begin; they are read again below, so
    // that nothing is collected.
    let exceptions = *pos;
    let mut next = 0usize;
    for _ in 0..ne {
        let gap = get_uvarint(b, pos).ok_or_else(|| bad("exception position"))?;
        let i = usize::try_from(gap)
            .ok()
            .and_then(|g| next.checked_add(g))
            .filter(|&i| i < c)
            .ok_or_else(|| bad("exception position out of range"))?;
        get_varint(b, pos).ok_or_else(|| bad("exception value"))?;
        next = i + 1;
    }
    let mut codes = Codes::new(&b[*pos..], mid, max_z);
    let (mut e, mut filled) = (exceptions, 0usize);
    for _ in 0..ne {
        let i = filled + get_uvarint(b, &mut e).expect("checked above") as usize;
        codes.unpack(&mut dst[filled..i])?;
        dst[i] = get_varint(b, &mut e).expect("checked above");
        filled = i + 1;
    }
    codes.unpack(&mut dst[filled..])?;
    *pos += codes.bit.div_ceil(8);
    Ok(())
}

/// Truncated binary codes of `N = max_z + 1` symbols, most significant bit first.
struct Codes<'a> {
    b: &'a [u8],
    /// Bit position in `b`.
    bit: usize,
    mid: i64,
    max_z: u64,
    /// Bits of a short code (⌊log₂ N⌋).
    k: u32,
    /// Symbols with a short code (2^(k+1) − N).
    u: u128,
}

impl<'a> Codes<'a> {
    fn new(b: &'a [u8], mid: i64, max_z: u64) -> Codes<'a> {
        let tb = Tb::new(max_z);
        Codes {
            b,
            bit: 0,
            mid,
            max_z,
            k: tb.k,
            u: tb.u,
        }
    }

    /// Decodes `dst.len()` codes into `dst` (`mid` + the zigzag-decoded symbol).
    fn unpack(&mut self, dst: &mut [i64]) -> Result<(), ChunkError> {
        if self.max_z == 0 {
            // One symbol: codes take no bits.
            dst.fill(self.mid);
            return Ok(());
        }
        if self.k + 1 > 57 {
            return self.unpack_wide(dst);
        }
        let (k, w, u, mid) = (self.k as usize, self.k + 1, self.u as u64, self.mid);
        let b = self.b;
        let mut bit = self.bit;
        let mut filled = 0;
        // While 8 bytes can be loaded at the current byte: one load gives at least 57 bits,
        // and codes are taken from it while it holds a whole (longest) one.
        while filled < dst.len() {
            let Some(win) = b.get(bit >> 3..(bit >> 3) + 8) else {
                break;
            };
            let mut win = u64::from_be_bytes(win.try_into().expect("8 bytes")) << (bit & 7);
            let mut avail = 64 - (bit & 7) as u32;
            for d in &mut dst[filled..] {
                if avail < w {
                    break;
                }
                let x = win >> (64 - w);
                let hi = x >> 1;
                let long = hi >= u;
                let z = if long { x - u } else { hi };
                let used = k as u32 + long as u32;
                win <<= used;
                avail -= used;
                bit += used as usize;
                *d = mid.wrapping_add(unzigzag(z));
                filled += 1;
            }
        }
        // The last few codes: the window is zero-padded past the end, and must not be used.
        for d in &mut dst[filled..] {
            let i = bit >> 3;
            let mut buf = [0u8; 8];
            let rest = b.get(i..).unwrap_or_default();
            let m = rest.len().min(8);
            buf[..m].copy_from_slice(&rest[..m]);
            let win = u64::from_be_bytes(buf) << (bit & 7);
            let x = win >> (64 - w);
            let hi = x >> 1;
            let long = hi >= u;
            let z = if long { x - u } else { hi };
            bit += k + long as usize;
            if bit > b.len() * 8 {
                return Err(bad("residual bits truncated or out of range"));
            }
            *d = mid.wrapping_add(unzigzag(z));
        }
        self.bit = bit;
        Ok(())
    }

    /// Codes longer than 57 bits (residuals spanning nearly all of 64 bits), bit by bit.
    fn unpack_wide(&mut self, dst: &mut [i64]) -> Result<(), ChunkError> {
        let byte = self.bit / 8;
        let mut r = BitReader::new(self.b.get(byte..).unwrap_or_default());
        r.read_bits((self.bit % 8) as u8)
            .ok_or_else(|| bad("residual bits truncated"))?;
        let tb = Tb {
            k: self.k,
            u: self.u,
        };
        for d in dst.iter_mut() {
            let z = tb
                .get(&mut r)
                .filter(|&z| z <= self.max_z)
                .ok_or_else(|| bad("residual bits truncated or out of range"))?;
            *d = self.mid.wrapping_add(unzigzag(z));
        }
        self.bit = byte * 8 + r.position();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::intseq::put_ints;
    use super::*;
    use proptest::prelude::*;

    /// Reads `xs.len()` values back from `b`, checking that all of `b` was read.
    fn read_back(b: &[u8], xs: &[i64]) -> Vec<i64> {
        let (mut pos, mut out) = (0, Vec::new());
        get_ints(b, &mut pos, xs.len(), &mut out).unwrap();
        assert_eq!(pos, b.len());
        out
    }

    proptest! {
        #[test]
        fn prop_sequences_round_trip(base in any::<i64>(), steps in proptest::collection::vec(any::<i64>(), 1..400), width in 0u32..64, outliers in proptest::collection::vec((0usize..400, any::<i64>()), 0..20)) {
            // Steps of every width (1 to 64 bits) with a few outliers: all code lengths,
            // exceptions and the wide path.
            let mask = if width == 63 { u64::MAX } else { (1u64 << (width + 1)) - 1 };
            let mut xs: Vec<i64> = Vec::with_capacity(steps.len());
            let mut x = base;
            for s in &steps {
                x = x.wrapping_add((*s as u64 & mask) as i64);
                xs.push(x);
            }
            for (i, v) in outliers {
                if i < xs.len() {
                    xs[i] = v;
                }
            }
            let mut b = Vec::new();
            put_ints(&mut b, &xs);
            prop_assert_eq!(read_back(&b, &xs), xs);
        }

        #[test]
        fn prop_garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200), k in 1usize..300) {
            let (mut pos, mut out) = (0, vec![7]);
            if get_ints(&data, &mut pos, k, &mut out).is_err() {
                prop_assert_eq!(out, vec![7]);
            }
        }
    }

    #[test]
    fn codes_at_the_end_of_the_bytes() {
        // Every length of a stream of 3-bit codes up to past the 8-byte window.
        for n in 1..40 {
            let xs: Vec<i64> = (0..n).map(|i| [0, 5, 2, 7, 1, 6][i % 6]).collect();
            let mut b = Vec::new();
            put_ints(&mut b, &xs);
            assert_eq!(read_back(&b, &xs), xs);
            for cut in 0..b.len() {
                let (mut pos, mut out) = (0, Vec::new());
                assert!(
                    get_ints(&b[..cut], &mut pos, n, &mut out).is_err(),
                    "n {n} cut {cut}"
                );
            }
        }
    }
}
