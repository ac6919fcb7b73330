//! Parsers for the Prometheus text format 0.0.4 (as the Go `expfmt.TextParser` accepts it)
//! and OpenMetrics 1.0 text (`# EOF`, `# UNIT`, float-second timestamps, exemplars).

use std::collections::HashMap;

use crate::model::MetricType;
use crate::Error;

/// One parsed sample.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedSample {
    /// Suffix after the family name (`_bucket`, `_sum`, `_count`, or empty).
    pub suffix: String,
    /// Label pairs in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// The optional timestamp in milliseconds.
    pub timestamp: Option<i64>,
}

/// One parsed metric family.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedFamily {
    /// The family name.
    pub name: String,
    /// The HELP text, unescaped, if given.
    pub help: Option<String>,
    /// The type (`Untyped` when no TYPE line).
    pub kind: MetricType,
    /// The samples in input order.
    pub samples: Vec<ParsedSample>,
}

/// Parses text 0.0.4 into families in first-seen order.
pub fn parse(text: &str) -> Result<Vec<ParsedFamily>, Error> {
    parse_inner(text, false)
}

/// Parses OpenMetrics 1.0 text into families in first-seen order: `# EOF` must end the
/// input, timestamps are seconds (returned in ms), exemplars are skipped, and `info`,
/// `stateset` (as gauges) and `gaugehistogram` (as histogram) families are accepted.
pub fn parse_openmetrics(text: &str) -> Result<Vec<ParsedFamily>, Error> {
    parse_inner(text, true)
}

fn parse_inner(text: &str, om: bool) -> Result<Vec<ParsedFamily>, Error> {
    let mut fams: Vec<ParsedFamily> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut eof = false;
    for (i, line) in text.lines().enumerate() {
        // Carriage returns end a line alike whether a newline follows or the text ends
        // (`lines` strips one only before a newline).
        let line = line.trim_end_matches('\r');
        let lineno = i + 1;
        let err = |msg: &str| Error::Syntax {
            line: lineno,
            msg: msg.to_string(),
        };
        if eof {
            return Err(err("unexpected data after # EOF"));
        }
        if om && line == "# EOF" {
            eof = true;
            continue;
        }
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start_matches([' ', '\t']);
            let mut words = rest.splitn(3, [' ', '\t']);
            let kw = words.next().unwrap_or("");
            if kw != "HELP" && kw != "TYPE" {
                if om && kw != "UNIT" {
                    return Err(err(
                        "invalid comment (OpenMetrics allows HELP, TYPE, UNIT, EOF)",
                    ));
                }
                continue;
            }
            let name = words.next().unwrap_or("");
            if !valid_metric_name(name) {
                return Err(err("invalid metric name in comment"));
            }
            let arg = words.next().unwrap_or("");
            let idx = family_index(&mut fams, &mut by_name, name);
            let f = &mut fams[idx];
            if kw == "HELP" {
                if f.help.is_some() {
                    return Err(err(&format!("second HELP line for metric name {name:?}")));
                }
                f.help = Some(unescape_help(arg));
            } else {
                if f.kind != MetricType::Untyped || !f.samples.is_empty() {
                    return Err(err(&format!(
                        "second TYPE line for metric name {name:?}, or TYPE reported after samples"
                    )));
                }
                let t = arg.trim();
                f.kind = match t {
                    "info" | "stateset" if om => Some(MetricType::Gauge),
                    "gaugehistogram" if om => Some(MetricType::Histogram),
                    "untyped" if om => None,
                    _ => MetricType::from_text(t),
                }
                .ok_or_else(|| err(&format!("unknown metric type {t:?}")))?;
            }
            continue;
        }
        let sample = parse_sample(line, om).map_err(|m| err(&m))?;
        let (fname, suffix) = family_of(&fams, &by_name, sample.0, om);
        let idx = family_index(&mut fams, &mut by_name, fname);
        fams[idx].samples.push(ParsedSample {
            suffix: suffix.to_string(),
            labels: sample.1,
            value: sample.2,
            timestamp: sample.3,
        });
    }
    if om && !eof {
        return Err(Error::Syntax {
            line: text.lines().count(),
            msg: "missing # EOF".into(),
        });
    }
    Ok(fams)
}

fn family_index(
    fams: &mut Vec<ParsedFamily>,
    by_name: &mut HashMap<String, usize>,
    name: &str,
) -> usize {
    *by_name.entry(name.to_string()).or_insert_with(|| {
        fams.push(ParsedFamily {
            name: name.to_string(),
            help: None,
            kind: MetricType::Untyped,
            samples: Vec::new(),
        });
        fams.len() - 1
    })
}

/// The family a sample name belongs to: `x_bucket` of histogram `x` is `(x, "_bucket")`;
/// in OpenMetrics also `_total`, `_created`, `_info`, `_gcount`, `_gsum` of a declared family.
fn family_of<'a>(
    fams: &[ParsedFamily],
    by_name: &HashMap<String, usize>,
    name: &'a str,
    om: bool,
) -> (&'a str, &'a str) {
    if om {
        for suffix in [
            "_total", "_created", "_info", "_gcount", "_gsum", "_bucket", "_sum", "_count",
        ] {
            if let Some(base) = name.strip_suffix(suffix) {
                if by_name.contains_key(base) {
                    return (base, &name[base.len()..]);
                }
            }
        }
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(&i) = by_name.get(base) {
                let k = fams[i].kind;
                if k == MetricType::Histogram || (k == MetricType::Summary && suffix != "_bucket") {
                    return (base, &name[base.len()..]);
                }
            }
        }
    }
    (name, "")
}

fn valid_metric_name(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

type RawSample<'a> = (&'a str, Vec<(String, String)>, f64, Option<i64>);

fn parse_sample(line: &str, om: bool) -> Result<RawSample<'_>, String> {
    let end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..end];
    if !valid_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            rest = rest.trim_start_matches([' ', '\t']);
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = rest.find('=').ok_or("expected '=' after label name")?;
            let lname = rest[..eq].trim();
            if !valid_label_name(lname) {
                return Err(format!("invalid label name {lname:?}"));
            }
            if labels.iter().any(|(n, _): &(String, String)| n == lname) {
                return Err(format!("duplicate label name {lname:?}"));
            }
            rest = rest[eq + 1..].trim_start_matches([' ', '\t']);
            let r = rest
                .strip_prefix('"')
                .ok_or("expected '\"' to start a label value")?;
            let mut value = String::new();
            let mut chars = r.char_indices();
            let mut closed = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        closed = Some(i);
                        break;
                    }
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        _ => return Err("invalid escape sequence in label value".into()),
                    },
                    c => value.push(c),
                }
            }
            let close = closed.ok_or("unterminated label value")?;
            labels.push((lname.to_string(), value));
            rest = r[close + 1..].trim_start_matches([' ', '\t']);
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            } else if !rest.starts_with('}') {
                return Err("expected ',' or '}' after label value".into());
            }
        }
    }
    if om {
        // An exemplar follows " # " after the value (and timestamp).
        if let Some(i) = rest.find(" # ") {
            rest = &rest[..i];
        }
    }
    let mut fields = rest.split_ascii_whitespace();
    let v = fields.next().ok_or("missing value")?;
    let value = parse_value(v).ok_or_else(|| format!("invalid value {v:?}"))?;
    let timestamp = match fields.next() {
        Some(t) if om => Some(
            t.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite())
                .map(|s| (s * 1000.0).round() as i64)
                .ok_or_else(|| format!("invalid timestamp {t:?}"))?,
        ),
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("invalid timestamp {t:?}"))?,
        ),
        None => None,
    };
    if fields.next().is_some() {
        return Err("unexpected text after timestamp".into());
    }
    Ok((name, labels, value, timestamp))
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok().filter(|v: &f64| v.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_families() {
        let text = "# HELP a_total The A.\\nSecond line \\\\ x\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\\n\\\\\"} 3 1000\na_total 1e+06\n\
# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\nplain NaN\n";
        let f = parse(text).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].help.as_deref(), Some("The A.\nSecond line \\ x"));
        assert_eq!(f[0].kind, MetricType::Counter);
        assert_eq!(
            f[0].samples[0].labels,
            vec![("x".into(), "1".into()), ("y".into(), "q\"\n\\".into())]
        );
        assert_eq!(f[0].samples[0].timestamp, Some(1000));
        assert_eq!(f[0].samples[1].value, 1e6);
        assert_eq!(f[1].samples.len(), 4);
        assert_eq!(f[1].samples[2].suffix, "_sum");
        assert!(f[2].samples[0].value.is_nan());
        assert_eq!(f[2].kind, MetricType::Untyped);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "a{x=1} 1",
            "a{x=\"1\" 1",
            "a 1 2 3",
            "a x",
            "# TYPE a bogus",
            "# HELP a x\n# HELP a y",
            "a 1\n# TYPE a gauge",
            "1a 1",
            "a{x=\"1\",x=\"2\"} 1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should fail");
        }
    }
}
