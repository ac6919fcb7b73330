//! The template function table: Go's builtins and Prometheus' template functions.

use std::rc::Rc;

use super::exec::{args_get, Exec, Val};
use crate::gofmt;

impl Exec<'_, '_> {
    pub(crate) fn call(&self, f: &str, a: Vec<Val>) -> Result<Val, String> {
        let want = |n: usize| {
            if a.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "wrong number of args for {f}: want {n} got {}",
                    a.len()
                ))
            }
        };
        let s = |v: &Val| match v {
            Val::Str(s) => Ok(s.clone()),
            o => Err(format!("expected string; found {}", o.print())),
        };
        Ok(match f {
            "not" => {
                want(1)?;
                Val::Bool(!a[0].truth())
            }
            "len" => {
                want(1)?;
                Val::Int(match &a[0] {
                    Val::Str(s) => s.len(),
                    Val::Map(m) => m.len(),
                    Val::Samples(v) => v.len(),
                    Val::Args(l) => l.len(),
                    o => return Err(format!("len of type {}", o.kind())),
                } as i64)
            }
            "index" => {
                let mut v = a.first().cloned().ok_or("wrong number of args for index")?;
                // Negative indexes fail as out of range, as in Go.
                for k in &a[1..] {
                    v = match (&v, k) {
                        (Val::Map(m), Val::Str(k)) => {
                            Val::Str(m.get(k).cloned().unwrap_or_default())
                        }
                        (Val::Samples(s), Val::Int(i)) => Val::Sample(Rc::new(
                            s.get(*i as usize)
                                .cloned()
                                .ok_or_else(|| format!("index out of range: {i}"))?,
                        )),
                        (Val::Args(l), Val::Str(k)) => args_get(l, k),
                        (Val::Str(s), Val::Int(i)) => Val::Int(i64::from(
                            *s.as_bytes()
                                .get(
                                    usize::try_from(*i)
                                        .map_err(|_| format!("index out of range: {i}"))?,
                                )
                                .ok_or_else(|| format!("index out of range: {i}"))?,
                        )),
                        (Val::Map(_) | Val::Args(_), k) => {
                            return Err(format!("value has type {}; should be string", k.kind()))
                        }
                        (o, _) => return Err(format!("can't index item of type {}", o.kind())),
                    };
                }
                v
            }
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
                if a.len() < 2 {
                    return Err("missing argument for comparison".into());
                }
                if f == "eq" {
                    let mut any = false;
                    for b in &a[1..] {
                        any |= compare(&a[0], b)? == std::cmp::Ordering::Equal;
                    }
                    return Ok(Val::Bool(any));
                }
                let o = compare(&a[0], &a[1])?;
                use std::cmp::Ordering::*;
                Val::Bool(match f {
                    "ne" => o != Equal,
                    "lt" => o == Less,
                    "le" => o != Greater,
                    "gt" => o == Greater,
                    _ => o != Less,
                })
            }
            "printf" => {
                let fmt = s(a.first().ok_or("wrong number of args for printf")?)?;
                let args: Vec<gofmt::Arg> = a[1..]
                    .iter()
                    .map(|v| match v {
                        Val::Str(x) => gofmt::Arg::Str(x),
                        Val::Int(i) => gofmt::Arg::Int(*i),
                        Val::Float(x) => gofmt::Arg::Float(*x),
                        Val::Bool(b) => gofmt::Arg::Bool(*b),
                        Val::Nil => gofmt::Arg::Nil,
                        o => gofmt::Arg::Other(o.print()),
                    })
                    .collect();
                Val::Str(gofmt::sprintf(&fmt, &args))
            }
            "print" => Val::Str(sprint(&a, false)),
            "println" => Val::Str(sprint(&a, true)),
            "humanize" | "humanize1024" | "humanizePercentage" | "humanizeDuration"
            | "humanizeTimestamp" => {
                want(1)?;
                let v = a[0].to_f64()?;
                Val::Str(match f {
                    "humanize" => gofmt::humanize(v),
                    "humanize1024" => gofmt::humanize1024(v),
                    "humanizePercentage" => format!("{}%", gofmt::go_g(v * 100.0, Some(4))),
                    "humanizeDuration" => gofmt::humanize_duration(v),
                    _ => gofmt::humanize_timestamp(v),
                })
            }
            "query" => {
                want(1)?;
                let q = s(&a[0])?;
                let run = self.data.query.ok_or("queries are not available here")?;
                Val::Samples(Rc::new(run(&q)?))
            }
            "first" => {
                want(1)?;
                match &a[0] {
                    Val::Samples(v) => Val::Sample(Rc::new(
                        v.first()
                            .cloned()
                            .ok_or("first() called on vector with no elements")?,
                    )),
                    o => return Err(format!("first() of {}", o.kind())),
                }
            }
            "value" | "strvalue" => {
                want(1)?;
                match (&a[0], f) {
                    (Val::Sample(x), "value") => Val::Float(x.value),
                    (Val::Sample(x), _) => {
                        Val::Str(x.labels.get("__value__").cloned().unwrap_or_default())
                    }
                    (o, _) => return Err(format!("{f}() of {}", o.kind())),
                }
            }
            "label" => {
                want(2)?;
                match &a[1] {
                    Val::Sample(x) => {
                        Val::Str(x.labels.get(&s(&a[0])?).cloned().unwrap_or_default())
                    }
                    o => return Err(format!("label() of {}", o.kind())),
                }
            }
            "reReplaceAll" | "match" => {
                let re = regex::Regex::new(&s(a.first().ok_or("missing pattern")?)?)
                    .map_err(|e| e.to_string())?;
                if f == "match" {
                    want(2)?;
                    Val::Bool(re.is_match(&s(&a[1])?))
                } else {
                    want(3)?;
                    Val::Str(re.replace_all(&s(&a[2])?, s(&a[1])?.as_str()).into_owned())
                }
            }
            "html" => Val::Str(html_escape(&sprint(&a, false))),
            "js" => Val::Str(js_escape(&sprint(&a, false))),
            "urlquery" => Val::Str(crate::eval::url_escape(&sprint(&a, false))),
            "graphLink" | "tableLink" => {
                want(1)?;
                let tab = if f == "graphLink" { 0 } else { 1 };
                Val::Str(format!(
                    "/graph?g0.expr={}&g0.tab={tab}",
                    crate::eval::url_escape(&s(&a[0])?)
                ))
            }
            "slice" => slice(a)?,
            "toUpper" | "toLower" | "title" | "safeHtml" | "stripPort" | "stripDomain" => {
                want(1)?;
                let x = match &a[0] {
                    Val::Str(x) => x.clone(),
                    o => o.print(),
                };
                Val::Str(match f {
                    "toUpper" => map_case(&x, true),
                    "toLower" => map_case(&x, false),
                    "title" => title(&x),
                    "stripPort" => split_host_port(&x).map_or(x.clone(), |(h, _)| h.to_string()),
                    "stripDomain" => strip_domain(&x),
                    _ => x,
                })
            }
            "args" => Val::Args(Rc::new(a)),
            "pathPrefix" => Val::Str(path_prefix(&self.data.external_url)),
            "externalURL" => Val::Str(self.data.external_url.clone()),
            "parseDuration" => {
                want(1)?;
                let ms = query::promql::lexer::parse_duration(&s(&a[0])?)
                    .ok_or_else(|| format!("not a valid duration string: {:?}", a[0].print()))?;
                Val::Float(ms as f64 / 1000.0)
            }
            "toTime" => {
                want(1)?;
                Val::Str(gofmt::humanize_timestamp(a[0].to_f64()?))
            }
            "sortByLabel" => {
                want(2)?;
                let l = s(&a[0])?;
                match &a[1] {
                    Val::Samples(v) => {
                        let mut v = (**v).clone();
                        v.sort_by(|x, y| x.labels.get(&l).cmp(&y.labels.get(&l)));
                        Val::Samples(Rc::new(v))
                    }
                    o => return Err(format!("sortByLabel of {}", o.kind())),
                }
            }
            _ => return Err(format!("function {f:?} not defined")),
        })
    }
}

/// (fixed or least number of arguments, variadic) of each function, as Go checks them.
pub(crate) fn arity(f: &str) -> (usize, bool) {
    match f {
        "pathPrefix" | "externalURL" => (0, false),
        "label" | "match" | "sortByLabel" | "ne" | "lt" | "le" | "gt" | "ge" => (2, false),
        "reReplaceAll" => (3, false),
        "index" | "slice" | "eq" | "printf" | "and" | "or" => (1, true),
        "print" | "println" | "html" | "js" | "urlquery" | "args" => (0, true),
        _ => (1, false),
    }
}

/// Whether argument `i` of `f` is a Go `string` parameter (checked before the call).
pub(crate) fn string_param(f: &str, i: usize) -> bool {
    match f {
        "reReplaceAll" => i < 3,
        "match" => i < 2,
        "query" | "title" | "toUpper" | "toLower" | "safeHtml" | "graphLink" | "tableLink"
        | "stripPort" | "stripDomain" | "parseDuration" | "label" | "sortByLabel" | "printf" => {
            i == 0
        }
        _ => false,
    }
}

/// Go's `fmt.Sprint` (`println`: `fmt.Sprintln`): operands joined, with a space between
/// two operands when neither is a string (always, for `println`).
fn sprint(a: &[Val], ln: bool) -> String {
    let mut out = String::new();
    for (i, v) in a.iter().enumerate() {
        let is_str = matches!(v, Val::Str(_));
        let prev_str = i > 0 && matches!(a[i - 1], Val::Str(_));
        if i > 0 && (ln || (!is_str && !prev_str)) {
            out.push(' ');
        }
        out.push_str(&v.print());
    }
    if ln {
        out.push('\n');
    }
    out
}

/// Go's `template.HTMLEscapeString`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 || (!c.is_ascii() && (c.is_control() || c == '\u{FFFD}')) => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `slice x i j`: bytes of a string or elements of a query result.
fn slice(a: Vec<Val>) -> Result<Val, String> {
    let (Some(x), idx) = (a.first(), &a[a.len().min(1)..]) else {
        return Err("wrong number of args for slice: want at least 1 got 0".into());
    };
    let len = match x {
        Val::Str(s) => s.len(),
        Val::Samples(v) => v.len(),
        o => return Err(format!("can't slice item of type {}", o.kind())),
    };
    if idx.len() > 2 {
        return Err(format!("too many slice indexes: {}", idx.len()));
    }
    let mut bounds = [0, len];
    for (k, v) in idx.iter().enumerate() {
        let Val::Int(i) = v else {
            return Err(format!("cannot index slice/array with type {}", v.kind()));
        };
        if *i < 0 || *i as usize > len {
            return Err(format!("index out of range: {i}"));
        }
        bounds[k] = *i as usize;
    }
    if bounds[0] > bounds[1] {
        return Err(format!(
            "invalid slice index: {} > {}",
            bounds[0], bounds[1]
        ));
    }
    Ok(match x {
        Val::Str(s) => {
            Val::Str(String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned())
        }
        Val::Samples(v) => Val::Samples(Rc::new(v[bounds[0]..bounds[1]].to_vec())),
        _ => unreachable!("BUG: slice of a checked kind"),
    })
}

/// Go's `net.SplitHostPort`: `None` where Go returns an error.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    let i = hp.rfind(':')?;
    let (host, j, k) = if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 != i {
            return None;
        }
        (&hp[1..end], 1, end + 1)
    } else {
        let h = &hp[..i];
        if h.contains(':') {
            return None;
        }
        (h, 0, 0)
    };
    if hp[j..].contains('[') || hp[k..].contains(']') {
        return None;
    }
    Some((host, &hp[i + 1..]))
}

/// Prometheus' `stripDomain`: the host's first label; IP addresses and the port kept.
fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or("");
    match (port.is_empty(), host.contains(':')) {
        (true, _) => host.to_string(),
        (false, true) => format!("[{host}]:{port}"),
        (false, false) => format!("{host}:{port}"),
    }
}

/// The path of the external URL (Prometheus' `pathPrefix`).
fn path_prefix(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or(String::new(), |i| {
        rest[i..].split(['?', '#']).next().unwrap_or("").to_string()
    })
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        // Go's isSeparator: ASCII letters, digits and `_` join words; other non-ASCII
        // characters only separate when they are spaces.
        prev_letter = if c.is_ascii() {
            c.is_ascii_alphanumeric() || c == '_'
        } else {
            !c.is_whitespace()
        };
    }
    out
}

/// Go's `strings.ToUpper`/`ToLower`: one character for one (`ß` stays `ß`).
fn map_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mut m: Vec<char> = if upper {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            match (m.len(), upper) {
                (1, _) | (_, false) => m.swap_remove(0),
                _ => c,
            }
        })
        .collect()
}

/// Go template comparison: basic kinds must match (int vs float is an error, as in Go).
fn compare(a: &Val, b: &Val) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    Ok(match (a, b) {
        (Val::Int(x), Val::Int(y)) => x.cmp(y),
        (Val::Float(x), Val::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Less),
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        (Val::Bool(x), Val::Bool(y)) if x == y => Ordering::Equal,
        (Val::Bool(_), Val::Bool(_)) => Ordering::Less,
        _ => return Err("incompatible types for comparison".into()),
    })
}
