//! PromQL tokens: the lexer turns a query into positioned tokens for the parser.

use super::parser::ParseError;

/// A token kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A number literal (already parsed; `Inf`/`NaN` included).
    Number(f64),
    /// A duration literal in milliseconds (`5m`, `1h30m`).
    Duration(i64),
    /// A string literal with escapes resolved.
    Str(String),
    /// An identifier, keyword or metric name (may contain `:`).
    Ident(String),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `@`
    At,
    /// `=`
    Assign,
    /// An operator: `+ - * / % ^ == != < <= > >= =~ !~`.
    Op(&'static str),
    /// End of input.
    Eof,
}

/// A token with its byte offset.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// Kind and payload.
    pub tok: Tok,
    /// Byte offset of the first character.
    pub pos: usize,
}

fn err(pos: usize, msg: impl Into<String>) -> ParseError {
    ParseError {
        msg: msg.into(),
        pos,
    }
}

/// Splits `input` into tokens, ending with [`Tok::Eof`].
pub fn lex(input: &str) -> Result<Vec<Token>, ParseError> {
    let b = input.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let tok = match c {
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'{' => Tok::LBrace,
            b'}' => Tok::RBrace,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b',' => Tok::Comma,
            b'@' => Tok::At,
            b':' if !b.get(i + 1).is_some_and(|&n| is_ident_start(n)) => Tok::Colon,
            b'+' => Tok::Op("+"),
            b'-' => Tok::Op("-"),
            b'*' => Tok::Op("*"),
            b'/' => Tok::Op("/"),
            b'%' => Tok::Op("%"),
            b'^' => Tok::Op("^"),
            b'=' => match b.get(i + 1) {
                Some(b'=') => {
                    i += 1;
                    Tok::Op("==")
                }
                Some(b'~') => {
                    i += 1;
                    Tok::Op("=~")
                }
                _ => Tok::Assign,
            },
            b'!' => match b.get(i + 1) {
                Some(b'=') => {
                    i += 1;
                    Tok::Op("!=")
                }
                Some(b'~') => {
                    i += 1;
                    Tok::Op("!~")
                }
                _ => return Err(err(i, "unexpected character after '!'")),
            },
            b'<' => {
                if b.get(i + 1) == Some(&b'=') {
                    i += 1;
                    Tok::Op("<=")
                } else {
                    Tok::Op("<")
                }
            }
            b'>' => {
                if b.get(i + 1) == Some(&b'=') {
                    i += 1;
                    Tok::Op(">=")
                } else {
                    Tok::Op(">")
                }
            }
            b'"' | b'\'' | b'`' => {
                let (s, end) = lex_string(input, i)?;
                out.push(Token {
                    tok: Tok::Str(s),
                    pos: start,
                });
                i = end;
                continue;
            }
            b'0'..=b'9' | b'.' => {
                let (tok, end) = lex_number(input, i)?;
                out.push(Token { tok, pos: start });
                i = end;
                continue;
            }
            c if is_ident_start(c) || c == b':' => {
                let mut j = i + 1;
                while j < b.len() && (is_ident_char(b[j]) || b[j] == b':') {
                    j += 1;
                }
                let word = &input[i..j];
                out.push(Token {
                    tok: Tok::Ident(word.to_string()),
                    pos: start,
                });
                i = j;
                continue;
            }
            _ => {
                let ch = input[i..].chars().next().unwrap_or('?');
                return Err(err(i, format!("unexpected character: {ch:?}")));
            }
        };
        i += 1;
        out.push(Token { tok, pos: start });
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: b.len(),
    });
    Ok(out)
}

/// True for the first byte of an identifier.
pub fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Parses a Prometheus duration (`1h30m`, `5m`, `100ms`) into milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    promconfig::parse_duration_ms(s)
}

fn lex_number(input: &str, i: usize) -> Result<(Tok, usize), ParseError> {
    let b = input.as_bytes();
    // Duration: digits followed by a unit letter.
    let mut j = i;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    if j > i && j < b.len() && matches!(b[j], b's' | b'm' | b'h' | b'd' | b'w' | b'y') {
        let mut k = j;
        while k < b.len() && (b[k].is_ascii_alphanumeric()) {
            k += 1;
        }
        let text = &input[i..k];
        return match parse_duration(text) {
            Some(ms) => Ok((Tok::Duration(ms), k)),
            None => Err(err(i, format!("bad number or duration syntax: {text:?}"))),
        };
    }
    // Hex.
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x') | Some(b'X')) {
        let mut k = i + 2;
        while k < b.len() && b[k].is_ascii_hexdigit() {
            k += 1;
        }
        let v = i64::from_str_radix(&input[i + 2..k], 16)
            .map_err(|_| err(i, "bad hexadecimal number"))?;
        return Ok((Tok::Number(v as f64), k));
    }
    let mut k = i;
    while k < b.len() && (b[k].is_ascii_digit() || b[k] == b'.') {
        k += 1;
    }
    if k < b.len() && (b[k] == b'e' || b[k] == b'E') {
        let mut m = k + 1;
        if m < b.len() && (b[m] == b'+' || b[m] == b'-') {
            m += 1;
        }
        if m < b.len() && b[m].is_ascii_digit() {
            while m < b.len() && b[m].is_ascii_digit() {
                m += 1;
            }
            k = m;
        }
    }
    if k < b.len() && (is_ident_char(b[k])) {
        return Err(err(
            i,
            format!("bad number or duration syntax: {:?}", &input[i..=k]),
        ));
    }
    let text = &input[i..k];
    // Go's ParseInt with base 0: a leading 0 means octal.
    if text.len() > 1 && text.starts_with('0') && text.bytes().all(|c| c.is_ascii_digit()) {
        if let Ok(v) = i64::from_str_radix(&text[1..], 8) {
            return Ok((Tok::Number(v as f64), k));
        }
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((Tok::Number(v), k)),
        _ => Err(err(i, format!("bad number syntax: {text:?}"))),
    }
}

/// Lexes a quoted string at `i`; returns the unescaped value and the end offset.
fn lex_string(input: &str, i: usize) -> Result<(String, usize), ParseError> {
    let b = input.as_bytes();
    let q = b[i];
    let mut out = String::new();
    let mut j = i + 1;
    if q == b'`' {
        while j < b.len() && b[j] != b'`' {
            j += 1;
        }
        if j >= b.len() {
            return Err(err(i, "unterminated raw string"));
        }
        return Ok((input[i + 1..j].to_string(), j + 1));
    }
    loop {
        let Some(&c) = b.get(j) else {
            return Err(err(i, "unterminated quoted string"));
        };
        if c == q {
            return Ok((out, j + 1));
        }
        if c == b'\n' {
            return Err(err(j, "unterminated quoted string"));
        }
        if c != b'\\' {
            let ch = input[j..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            j += ch.len_utf8();
            continue;
        }
        let Some(&e) = b.get(j + 1) else {
            return Err(err(j, "unterminated quoted string"));
        };
        j += 2;
        match e {
            b'a' => out.push('\x07'),
            b'b' => out.push('\x08'),
            b'f' => out.push('\x0c'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'v' => out.push('\x0b'),
            b'\\' => out.push('\\'),
            b'"' if q == b'"' => out.push('"'),
            b'\'' if q == b'\'' => out.push('\''),
            b'x' | b'u' | b'U' => {
                let n = match e {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = input
                    .get(j..j + n)
                    .ok_or_else(|| err(j, "invalid escape sequence"))?;
                let v = u32::from_str_radix(hex, 16).map_err(|_| err(j, "invalid escape"))?;
                j += n;
                if e == b'x' {
                    // A byte escape: only valid as ASCII here.
                    out.push(char::from_u32(v).ok_or_else(|| err(j, "invalid escape"))?);
                } else {
                    out.push(char::from_u32(v).ok_or_else(|| err(j, "invalid unicode escape"))?);
                }
            }
            b'0'..=b'7' => {
                let oct = input
                    .get(j - 1..j + 2)
                    .ok_or_else(|| err(j, "invalid escape sequence"))?;
                let v = u32::from_str_radix(oct, 8).map_err(|_| err(j, "invalid octal escape"))?;
                j += 2;
                out.push(char::from_u32(v).ok_or_else(|| err(j, "invalid escape"))?);
            }
            _ => return Err(err(j - 2, "unknown escape sequence")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("100ms"), Some(100));
        assert_eq!(parse_duration("1m1h"), None);
        assert_eq!(parse_duration("5"), None);
    }

    #[test]
    fn tokens() {
        let t: Vec<Tok> = lex("rate(x{a=~\"b\\n\"}[5m]) >= 0x1f")
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect();
        assert_eq!(t[0], Tok::Ident("rate".into()));
        assert!(t.contains(&Tok::Str("b\n".into())));
        assert!(t.contains(&Tok::Duration(300_000)));
        assert!(t.contains(&Tok::Op(">=")));
        assert!(t.contains(&Tok::Number(31.0)));
    }
}
