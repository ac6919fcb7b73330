//! Series descriptions (`name{l="v"}`), value sequences (`0+10x5 _ stale`), numbers,
//! durations and quoted strings of the PromQL test scripts: a small parser of its own, so
//! that the runner does not depend on the engine's PromQL parser.

use std::sync::OnceLock;

use regex::Regex;
use tsdb::Labels;

/// One item of a value sequence.
#[derive(Clone, Debug)]
pub enum SeqValue {
    /// `_`: no sample at this position.
    Omitted,
    /// A float (staleness markers included).
    Float(f64),
    /// A native-histogram literal `{{…}}` (kept as text; not supported by the engine).
    Histogram(String),
}

/// Parses a Prometheus duration (`0`, `5m`, `1h30m`, `10s53ms`, `1y`…) into ms.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"^(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$",
        )
        .unwrap()
    });
    let c = re
        .captures(s)
        .ok_or_else(|| format!("invalid duration {s:?}"))?;
    const UNITS: [i64; 7] = [
        365 * 86_400_000,
        7 * 86_400_000,
        86_400_000,
        3_600_000,
        60_000,
        1000,
        1,
    ];
    let mut ms: i64 = 0;
    for (i, unit) in UNITS.iter().enumerate() {
        if let Some(m) = c.get(i + 1) {
            let n: i64 = m
                .as_str()
                .parse()
                .map_err(|_| format!("invalid duration {s:?}"))?;
            ms = n
                .checked_mul(*unit)
                .and_then(|x| x.checked_add(ms))
                .ok_or_else(|| format!("duration {s:?} overflows"))?;
        }
    }
    Ok(ms)
}

/// A duration with an optional sign (start-timestamp lines only).
fn parse_signed_duration(s: &str) -> Result<i64, String> {
    match s.strip_prefix('-') {
        Some(rest) => parse_duration(rest).map(|d| -d),
        None => parse_duration(s.strip_prefix('+').unwrap_or(s)),
    }
}

/// A float in a value sequence: decimal, exponent, `Inf`, `NaN`, optional sign (no hex:
/// `0x59` in a sequence means "0 repeated").
fn parse_seq_float(s: &str) -> Result<f64, String> {
    let body = s.trim_start_matches(['+', '-']);
    let ok = !body.is_empty()
        && s.len() - body.len() <= 1
        && (body.eq_ignore_ascii_case("inf")
            || body.eq_ignore_ascii_case("nan")
            || body
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')));
    if !ok {
        return Err(format!("invalid number {s:?}"));
    }
    s.parse::<f64>()
        .map_err(|_| format!("invalid number {s:?}"))
}

/// A number as Go's `strconv.ParseInt(s, 0, 64)` then `ParseFloat` read it (scalar lines).
pub fn parse_number(s: &str) -> Result<f64, String> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        None
    };
    if let Some(i) = int {
        let f = i as f64;
        return Ok(if neg { -f } else { f });
    }
    parse_seq_float(s)
}

/// Splits `a+b` / `a-b` into the two numbers (the sign of `b` kept).
fn split_increment<T>(s: &str, parse: &dyn Fn(&str) -> Result<T, String>) -> Option<(T, T)> {
    for (i, c) in s.char_indices().skip(1) {
        if c == '+' || c == '-' {
            if let (Ok(a), Ok(b)) = (parse(&s[..i]), parse(&s[i..])) {
                return Some((a, b));
            }
        }
    }
    None
}

/// Splits `<base>x<n>`.
fn split_times(s: &str) -> Option<(&str, usize)> {
    let i = s.rfind('x')?;
    let n = &s[i + 1..];
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&s[..i], n.parse().ok()?))
}

/// Splits the value part of a series line into items; `{{…}}` literals stay whole.
fn tokenize_values(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_hist = false;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !in_hist && b[i..].starts_with(b"{{") {
            in_hist = true;
            cur.push_str("{{");
            i += 2;
            continue;
        }
        if in_hist && b[i..].starts_with(b"}}") {
            in_hist = false;
            cur.push_str("}}");
            i += 2;
            continue;
        }
        let c = s[i..].chars().next().unwrap();
        if !in_hist && c.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
        i += c.len_utf8();
    }
    if in_hist {
        return Err(format!("unterminated histogram literal in {s:?}"));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// Expands the value items of a series line (FORMAT.md §3).
pub fn parse_values(s: &str) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    for tok in tokenize_values(s)? {
        if tok == "_" {
            out.push(SeqValue::Omitted);
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("invalid item {tok:?}"))?;
            out.extend(std::iter::repeat_n(SeqValue::Omitted, n));
            continue;
        }
        if tok == "stale" {
            out.push(SeqValue::Float(f64::from_bits(
                query::promql::STALE_NAN_BITS,
            )));
            continue;
        }
        if tok.starts_with("{{") {
            // `{{h}}`, `{{h}}xn`, `{{h}}+{{d}}xn`: only the count matters here.
            let (base, n) = match split_times(&tok) {
                Some((b, n)) if b.ends_with("}}") => (b, n + 1),
                _ => (tok.as_str(), 1),
            };
            if !base.ends_with("}}") {
                return Err(format!("invalid histogram item {tok:?}"));
            }
            out.extend(std::iter::repeat_n(SeqValue::Histogram(tok.clone()), n));
            continue;
        }
        if let Ok(v) = parse_seq_float(&tok) {
            out.push(SeqValue::Float(v));
            continue;
        }
        let (base, n) = split_times(&tok).ok_or_else(|| format!("invalid item {tok:?}"))?;
        if let Ok(v) = parse_seq_float(base) {
            out.extend(std::iter::repeat_n(SeqValue::Float(v), n + 1));
            continue;
        }
        let (a, d) = split_increment(base, &parse_seq_float)
            .ok_or_else(|| format!("invalid item {tok:?}"))?;
        // Prometheus adds the increment step by step (`cur += d`), so do the same.
        let mut cur = a;
        for _ in 0..=n {
            out.push(SeqValue::Float(cur));
            cur += d;
        }
    }
    Ok(out)
}

/// Checks the items of a start-timestamp (`@st`) line; only their syntax matters here.
fn check_start_ts_values(s: &str) -> Result<(), String> {
    for tok in s.split_whitespace() {
        if tok == "_" {
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            n.parse::<usize>()
                .map_err(|_| format!("invalid item {tok:?}"))?;
            continue;
        }
        let base = split_times(tok).map(|(b, _)| b).unwrap_or(tok);
        if parse_signed_duration(base).is_ok()
            || split_increment(base, &parse_signed_duration).is_some()
        {
            continue;
        }
        return Err(format!("invalid start-timestamp item {tok:?}"));
    }
    Ok(())
}

/// Go's `strconv.Unquote` (also allowing multi-character single-quoted strings, as PromQL does).
/// Returns the value and the rest of the input after the closing quote.
pub fn unquote_prefix(s: &str) -> Result<(String, &str), String> {
    let q = s.chars().next().ok_or("expected a string")?;
    if q == '`' {
        let end = s[1..].find('`').ok_or("unterminated raw string")?;
        return Ok((s[1..1 + end].to_string(), &s[end + 2..]));
    }
    if q != '"' && q != '\'' {
        return Err(format!("expected a quoted string at {s:?}"));
    }
    let mut out = String::new();
    let mut it = s[1..].char_indices();
    while let Some((i, c)) = it.next() {
        if c == q {
            return Ok((out, &s[1 + i + 1..]));
        }
        if c == '\n' {
            break;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let (_, e) = it.next().ok_or("unterminated escape")?;
        let mut hex = |n: usize| -> Result<u32, String> {
            let mut v = 0u32;
            for _ in 0..n {
                let (_, h) = it.next().ok_or("short escape")?;
                v = v * 16 + h.to_digit(16).ok_or("bad hex escape")?;
            }
            Ok(v)
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' | '\'' | '"' => out.push(e),
            'x' => {
                // A byte; only ASCII bytes map to one char (enough for the scripts).
                let v = hex(2)?;
                out.push(char::from_u32(v).ok_or("bad \\x escape")?);
            }
            'u' => out.push(char::from_u32(hex(4)?).ok_or("bad \\u escape")?),
            'U' => out.push(char::from_u32(hex(8)?).ok_or("bad \\U escape")?),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap();
                for _ in 0..2 {
                    let (_, d) = it.next().ok_or("short octal escape")?;
                    v = v * 8 + d.to_digit(8).ok_or("bad octal escape")?;
                }
                out.push(char::from_u32(v).ok_or("bad octal escape")?);
            }
            _ => return Err(format!("unknown escape \\{e}")),
        }
    }
    Err(format!("unterminated string {s:?}"))
}

fn is_ident_start(c: char, metric: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (metric && c == ':')
}

fn ident_len(s: &str, metric: bool) -> usize {
    let mut n = 0;
    for (i, c) in s.char_indices() {
        let ok = if i == 0 {
            is_ident_start(c, metric)
        } else {
            is_ident_start(c, metric) || c.is_ascii_digit()
        };
        if !ok {
            break;
        }
        n = i + c.len_utf8();
    }
    n
}

/// Parses the series description at the start of `s`: `name`, `name{l="v",…}` or
/// `{__name__="name",…}` (quoted names allowed). Returns the labels (empty values dropped),
/// and the rest of the line.
pub fn parse_series_desc(s: &str) -> Result<(Labels, &str), String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let n = ident_len(s, true);
    if n > 0 {
        pairs.push(("__name__".into(), s[..n].to_string()));
    }
    let mut rest = &s[n..];
    if let Some(r) = rest.strip_prefix('{') {
        rest = r.trim_start();
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let name = if rest.starts_with(['"', '\'', '`']) {
                let (v, r) = unquote_prefix(rest)?;
                rest = r;
                v
            } else {
                let k = ident_len(rest, false);
                if k == 0 {
                    return Err(format!("expected a label name at {rest:?}"));
                }
                let v = rest[..k].to_string();
                rest = &rest[k..];
                v
            };
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('=') {
                let (v, r) = unquote_prefix(r.trim_start())?;
                pairs.push((name, v));
                rest = r.trim_start();
            } else {
                // A bare quoted string is the metric name (`{"my.metric", a="b"}`).
                pairs.push(("__name__".into(), name));
            }
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            } else if !rest.starts_with('}') {
                return Err(format!("expected ',' or '}}' at {rest:?}"));
            }
        }
    } else if n == 0 {
        return Err(format!("expected a series description at {s:?}"));
    }
    pairs.retain(|(_, v)| !v.is_empty());
    Ok((Labels::from_pairs(&pairs), rest))
}

/// A series line: description and values. `None` for a start-timestamp (`…@st`) line.
pub fn parse_series_line(s: &str) -> Result<Option<(Labels, Vec<SeqValue>)>, String> {
    let (labels, rest) = parse_series_desc(s)?;
    if let Some(r) = rest.strip_prefix("@st") {
        check_start_ts_values(r)?;
        return Ok(None);
    }
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err(format!("unexpected {rest:?} after series description"));
    }
    Ok(Some((labels, parse_values(rest)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(s: &str) -> Vec<Option<f64>> {
        parse_values(s)
            .unwrap()
            .into_iter()
            .map(|v| match v {
                SeqValue::Float(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn value_items() {
        assert_eq!(
            floats("1-1x3"),
            vec![Some(1.0), Some(0.0), Some(-1.0), Some(-2.0)]
        );
        assert_eq!(
            floats("-2+1x4"),
            vec![Some(-2.0), Some(-1.0), Some(0.0), Some(1.0), Some(2.0)]
        );
        assert_eq!(
            floats("0x2 _x2 5"),
            vec![Some(0.0); 3]
                .into_iter()
                .chain([None, None, Some(5.0)])
                .collect::<Vec<_>>()
        );
        assert_eq!(floats("1e3+1e2x1"), vec![Some(1000.0), Some(1100.0)]);
        assert_eq!(
            floats("-Inf +Inf"),
            vec![Some(f64::NEG_INFINITY), Some(f64::INFINITY)]
        );
        assert!(query::promql::is_stale_nan(floats("stale")[0].unwrap()));
        assert_eq!(
            parse_values("{{schema:0 buckets:[1 2]}}x2 1")
                .unwrap()
                .len(),
            4
        );
        assert_eq!(parse_number("0x10").unwrap(), 16.0);
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("10s53ms").unwrap(), 10_053);
    }

    #[test]
    fn series_descriptions() {
        let (l, rest) = parse_series_desc(r#"m{a="x\"y", b='z', c=`w\n`} 1"#).unwrap();
        assert_eq!(l.get("__name__"), Some("m"));
        assert_eq!(l.get("a"), Some("x\"y"));
        assert_eq!(l.get("b"), Some("z"));
        assert_eq!(l.get("c"), Some("w\\n"));
        assert_eq!(rest, " 1");
        let (l, _) = parse_series_desc(r#"{__name__="n", "odd.name"="v",}"#).unwrap();
        assert_eq!(l.get("__name__"), Some("n"));
        assert_eq!(l.get("odd.name"), Some("v"));
    }
}
