//! Splitting a template into text and actions (trim markers, comments) and lexing an
//! action into tokens with their offsets and source text.

use super::{perr, TemplateError};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Word(String),
    Field(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    Num(String),
    Declare,
    Assign,
    Pipe,
    Open,
    Close(Vec<String>),
    Comma,
}

pub(super) enum Item {
    Text(String),
    /// An action's body, its line, and its offset in the text.
    Action(String, usize, usize),
}

/// Splits text and `{{ actions }}`, applying trim markers and dropping comments.
pub(super) fn split(name: &str, text: &str) -> Result<Vec<Item>, TemplateError> {
    let mut items = Vec::new();
    let mut rest = text;
    let mut line = 1;
    let mut trim_next = false;
    while !rest.is_empty() {
        let (mut txt, after) = match rest.find("{{") {
            Some(i) => (&rest[..i], Some(&rest[i + 2..])),
            None => (rest, None),
        };
        if trim_next {
            txt = txt.trim_start();
        }
        let Some(after) = after else {
            items.push(Item::Text(txt.to_string()));
            break;
        };
        let mut a = after;
        if let Some(s) = a.strip_prefix("- ").or_else(|| a.strip_prefix("-\n")) {
            txt = txt.trim_end();
            a = s;
        }
        line += rest[..rest.len() - after.len()].matches('\n').count();
        items.push(Item::Text(txt.to_string()));
        let end = find_close(a).ok_or_else(|| perr(name, line, "unclosed action"))?;
        let mut body = &a[..end];
        trim_next = false;
        if let Some(b) = body.strip_suffix(" -").or_else(|| body.strip_suffix("\n-")) {
            body = b;
            trim_next = true;
        }
        let bt = body.trim();
        if !(bt.starts_with("/*") && bt.ends_with("*/")) {
            items.push(Item::Action(body.to_string(), line, text.len() - a.len()));
        }
        line += a[..end].matches('\n').count();
        rest = &a[end + 2..];
    }
    Ok(items)
}

/// Offset of the `}}` closing an action, skipping quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if b[i.min(b.len() - 1)] == b'\n' {
                        return None;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Identifier bytes: ASCII letters, digits, `_`, and any non-ASCII byte (so a multi-byte
/// character is never split).
fn ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn fields(s: &str, i: &mut usize) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    while *i < b.len() && b[*i] == b'.' {
        let st = *i + 1;
        let mut j = st;
        while j < b.len() && ident_char(b[j]) {
            j += 1;
        }
        if j == st {
            break;
        }
        out.push(s[st..j].to_string());
        *i = j;
    }
    out
}

/// Tokens of an action with (offset in `s`, source text) of each.
pub(super) type Lexed = (Vec<Tok>, Vec<(usize, String)>);

pub(super) fn lex(name: &str, s: &str, line: usize) -> Result<Lexed, TemplateError> {
    let b = s.as_bytes();
    let mut toks = Vec::new();
    let mut spans: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        let mut start = i;
        let from = i;
        let before = toks.len();
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                i += 1;
                toks.push(Tok::Close(fields(s, &mut i)));
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' if b.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            '"' => {
                let st = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let lit = s.get(st..=i.min(b.len() - 1)).unwrap_or("");
                let v: String = serde_json::from_str(lit)
                    .map_err(|_| perr(name, line, format!("bad string syntax: {lit}")))?;
                toks.push(Tok::Str(v));
                i += 1;
            }
            '`' => {
                let st = i + 1;
                let end = s[st..]
                    .find('`')
                    .ok_or_else(|| perr(name, line, "unterminated raw quoted string"))?;
                toks.push(Tok::Str(s[st..st + end].to_string()));
                i = st + end + 1;
            }
            '$' => {
                let st = i;
                i += 1;
                while i < b.len() && ident_char(b[i]) {
                    i += 1;
                }
                let v = s[st..i].to_string();
                let f = fields(s, &mut i);
                // Go places `$x.a` at its first field.
                if !f.is_empty() {
                    start += v.len();
                }
                toks.push(Tok::Var(v, f));
            }
            '.' if b.get(i + 1).is_none_or(|n| !n.is_ascii_digit()) => {
                let f = fields(s, &mut i);
                if f.is_empty() {
                    i += 1;
                }
                // Go places `.A.B` at its second field.
                if f.len() > 1 {
                    start += 1 + f[0].len();
                }
                toks.push(Tok::Field(f));
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let st = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_')
                {
                    if (b[i] == b'e' || b[i] == b'E') && matches!(b.get(i + 1), Some(b'-' | b'+')) {
                        i += 1;
                    }
                    i += 1;
                }
                toks.push(Tok::Num(s[st..i].to_string()));
            }
            _ if ident_char(b[i]) => {
                let st = i;
                while i < b.len() && ident_char(b[i]) {
                    i += 1;
                }
                toks.push(Tok::Word(s[st..i].to_string()));
            }
            _ => return Err(perr(name, line, format!("unexpected {c:?} in command"))),
        }
        if toks.len() > before {
            spans.push((start, s.get(from..i.min(s.len())).unwrap_or("").to_string()));
        }
    }
    Ok((toks, spans))
}

/// Offset of `inner` (a subslice of `outer`) in the text, `outer` being at `base`.
pub(super) fn off(base: usize, outer: &str, inner: &str) -> usize {
    base + (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// Length of the quoted string (`"…"` with escapes, or `` `…` ``) that `s` starts with.
pub(super) fn quoted_len(s: &str) -> usize {
    let b = s.as_bytes();
    let q = b.first().copied().unwrap_or(b'"');
    let mut i = 1;
    while i < b.len() && b[i] != q {
        i += if q == b'"' && b[i] == b'\\' { 2 } else { 1 };
    }
    (i + 1).min(b.len())
}
