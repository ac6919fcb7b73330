//! Zero-copy, validating parser of remote-write 1.0 `WriteRequest` messages (the ingest hot path).
//!
//! Label strings are borrowed from the decompressed buffer; samples and labels of all series are
//! stored in two flat vectors that can be reused across requests ([`WriteRequestRef::reuse`]).
//!
//! Validation (the request is rejected as a whole on the first problem):
//! - every series has at least one label, label names are non-empty, names and values UTF-8;
//! - labels are strictly sorted by name as sent on the wire (equal names: duplicate label);
//! - `__name__`, if present, has a non-empty value;
//! - a label with an empty value is treated as absent (as Prometheus does) and is not stored,
//!   but it still takes part in the ordering/duplicate checks; a series whose labels all have
//!   empty values has no labels and is rejected.
//!
//! Native histograms and exemplars are checked for well-formedness, counted and skipped;
//! metadata is checked and counted. Samples are taken as-is.

use crate::pbread::{err, Reader, Wire, RECURSION_LIMIT, WT_I64, WT_LEN, WT_VARINT};
use crate::DecodeError;

/// Name of the metric-name label.
const METRIC_NAME: &[u8] = b"__name__";

/// A label borrowed from the request body: (name, value).
pub type LabelRef<'a> = (&'a str, &'a str);

/// One parsed series: its labels (sorted by name) and samples as (timestamp ms, value).
pub type SeriesRef<'r, 'a> = (&'r [LabelRef<'a>], &'r [(i64, f64)]);

/// A parsed `WriteRequest` borrowing label strings from the decompressed body.
#[derive(Debug, Default, Clone)]
pub struct WriteRequestRef<'a> {
    /// Labels of all series, series after series (empty-valued labels dropped).
    labels: Vec<(&'a str, &'a str)>,
    /// Samples of all series, series after series, as (timestamp ms, value).
    samples: Vec<(i64, f64)>,
    /// Per series: end offsets into `labels` and `samples` (starts are the previous ends).
    spans: Vec<(u32, u32)>,
    /// Parsed by [`parse_write_request_lazy`]: per series, the byte range of its label fields
    /// when they were left unparsed (its `labels` are then empty), else None.
    raw: Vec<Option<(u32, u32)>>,
    /// Number of native histogram samples seen (not stored).
    histograms: usize,
    /// Number of exemplars seen (not stored).
    exemplars: usize,
    /// Number of metadata entries seen (not stored).
    metadata: usize,
}

impl<'a> WriteRequestRef<'a> {
    /// Creates an empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the request, keeping allocated capacity.
    pub fn clear(&mut self) {
        self.labels.clear();
        self.samples.clear();
        self.spans.clear();
        self.raw.clear();
        self.histograms = 0;
        self.exemplars = 0;
        self.metadata = 0;
    }

    /// Empties the request and rebinds it to a new buffer lifetime, keeping its allocations
    /// (the label vector is re-collected in place, which std does for same-layout types).
    pub fn reuse<'b>(mut self) -> WriteRequestRef<'b> {
        self.labels.clear();
        // An empty iterator collected into a same-layout Vec reuses the allocation in place.
        let labels: Vec<(&'b str, &'b str)> = self.labels.into_iter().map(|_| ("", "")).collect();
        self.samples.clear();
        self.spans.clear();
        self.raw.clear();
        WriteRequestRef {
            labels,
            samples: self.samples,
            spans: self.spans,
            raw: self.raw,
            histograms: 0,
            exemplars: 0,
            metadata: 0,
        }
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when the request holds no series.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Total number of float samples over all series.
    pub fn num_samples(&self) -> usize {
        self.samples.len()
    }

    /// Total number of stored labels over all series.
    pub fn num_labels(&self) -> usize {
        self.labels.len()
    }

    /// Number of native histogram samples in the request (parsed for validity, not stored).
    pub fn num_histograms(&self) -> usize {
        self.histograms
    }

    /// Number of exemplars in the request (parsed for validity, not stored).
    pub fn num_exemplars(&self) -> usize {
        self.exemplars
    }

    /// Number of metric metadata entries in the request (parsed for validity, not stored).
    pub fn num_metadata(&self) -> usize {
        self.metadata
    }

    /// Labels and samples of series `i`, if it exists.
    pub fn get(&self, i: usize) -> Option<SeriesRef<'_, 'a>> {
        let &(le, se) = self.spans.get(i)?;
        let (ls, ss) = if i == 0 { (0, 0) } else { self.spans[i - 1] };
        Some((
            &self.labels[ls as usize..le as usize],
            &self.samples[ss as usize..se as usize],
        ))
    }

    /// For a request parsed by [`parse_write_request_lazy`]: the byte range in the body of
    /// series `i`'s label fields when they were left unparsed (see [`parse_labels`]).
    pub fn unparsed_labels(&self, i: usize) -> Option<(usize, usize)> {
        self.raw
            .get(i)
            .copied()
            .flatten()
            .map(|(s, e)| (s as usize, e as usize))
    }

    /// Iterates over series as (labels sorted by name, samples as (timestamp ms, value)).
    pub fn series(&self) -> impl Iterator<Item = SeriesRef<'_, 'a>> + '_ {
        let mut prev = (0u32, 0u32);
        self.spans.iter().map(move |&(le, se)| {
            let (ls, ss) = prev;
            prev = (le, se);
            (
                &self.labels[ls as usize..le as usize],
                &self.samples[ss as usize..se as usize],
            )
        })
    }
}

/// Parses a WriteRequest borrowing label strings from `buf`, validating as it goes.
///
/// `out` is cleared first; on error it is left empty and the whole request must be rejected.
pub fn parse_write_request<'a>(
    buf: &'a [u8],
    out: &mut WriteRequestRef<'a>,
) -> Result<(), DecodeError> {
    parse_request(buf, out, false)
}

/// As [`parse_write_request`], but a series whose label fields are contiguous (as every
/// encoder writes them) keeps them unparsed: its labels are empty and
/// [`WriteRequestRef::unparsed_labels`] gives their bytes, for the caller to look up as they
/// are and to parse with [`parse_labels`] only when needed. Everything else is checked here.
pub fn parse_write_request_lazy<'a>(
    buf: &'a [u8],
    out: &mut WriteRequestRef<'a>,
) -> Result<(), DecodeError> {
    parse_request(buf, out, true)
}

/// Both parses: `out` cleared first, and left empty on error.
fn parse_request<'a>(
    buf: &'a [u8],
    out: &mut WriteRequestRef<'a>,
    lazy: bool,
) -> Result<(), DecodeError> {
    out.clear();
    if buf.len() > u32::MAX as usize {
        return Err(err(0, "message larger than 4 GiB").into());
    }
    let res = parse_inner(buf, out, lazy);
    if res.is_err() {
        out.clear();
    }
    res
}

/// Parses and checks the label fields of series `series` lying in `buf[span.0..span.1]` (from
/// [`WriteRequestRef::unparsed_labels`]), appending its labels to `out` as
/// [`parse_write_request`] would have stored them; the same errors, naming `series`.
pub fn parse_labels<'a>(
    buf: &'a [u8],
    span: (usize, usize),
    series: usize,
    out: &mut Vec<LabelRef<'a>>,
) -> Result<(), DecodeError> {
    let start = out.len();
    let mut r = Reader::sub(buf, span.0, span.1);
    let mut prev: Option<&'a [u8]> = None;
    while r.has_more() {
        let (tag, wt) = r.key()?;
        if tag != 1 {
            return Err(err(r.pos, "not a label field").into());
        }
        r.expect(wt, WT_LEN)?;
        let (s, e) = r.len_delimited()?;
        label_field(buf, s, e, series, &mut prev, out)?;
    }
    if out.len() == start {
        return Err(DecodeError::NoLabels { series });
    }
    Ok(())
}

fn parse_inner<'a>(
    buf: &'a [u8],
    out: &mut WriteRequestRef<'a>,
    lazy: bool,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(buf);
    while r.has_more() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, WT_LEN)?;
                let (s, e) = r.len_delimited()?;
                let (nl, ns) = (out.labels.len(), out.samples.len());
                let (ne, nh) = (out.exemplars, out.histograms);
                if !lazy || !parse_series(buf, s, e, out, true)? {
                    // Label fields apart from one another: parsed as they come.
                    out.labels.truncate(nl);
                    out.samples.truncate(ns);
                    (out.exemplars, out.histograms) = (ne, nh);
                    parse_series(buf, s, e, out, false)?;
                    if lazy {
                        out.raw.push(None);
                    }
                }
            }
            3 => {
                r.expect(wt, WT_LEN)?;
                let (s, e) = r.len_delimited()?;
                check_metadata(&mut Reader::sub(buf, s, e))?;
                out.metadata += 1;
            }
            _ => r.skip(wt, tag, RECURSION_LIMIT)?,
        }
    }
    Ok(())
}

/// Byte-wise lexicographic comparison (like Go's string comparison), inlined for short names.
#[inline(always)]
fn cmp_bytes(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let (x, y) = (load_be(a, i), load_be(b, i));
        if x != y {
            return x.cmp(&y);
        }
        i += 8;
    }
    while i < n {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
        i += 1;
    }
    a.len().cmp(&b.len())
}

/// True when every byte of `b` is below 0x80 (std checks a word at a time).
#[inline(always)]
fn is_ascii(b: &[u8]) -> bool {
    b.is_ascii()
}

/// Loads 8 bytes at `s[i..i + 8]` as a big-endian word (one unaligned load).
#[inline(always)]
fn load_be(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_be_bytes(w)
}

/// Validates UTF-8 of `b`, a string of series `series` lying inside `buf`.
#[inline(always)]
fn utf8<'a>(buf: &[u8], b: &'a [u8], series: usize) -> Result<&'a str, DecodeError> {
    std::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8 {
        series,
        offset: (b.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize),
    })
}

/// Checks one `Label` field in `buf[s..e]` of series `series` against the previous label
/// name `prev` and appends it to `out` unless its value is empty.
#[inline(always)]
fn label_field<'a>(
    buf: &'a [u8],
    s: usize,
    e: usize,
    series: usize,
    prev: &mut Option<&'a [u8]>,
    out: &mut Vec<LabelRef<'a>>,
) -> Result<(), DecodeError> {
    let (name, value) = match fast_label(&buf[s..e]) {
        Some(nv) => nv,
        None => parse_label(buf, s, e, RECURSION_LIMIT - 2)?,
    };
    if name.is_empty() {
        return Err(DecodeError::EmptyLabelName { series });
    }
    let (name_s, value_s) = if is_ascii(&buf[s..e]) {
        // SAFETY: name and value lie inside buf[s..e], which is all ASCII,
        // and ASCII is valid UTF-8.
        unsafe {
            (
                std::str::from_utf8_unchecked(name),
                std::str::from_utf8_unchecked(value),
            )
        }
    } else {
        (utf8(buf, name, series)?, utf8(buf, value, series)?)
    };
    if let Some(p) = *prev {
        match cmp_bytes(p, name) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => {
                return Err(DecodeError::DuplicateLabel {
                    series,
                    name: name_s.to_owned(),
                })
            }
            std::cmp::Ordering::Greater => {
                return Err(DecodeError::UnsortedLabels {
                    series,
                    prev: String::from_utf8_lossy(p).into_owned(),
                    next: name_s.to_owned(),
                })
            }
        }
    }
    *prev = Some(name);
    if value.is_empty() {
        if name == METRIC_NAME {
            return Err(DecodeError::EmptyMetricName { series });
        }
        return Ok(());
    }
    out.push((name_s, value_s));
    Ok(())
}

/// Parses one `TimeSeries` occupying `buf[start..end]` and appends it to `out`. With `lazy`,
/// label fields are not parsed but their byte range is kept in `out.raw`; false (and nothing
/// kept) when they are not contiguous.
fn parse_series<'a>(
    buf: &'a [u8],
    start: usize,
    end: usize,
    out: &mut WriteRequestRef<'a>,
    lazy: bool,
) -> Result<bool, DecodeError> {
    let series = out.spans.len();
    let labels_start = out.labels.len();
    let mut r = Reader::sub(buf, start, end);
    let mut prev: Option<&'a [u8]> = None;
    // Lazy: the range of the label fields so far.
    let mut raw: Option<(usize, usize)> = None;
    while r.has_more() {
        let key_at = r.pos;
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, WT_LEN)?;
                let (s, mut e) = r.len_delimited()?;
                if lazy {
                    // The label fields that follow, as encoders write them (a one-byte key and
                    // length), are skipped here rather than one by one through the reader.
                    while let [0x0a, n, ..] = buf[e..r.end] {
                        let next = e + 2 + n as usize;
                        if n >= 0x80 || next > r.end {
                            break;
                        }
                        e = next;
                    }
                    r.pos = e;
                    raw = match raw {
                        None => Some((key_at, e)),
                        Some((rs, re)) if re == key_at => Some((rs, e)),
                        Some(_) => return Ok(false),
                    };
                    continue;
                }
                label_field(buf, s, e, series, &mut prev, &mut out.labels)?;
            }
            2 => {
                r.expect(wt, WT_LEN)?;
                let (s, e) = r.len_delimited()?;
                out.samples
                    .push(parse_sample(buf, s, e, RECURSION_LIMIT - 2)?);
            }
            3 => {
                r.expect(wt, WT_LEN)?;
                let (s, e) = r.len_delimited()?;
                check_exemplar(buf, s, e, series)?;
                out.exemplars += 1;
            }
            4 => {
                r.expect(wt, WT_LEN)?;
                let (s, e) = r.len_delimited()?;
                check_histogram(&mut Reader::sub(buf, s, e))?;
                out.histograms += 1;
            }
            _ => r.skip(wt, tag, RECURSION_LIMIT - 1)?,
        }
    }
    if lazy {
        // No label field at all: no labels.
        let (rs, re) = raw.ok_or(DecodeError::NoLabels { series })?;
        out.raw.push(Some((rs as u32, re as u32)));
    } else if out.labels.len() == labels_start {
        return Err(DecodeError::NoLabels { series });
    }
    if out.samples.len() > u32::MAX as usize || out.labels.len() > u32::MAX as usize {
        return Err(err(start, "too many samples or labels in one request").into());
    }
    out.spans
        .push((out.labels.len() as u32, out.samples.len() as u32));
    Ok(true)
}

/// Splits the canonical encoding of a Label (`0x0a n name 0x12 m value`, n and m < 128).
#[inline(always)]
fn fast_label(lab: &[u8]) -> Option<(&[u8], &[u8])> {
    if lab.len() < 4 || lab[0] != 0x0a || lab[1] >= 0x80 {
        return None;
    }
    let n = lab[1] as usize;
    let rest = lab.get(2 + n..)?;
    if rest.len() >= 2 && rest[0] == 0x12 && rest[1] < 0x80 && rest.len() == 2 + rest[1] as usize {
        Some((&lab[2..2 + n], &rest[2..]))
    } else {
        None
    }
}

/// Parses a `Label` in `buf[start..end]` into raw (name, value) bytes; last occurrence wins.
#[inline(always)]
fn parse_label(buf: &[u8], start: usize, end: usize, budget: u32) -> Result<(&[u8], &[u8]), Wire> {
    let mut r = Reader::sub(buf, start, end);
    let mut name: &[u8] = &buf[start..start];
    let mut value: &[u8] = &buf[start..start];
    // A field given again replaces the earlier one, which must still be UTF-8 (as protobuf
    // decoders check every occurrence); the last ones are checked by the caller.
    let replaced = |old: &[u8], at: usize| {
        std::str::from_utf8(old)
            .map(|_| ())
            .map_err(|_| err(at, "label string is not valid UTF-8"))
    };
    let (mut has_name, mut has_value) = (false, false);
    while r.has_more() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, WT_LEN)?;
                if std::mem::replace(&mut has_name, true) {
                    replaced(name, r.pos)?;
                }
                name = r.bytes()?;
            }
            2 => {
                r.expect(wt, WT_LEN)?;
                if std::mem::replace(&mut has_value, true) {
                    replaced(value, r.pos)?;
                }
                value = r.bytes()?;
            }
            _ => r.skip(wt, tag, budget)?,
        }
    }
    Ok((name, value))
}

/// Parses a `Sample` in `buf[start..end]` into (timestamp, value).
#[inline(always)]
fn parse_sample(buf: &[u8], start: usize, end: usize, budget: u32) -> Result<(i64, f64), Wire> {
    // As encoders write it: the value (key 0x09, 8 bytes), then the timestamp (key 0x10).
    if end - start > 10 && buf[start] == 0x09 && buf[start + 9] == 0x10 {
        let mut r = Reader::sub(buf, start + 10, end);
        if let Ok(ts) = r.varint_long() {
            if r.pos == end {
                let v: [u8; 8] = buf[start + 1..start + 9].try_into().expect("BUG: 8 bytes");
                return Ok((ts as i64, f64::from_bits(u64::from_le_bytes(v))));
            }
        }
    }
    let mut r = Reader::sub(buf, start, end);
    let mut ts = 0i64;
    let mut v = 0f64;
    while r.has_more() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, WT_I64)?;
                v = f64::from_bits(r.fixed64()?);
            }
            2 => {
                r.expect(wt, WT_VARINT)?;
                ts = r.varint()? as i64;
            }
            _ => r.skip(wt, tag, budget)?,
        }
    }
    Ok((ts, v))
}

/// Checks an `Exemplar` in `buf[start..end]`: labels well-formed UTF-8, scalar wire types.
fn check_exemplar(buf: &[u8], start: usize, end: usize, series: usize) -> Result<(), DecodeError> {
    let budget = RECURSION_LIMIT - 2;
    let mut r = Reader::sub(buf, start, end);
    while r.has_more() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, WT_LEN)?;
                let (s, e) = r.len_delimited()?;
                let (name, value) = parse_label(buf, s, e, budget - 1)?;
                utf8(buf, name, series)?;
                utf8(buf, value, series)?;
            }
            2 => {
                r.expect(wt, WT_I64)?;
                r.fixed64()?;
            }
            3 => {
                r.expect(wt, WT_VARINT)?;
                r.varint()?;
            }
            _ => r.skip(wt, tag, budget)?,
        }
    }
    Ok(())
}

/// Checks a (minimal) `Histogram`: only field 15 (timestamp) is known, the rest is skipped.
fn check_histogram(r: &mut Reader<'_>) -> Result<(), Wire> {
    while r.has_more() {
        let (tag, wt) = r.key()?;
        if tag == 15 {
            r.expect(wt, WT_VARINT)?;
            r.varint()?;
        } else {
            r.skip(wt, tag, RECURSION_LIMIT - 2)?;
        }
    }
    Ok(())
}

/// Checks a `MetricMetadata`: type varint, string fields 2, 4, 5 valid UTF-8.
fn check_metadata(r: &mut Reader<'_>) -> Result<(), Wire> {
    while r.has_more() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, WT_VARINT)?;
                r.varint()?;
            }
            2 | 4 | 5 => {
                r.expect(wt, WT_LEN)?;
                let at = r.pos;
                if std::str::from_utf8(r.bytes()?).is_err() {
                    return Err(err(at, "metadata string is not valid UTF-8"));
                }
            }
            _ => r.skip(wt, tag, RECURSION_LIMIT - 1)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_keeps_allocations() {
        let mut r = WriteRequestRef::new();
        r.labels.reserve(100);
        r.samples.reserve(50);
        let (lp, sp) = (r.labels.as_ptr() as usize, r.samples.as_ptr() as usize);
        let cap = r.labels.capacity();
        let r2: WriteRequestRef<'static> = r.reuse();
        assert_eq!(r2.labels.as_ptr() as usize, lp);
        assert_eq!(r2.samples.as_ptr() as usize, sp);
        assert_eq!(r2.labels.capacity(), cap);
    }

    #[test]
    fn byte_comparison_matches_slice_ordering() {
        let words: [&[u8]; 9] = [
            b"",
            b"a",
            b"ab",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefgi",
            b"b",
            b"\xff",
            b"abcdefgh\x00",
        ];
        for a in words {
            for b in words {
                assert_eq!(cmp_bytes(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }
}
