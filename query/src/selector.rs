//! Parser for series selectors as used in `match[]`: `metric{label="value", …}`.

use tsdb::{MatchOp, Matcher};

/// Parses a series selector into matchers; errors are client-facing messages.
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, String> {
    let mut p = Parser {
        s: input.as_bytes(),
        src: input,
        pos: 0,
    };
    let mut matchers = Vec::new();
    p.skip_ws();
    if p.peek().is_some_and(is_name_start) {
        let name = p.ident();
        matchers.push(Matcher::new(MatchOp::Equal, "__name__", name).map_err(|e| e.to_string())?);
    }
    p.skip_ws();
    if p.peek() == Some(b'{') {
        p.pos += 1;
        loop {
            p.skip_ws();
            match p.peek() {
                Some(b'}') => {
                    p.pos += 1;
                    break;
                }
                None => return Err(p.err("unexpected end of input inside braces")),
                _ => {}
            }
            let (name, quoted) = match p.peek() {
                Some(b'"') | Some(b'\'') | Some(b'`') => (p.string()?, true),
                Some(c) if is_name_start(c) => (p.ident().to_string(), false),
                _ => return Err(p.err("expected a label name")),
            };
            p.skip_ws();
            let op = match (p.peek(), p.s.get(p.pos + 1).copied()) {
                (Some(b'='), Some(b'~')) => Some((MatchOp::Regex, 2)),
                (Some(b'!'), Some(b'=')) => Some((MatchOp::NotEqual, 2)),
                (Some(b'!'), Some(b'~')) => Some((MatchOp::NotRegex, 2)),
                (Some(b'='), _) => Some((MatchOp::Equal, 1)),
                _ => None,
            };
            match op {
                Some((op, n)) => {
                    p.pos += n;
                    p.skip_ws();
                    let value = p.string()?;
                    matchers.push(Matcher::new(op, &name, &value).map_err(|e| e.to_string())?);
                }
                // Prometheus 3: a lone quoted string in braces is the metric name.
                None if quoted => {
                    if matchers.iter().any(|m| m.name == "__name__") {
                        return Err(p.err("metric name given twice"));
                    }
                    matchers.push(
                        Matcher::new(MatchOp::Equal, "__name__", &name)
                            .map_err(|e| e.to_string())?,
                    );
                }
                None => return Err(p.err("expected a matching operator")),
            }
            p.skip_ws();
            match p.peek() {
                Some(b',') => p.pos += 1,
                Some(b'}') => {}
                _ => return Err(p.err("expected ',' or '}'")),
            }
        }
    }
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.err("unexpected characters after the selector"));
    }
    if matchers.is_empty() || matchers.iter().all(|m| m.matches_empty()) {
        return Err(format!(
            "parse error: vector selector must contain at least one non-empty matcher: {input:?}"
        ));
    }
    Ok(matchers)
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn err(&self, what: &str) -> String {
        format!(
            "parse error at char {}: {what} in selector {:?}",
            self.pos + 1,
            self.src
        )
    }

    fn ident(&mut self) -> &'a str {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
        {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    fn string(&mut self) -> Result<String, String> {
        let q = self.peek().ok_or_else(|| self.err("expected a string"))?;
        if q != b'"' && q != b'\'' && q != b'`' {
            return Err(self.err("expected a quoted string"));
        }
        self.pos += 1;
        let mut out = String::new();
        let rest = &self.src[self.pos..];
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            if c as u32 == q as u32 {
                self.pos += i + 1;
                return Ok(out);
            }
            if c == '\\' && q != b'`' {
                let (_, e) = chars
                    .next()
                    .ok_or_else(|| self.err("unterminated escape"))?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' | '"' | '\'' => out.push(e),
                    'u' | 'U' | 'x' => {
                        let n = match e {
                            'u' => 4,
                            'U' => 8,
                            _ => 2,
                        };
                        let mut hex = String::new();
                        for _ in 0..n {
                            hex.push(chars.next().ok_or_else(|| self.err("short escape"))?.1);
                        }
                        let v =
                            u32::from_str_radix(&hex, 16).map_err(|_| self.err("bad escape"))?;
                        out.push(char::from_u32(v).ok_or_else(|| self.err("bad code point"))?);
                    }
                    _ => return Err(self.err(&format!("unknown escape sequence '\\{e}'"))),
                }
                continue;
            }
            out.push(c);
        }
        Err(self.err("unterminated string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn show(s: &str) -> Vec<String> {
        parse_selector(s)
            .unwrap()
            .iter()
            .map(|m| format!("{}{:?}{}", m.name, m.op, m.value))
            .collect()
    }

    #[test]
    fn parses_the_usual_shapes() {
        assert_eq!(show("up"), ["__name__Equalup"]);
        assert_eq!(
            show(r#"node_cpu_seconds_total{mode!="idle", cpu=~"1.*",}"#),
            [
                "__name__Equalnode_cpu_seconds_total",
                "modeNotEqualidle",
                "cpuRegex1.*"
            ]
        );
        assert_eq!(
            show(r#"{__name__=~"node_.+",job!~'x\'y'}"#),
            ["__name__Regexnode_.+", "jobNotRegexx'y"]
        );
        assert_eq!(
            show(r#"{"my.metric", a="\u00e9\n"}"#),
            ["__name__Equalmy.metric", "aEqualé\n"]
        );
        assert_eq!(
            show(r#"a{b=~`10\.0\..*`}"#),
            ["__name__Equala", r"bRegex10\.0\..*"]
        );
    }

    #[test]
    fn rejects_bad_selectors() {
        for bad in [
            "",
            "{}",
            r#"{a=""}"#,
            r#"{a=~".*"}"#,
            "up{",
            r#"up{a="b""#,
            r#"up{a}"#,
            r#"up{a="\q"}"#,
            "up x",
            r#"{a=~"("}"#,
            r#"up{"x"}"#,
        ] {
            assert!(parse_selector(bad).is_err(), "{bad:?} should fail");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse_selector(&s);
        }
        #[test]
        fn never_panics_selectorish(s in r#"[a-z_{}=!~"',` \\]{0,30}"#) {
            let _ = parse_selector(&s);
        }
    }
}
