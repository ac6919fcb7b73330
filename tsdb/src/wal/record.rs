//! WAL record payloads: series definitions and samples.

use crate::chunkenc::bstream_util::{get_uvarint, get_varint, put_uvarint, put_varint};
use crate::labels::{Label, Labels};

/// Record type of series definitions.
pub const RECORD_SERIES: u8 = 1;
/// Record type of in-order samples.
pub const RECORD_SAMPLES: u8 = 2;
/// Record type of samples stored through the out-of-order window.
pub const RECORD_OOO_SAMPLES: u8 = 3;
/// Record type of tombstones: deleted intervals of head series.
pub const RECORD_TOMBSTONES: u8 = 4;

/// A series definition: its ref and labels.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRecord {
    /// The head's id of the series.
    pub series_ref: u64,
    /// Its labels.
    pub labels: Labels,
}

/// One sample of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleRecord {
    /// The head's id of the series.
    pub series_ref: u64,
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// A decoded WAL record.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// Series definitions.
    Series(Vec<SeriesRecord>),
    /// In-order samples.
    Samples(Vec<SampleRecord>),
    /// Out-of-order samples.
    OooSamples(Vec<SampleRecord>),
    /// Deleted intervals: `(series ref, mint, maxt)`, inclusive.
    Tombstones(Vec<(u64, i64, i64)>),
}

/// Appends one series definition to a Series payload.
pub fn encode_series_refs(series_ref: u64, labels: &[(&str, &str)], buf: &mut Vec<u8>) {
    put_uvarint(buf, series_ref);
    put_uvarint(buf, labels.len() as u64);
    for (n, v) in labels {
        put_uvarint(buf, n.len() as u64);
        buf.extend_from_slice(n.as_bytes());
        put_uvarint(buf, v.len() as u64);
        buf.extend_from_slice(v.as_bytes());
    }
}

/// Appends series definitions to a Series payload.
pub fn encode_series(recs: &[SeriesRecord], buf: &mut Vec<u8>) {
    for r in recs {
        let pairs: Vec<(&str, &str)> = r
            .labels
            .iter()
            .map(|l| (l.name.as_ref(), l.value.as_ref()))
            .collect();
        encode_series_refs(r.series_ref, &pairs, buf);
    }
}

/// Encodes samples: refs and timestamps as deltas to the first sample, values as raw bits.
pub fn encode_samples(recs: &[SampleRecord], buf: &mut Vec<u8>) {
    let Some(first) = recs.first() else { return };
    put_uvarint(buf, first.series_ref);
    put_varint(buf, first.t);
    buf.reserve(recs.len() * 12);
    for r in recs {
        put_varint(buf, r.series_ref.wrapping_sub(first.series_ref) as i64);
        put_varint(buf, r.t.wrapping_sub(first.t));
        buf.extend_from_slice(&r.v.to_bits().to_le_bytes());
    }
}

/// Decodes a record payload of type `typ`; None when malformed.
pub fn decode_record(typ: u8, p: &[u8]) -> Option<Record> {
    let mut pos = 0;
    match typ {
        RECORD_SERIES => {
            let mut out = Vec::new();
            while pos < p.len() {
                let series_ref = get_uvarint(p, &mut pos)?;
                let n = get_uvarint(p, &mut pos)? as usize;
                if n > p.len() {
                    return None;
                }
                let mut labels = Vec::with_capacity(n);
                for _ in 0..n {
                    let name = read_str(p, &mut pos)?;
                    let value = read_str(p, &mut pos)?;
                    if labels
                        .last()
                        .is_some_and(|l: &Label| l.name.as_ref() >= name)
                    {
                        return None;
                    }
                    labels.push(Label::new(name, value));
                }
                out.push(SeriesRecord {
                    series_ref,
                    labels: Labels::from_sorted(labels),
                });
            }
            Some(Record::Series(out))
        }
        RECORD_SAMPLES | RECORD_OOO_SAMPLES => {
            let mut out = Vec::new();
            if !p.is_empty() {
                let base_ref = get_uvarint(p, &mut pos)?;
                let base_t = get_varint(p, &mut pos)?;
                while pos < p.len() {
                    let dr = get_varint(p, &mut pos)?;
                    let dt = get_varint(p, &mut pos)?;
                    let v = p.get(pos..pos + 8)?;
                    pos += 8;
                    out.push(SampleRecord {
                        series_ref: base_ref.wrapping_add(dr as u64),
                        t: base_t.wrapping_add(dt),
                        v: f64::from_bits(u64::from_le_bytes(v.try_into().ok()?)),
                    });
                }
            }
            Some(if typ == RECORD_SAMPLES {
                Record::Samples(out)
            } else {
                Record::OooSamples(out)
            })
        }
        RECORD_TOMBSTONES => crate::tombstones::decode_entries(p).map(Record::Tombstones),
        _ => None,
    }
}

fn read_str<'a>(p: &'a [u8], pos: &mut usize) -> Option<&'a str> {
    let n = get_uvarint(p, pos)? as usize;
    let b = p.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    std::str::from_utf8(b).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = vec![
            SeriesRecord {
                series_ref: 3,
                labels: Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
            },
            SeriesRecord {
                series_ref: 9,
                labels: Labels::from_pairs(&[("x", "")]),
            },
        ];
        let mut b = Vec::new();
        encode_series(&s, &mut b);
        assert_eq!(decode_record(RECORD_SERIES, &b), Some(Record::Series(s)));
        let smp = vec![
            SampleRecord {
                series_ref: 10,
                t: 1000,
                v: 1.5,
            },
            SampleRecord {
                series_ref: 2,
                t: 900,
                v: f64::INFINITY,
            },
        ];
        let mut b = Vec::new();
        encode_samples(&smp, &mut b);
        assert_eq!(
            decode_record(RECORD_SAMPLES, &b),
            Some(Record::Samples(smp.clone()))
        );
        assert_eq!(
            decode_record(RECORD_OOO_SAMPLES, &b),
            Some(Record::OooSamples(smp))
        );
        for n in 0..b.len() {
            let _ = decode_record(RECORD_SAMPLES, &b[..n]);
        }
        assert_eq!(decode_record(9, &b), None);
        let mut b = Vec::new();
        crate::tombstones::encode_entries(&[(3, -5, 7), (4, i64::MIN, i64::MAX)], &mut b);
        assert_eq!(
            decode_record(RECORD_TOMBSTONES, &b),
            Some(Record::Tombstones(vec![
                (3, -5, 7),
                (4, i64::MIN, i64::MAX)
            ]))
        );
        assert_eq!(decode_record(RECORD_TOMBSTONES, &b[..b.len() - 1]), None);
    }
}
