//! PromQL parser: a precedence-climbing parser over the lexer's tokens, with Prometheus'
//! type checks (so type errors are parse errors, as in Prometheus).

use tsdb::{MatchOp, Matcher};

use super::ast::{AggOp, At, BinOp, Card, Expr, ValueType, VectorMatching, VectorSelector};
use super::lexer::{lex, Tok, Token};

mod calls;

/// A syntax or type error with its byte position.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{msg}")]
pub struct ParseError {
    /// Message, Prometheus style (`line:col: parse error: …` once returned by [`parse`]).
    pub msg: String,
    /// Byte offset of the error in the input.
    pub pos: usize,
}

/// The lexer error Prometheus gives at the end of input left inside `(` or `{`, if any.
fn unclosed_at_eof(toks: &[Token]) -> Option<&'static str> {
    let (mut parens, mut braces) = (0i32, 0i32);
    for t in toks {
        match t.tok {
            Tok::LParen => parens += 1,
            Tok::RParen => parens -= 1,
            Tok::LBrace => braces += 1,
            Tok::RBrace => braces -= 1,
            _ => {}
        }
    }
    if braces > 0 {
        Some("unexpected end of input inside braces")
    } else if parens > 0 {
        Some("unclosed left parenthesis")
    } else {
        None
    }
}

/// Parses `input` into a type-checked expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let run = || -> Result<Expr, ParseError> {
        let toks = lex(input)?;
        let unclosed = unclosed_at_eof(&toks);
        let mut p = Parser {
            toks,
            i: 0,
            depth: 0,
            empty_selector_ok: false,
        };
        if p.peek() == &Tok::Eof {
            return Err(p.err("no expression found in input"));
        }
        // Prometheus' lexer reports an unclosed paren or brace when it reaches the end.
        let e = p.expr(0).map_err(|e| match unclosed {
            Some(msg) if e.pos >= input.trim_end().len() || e.msg.contains("end of input") => {
                ParseError {
                    msg: msg.into(),
                    pos: input.len(),
                }
            }
            _ => e,
        })?;
        if p.peek() != &Tok::Eof {
            return Err(p.err(&format!("unexpected {}", describe(p.peek()))));
        }
        Ok(e)
    };
    run().map_err(|e| {
        let before = &input[..e.pos.min(input.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        ParseError {
            msg: format!("{line}:{col}: parse error: {}", e.msg),
            pos: e.pos,
        }
    })
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Number(_) => "number".into(),
        Tok::Duration(_) => "duration".into(),
        Tok::Str(_) => "string".into(),
        Tok::Ident(s) => format!("identifier {s:?}"),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::LBrace => "\"{\"".into(),
        Tok::RBrace => "\"}\"".into(),
        Tok::LBracket => "\"[\"".into(),
        Tok::RBracket => "\"]\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Colon => "\":\"".into(),
        Tok::At => "\"@\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Op(o) => format!("operator {o:?}"),
        Tok::Eof => "end of input".into(),
    }
}

/// Durations must fit Go's nanosecond `time.Duration`, as in Prometheus.
const MAX_DURATION_MS: i64 = i64::MAX / 1_000_000;

struct Parser {
    toks: Vec<Token>,
    i: usize,
    /// Depth of the expression tree being built (nested expressions, operator chains,
    /// postfix wrappers); bounded so that neither parsing nor evaluation overflows a stack.
    depth: usize,
    /// The next selector may match the empty string everywhere (the label selector of
    /// `info()`, e.g. `{data=~".*"}`); cleared by the selector.
    empty_selector_ok: bool,
}

/// Deepest expression tree accepted: far beyond hand-written queries, well within the
/// stack of a query thread.
pub const MAX_DEPTH: usize = 256;

fn binop_of(t: &Tok) -> Option<BinOp> {
    Some(match t {
        Tok::Op(o) => match *o {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Mod,
            "^" => BinOp::Pow,
            "==" => BinOp::Eql,
            "!=" => BinOp::Neq,
            ">" => BinOp::Gtr,
            "<" => BinOp::Lss,
            ">=" => BinOp::Gte,
            "<=" => BinOp::Lte,
            _ => return None,
        },
        Tok::Ident(s) => match s.to_ascii_lowercase().as_str() {
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "unless" => BinOp::Unless,
            "atan2" => BinOp::Atan2,
            _ => return None,
        },
        _ => return None,
    })
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

/// Strips parentheses.
fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(i) => unparen(i),
        e => e,
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }
    fn pos(&self) -> usize {
        self.toks[self.i].pos
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.i].tok.clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn err(&self, msg: &str) -> ParseError {
        ParseError {
            msg: msg.to_string(),
            pos: self.pos(),
        }
    }
    fn err_at(&self, pos: usize, msg: &str) -> ParseError {
        ParseError {
            msg: msg.to_string(),
            pos,
        }
    }
    fn expect(&mut self, t: Tok, ctx: &str) -> Result<(), ParseError> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            Err(self.err(&format!(
                "unexpected {} in {ctx}, expected {}",
                describe(self.peek()),
                describe(&t)
            )))
        }
    }

    /// Parses a binary expression whose operators bind at least as tightly as `min`.
    fn expr(&mut self, min: u8) -> Result<Expr, ParseError> {
        let base = self.depth;
        self.deeper()?;
        let r = self.expr_inner(min);
        self.depth = base;
        r
    }

    /// One level deeper in the expression tree; an error beyond [`MAX_DEPTH`].
    fn deeper(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(&format!("expression nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn expr_inner(&mut self, min: u8) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        while let Some(op) = binop_of(self.peek()) {
            let prec = op.precedence();
            if prec < min {
                break;
            }
            let op_pos = self.pos();
            self.next();
            let mut return_bool = false;
            if is_kw(self.peek(), "bool") {
                self.next();
                return_bool = true;
            }
            let mut matching = VectorMatching {
                card: if op.is_set() {
                    Card::ManyToMany
                } else {
                    Card::OneToOne
                },
                on: false,
                labels: vec![],
                include: vec![],
            };
            let mut explicit_matching = false;
            if is_kw(self.peek(), "on") || is_kw(self.peek(), "ignoring") {
                matching.on = is_kw(self.peek(), "on");
                self.next();
                matching.labels = self.label_list()?;
                explicit_matching = true;
                if is_kw(self.peek(), "group_left") || is_kw(self.peek(), "group_right") {
                    let left = is_kw(self.peek(), "group_left");
                    let gpos = self.pos();
                    self.next();
                    if op.is_set() {
                        return Err(self.err_at(
                            gpos,
                            &format!("no grouping allowed for \"{}\" operation", op.name()),
                        ));
                    }
                    matching.card = if left {
                        Card::ManyToOne
                    } else {
                        Card::OneToMany
                    };
                    if *self.peek() == Tok::LParen {
                        matching.include = self.label_list()?;
                    }
                }
            }
            let next_min = if op == BinOp::Pow { prec } else { prec + 1 };
            self.deeper()?;
            let rhs = self.expr(next_min)?;
            lhs = self.binary(
                op,
                lhs,
                rhs,
                matching,
                explicit_matching,
                return_bool,
                op_pos,
            )?;
        }
        Ok(lhs)
    }

    #[allow(clippy::too_many_arguments)]
    fn binary(
        &self,
        op: BinOp,
        lhs: Expr,
        rhs: Expr,
        matching: VectorMatching,
        explicit: bool,
        return_bool: bool,
        pos: usize,
    ) -> Result<Expr, ParseError> {
        let (lt, rt) = (lhs.value_type(), rhs.value_type());
        for t in [lt, rt] {
            if t != ValueType::Scalar && t != ValueType::Vector {
                return Err(self.err_at(
                    pos,
                    "binary expression must contain only scalar and instant vector types",
                ));
            }
        }
        if return_bool && !op.is_comparison() {
            return Err(self.err_at(
                pos,
                "bool modifier can only be used on comparison operators",
            ));
        }
        if op.is_comparison() && !return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar
        {
            return Err(self.err_at(pos, "comparisons between scalars must use BOOL modifier"));
        }
        let both_vec = lt == ValueType::Vector && rt == ValueType::Vector;
        if op.is_set() && !both_vec {
            return Err(self.err_at(
                pos,
                &format!(
                    "set operator \"{}\" not allowed in binary scalar expression",
                    op.name()
                ),
            ));
        }
        if explicit && !both_vec {
            return Err(self.err_at(pos, "vector matching only allowed between instant vectors"));
        }
        if matching.card != Card::OneToOne && matching.card != Card::ManyToMany {
            for l in &matching.include {
                if matching.on && matching.labels.contains(l) {
                    return Err(self.err_at(
                        pos,
                        &format!("label \"{l}\" must not occur in ON and GROUP clause at once"),
                    ));
                }
            }
        }
        Ok(Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            matching: if both_vec { Some(matching) } else { None },
            return_bool,
        })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Tok::Op("-") | Tok::Op("+") => {
                let neg = *self.peek() == Tok::Op("-");
                let pos = self.pos();
                self.next();
                // Unary binds tighter than everything but `^`.
                let e = self.expr(6)?;
                let t = e.value_type();
                if t != ValueType::Scalar && t != ValueType::Vector {
                    return Err(self.err_at(pos, &format!("unary expression only allowed on expressions of type scalar or instant vector, got {:?}", t.name())));
                }
                if !neg {
                    return Ok(e);
                }
                Ok(match e {
                    Expr::Number(v) => Expr::Number(-v),
                    e => Expr::Neg(Box::new(e)),
                })
            }
            _ => self.postfix(),
        }
    }

    /// A primary expression followed by `[range]`, `[range:step]`, `offset`, `@`.
    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        loop {
            if matches!(self.peek(), Tok::LBracket)
                || is_kw(self.peek(), "offset")
                || *self.peek() == Tok::At
            {
                self.deeper()?;
            }
            match self.peek() {
                Tok::LBracket => {
                    let pos = self.pos();
                    self.next();
                    let range = self.duration("range")?;
                    if *self.peek() == Tok::Colon {
                        self.next();
                        let step = if *self.peek() == Tok::RBracket {
                            None
                        } else {
                            Some(self.duration("subquery step")?)
                        };
                        self.expect(Tok::RBracket, "subquery selector")?;
                        if e.value_type() != ValueType::Vector {
                            return Err(self.err_at(
                                pos,
                                &format!(
                                    "subquery is only allowed on instant vector, got {} instead",
                                    e.value_type().name()
                                ),
                            ));
                        }
                        if range <= 0 {
                            return Err(self.err_at(pos, "duration must be greater than 0"));
                        }
                        if step == Some(0) {
                            return Err(self.err_at(pos, "step must be greater than 0"));
                        }
                        e = Expr::Subquery {
                            expr: Box::new(e),
                            range,
                            step,
                            offset: 0,
                            at: None,
                        };
                    } else {
                        self.expect(Tok::RBracket, "range selector")?;
                        match e {
                            Expr::Selector(sel) if sel.offset == 0 && sel.at.is_none() => {
                                if range <= 0 {
                                    return Err(self.err_at(pos, "range must be greater than 0"));
                                }
                                e = Expr::Matrix { sel, range };
                            }
                            Expr::Selector(_) => {
                                return Err(self
                                    .err_at(pos, "no offset or @ modifiers allowed before range"))
                            }
                            _ => {
                                return Err(
                                    self.err_at(pos, "ranges only allowed for vector selectors")
                                )
                            }
                        }
                    }
                }
                t if is_kw(t, "offset") => {
                    let pos = self.pos();
                    self.next();
                    let neg = self.sign();
                    let mut d = self.duration("offset")?;
                    if neg {
                        d = -d;
                    }
                    let slot = match &mut e {
                        Expr::Selector(s) => &mut s.offset,
                        Expr::Matrix { sel, .. } => &mut sel.offset,
                        Expr::Subquery { offset, .. } => offset,
                        _ => return Err(self.err_at(pos, "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery")),
                    };
                    if *slot != 0 {
                        return Err(self.err_at(pos, "offset may not be set multiple times"));
                    }
                    *slot = d;
                }
                Tok::At => {
                    let pos = self.pos();
                    self.next();
                    let at = self.at_value()?;
                    let slot = match &mut e {
                        Expr::Selector(s) => &mut s.at,
                        Expr::Matrix { sel, .. } => &mut sel.at,
                        Expr::Subquery { at, .. } => at,
                        _ => return Err(self.err_at(pos, "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery")),
                    };
                    if slot.is_some() {
                        return Err(self.err_at(pos, "@ <timestamp> may not be set multiple times"));
                    }
                    *slot = Some(at);
                }
                _ => return Ok(e),
            }
        }
    }

    /// Consumes an optional `+` or `-`; true for `-`.
    fn sign(&mut self) -> bool {
        match self.peek() {
            Tok::Op("-") => {
                self.next();
                true
            }
            Tok::Op("+") => {
                self.next();
                false
            }
            _ => false,
        }
    }

    fn at_value(&mut self) -> Result<At, ParseError> {
        let pos = self.pos();
        let neg = self.sign();
        match self.next() {
            Tok::Duration(d) => Ok(At::Time(if neg { -d } else { d })),
            Tok::Number(v) => {
                let v = if neg { -v } else { v };
                if !v.is_finite() || v.abs() > (i64::MAX / 1000) as f64 {
                    return Err(
                        self.err_at(pos, &format!("timestamp out of bounds for @ modifier: {v}"))
                    );
                }
                Ok(At::Time((v * 1000.0).round() as i64))
            }
            Tok::Ident(s) if !neg && (s == "start" || s == "end") => {
                self.expect(Tok::LParen, "@ modifier")?;
                self.expect(Tok::RParen, "@ modifier")?;
                Ok(if s == "start" { At::Start } else { At::End })
            }
            _ => Err(self.err_at(
                pos,
                "unexpected token in @ modifier, expected number or start()/end()",
            )),
        }
    }

    fn duration(&mut self, ctx: &str) -> Result<i64, ParseError> {
        let pos = self.pos();
        match self.next() {
            Tok::Duration(d) if d <= MAX_DURATION_MS => Ok(d),
            Tok::Number(v) if v.is_finite() && v >= 0.0 && v * 1000.0 <= MAX_DURATION_MS as f64 => {
                Ok((v * 1000.0).round() as i64)
            }
            t => Err(self.err_at(
                pos,
                &format!("unexpected {} in {ctx}, expected duration", describe(&t)),
            )),
        }
    }

    fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect(Tok::LParen, "grouping opts")?;
        let mut out = Vec::new();
        loop {
            match self.next() {
                Tok::RParen => return Ok(out),
                Tok::Ident(s) if !s.contains(':') => out.push(s),
                Tok::Str(s) => out.push(s),
                t => {
                    let pos = self.toks[self.i.saturating_sub(1)].pos;
                    return Err(self.err_at(
                        pos,
                        &format!(
                            "unexpected {} in grouping opts, expected label",
                            describe(&t)
                        ),
                    ));
                }
            }
            match self.next() {
                Tok::Comma => {}
                Tok::RParen => return Ok(out),
                t => {
                    let pos = self.toks[self.i.saturating_sub(1)].pos;
                    return Err(self.err_at(
                        pos,
                        &format!(
                            "unexpected {} in grouping opts, expected \")\" or \",\"",
                            describe(&t)
                        ),
                    ));
                }
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Number(v) => {
                self.next();
                Ok(Expr::Number(v))
            }
            Tok::Duration(d) => {
                self.next();
                Ok(Expr::Number(d as f64 / 1000.0))
            }
            Tok::Str(s) => {
                self.next();
                Ok(Expr::Str(s))
            }
            Tok::LParen => {
                self.next();
                let e = self.expr(0)?;
                self.expect(Tok::RParen, "paren expression")?;
                Ok(Expr::Paren(Box::new(e)))
            }
            Tok::LBrace => {
                let matchers = self.matchers(None)?;
                self.selector(None, matchers, pos)
            }
            Tok::Ident(name)
                if name.eq_ignore_ascii_case("inf") || name.eq_ignore_ascii_case("nan") =>
            {
                self.next();
                Ok(Expr::Number(if name.eq_ignore_ascii_case("inf") {
                    f64::INFINITY
                } else {
                    f64::NAN
                }))
            }
            Tok::Ident(name) => {
                self.next();
                if let Some(op) = AggOp::from_name(&name) {
                    if matches!(self.peek(), Tok::LParen)
                        || is_kw(self.peek(), "by")
                        || is_kw(self.peek(), "without")
                    {
                        return self.aggregate(op, pos);
                    }
                }
                if *self.peek() == Tok::LParen {
                    return self.call(&name, pos);
                }
                if *self.peek() != Tok::LBrace && binop_of(&Tok::Ident(name.clone())).is_some()
                    || *self.peek() != Tok::LBrace
                        && [
                            "by",
                            "without",
                            "on",
                            "ignoring",
                            "group_left",
                            "group_right",
                            "bool",
                            "offset",
                        ]
                        .iter()
                        .any(|k| name.eq_ignore_ascii_case(k))
                {
                    return Err(self.err_at(pos, &format!("unexpected keyword {name:?}")));
                }
                let matchers = if *self.peek() == Tok::LBrace {
                    self.matchers(Some(&name))?
                } else {
                    vec![]
                };
                self.selector(Some(name), matchers, pos)
            }
            t => Err(self.err(&format!("unexpected {}", describe(&t)))),
        }
    }

    fn selector(
        &mut self,
        name: Option<String>,
        mut matchers: Vec<Matcher>,
        pos: usize,
    ) -> Result<Expr, ParseError> {
        if let Some(n) = &name {
            matchers.insert(0, Matcher::equal("__name__", n));
        }
        let empty_ok = std::mem::take(&mut self.empty_selector_ok);
        if !empty_ok && matchers.iter().all(|m| m.matches_empty()) {
            return Err(self.err_at(
                pos,
                "vector selector must contain at least one non-empty matcher",
            ));
        }
        Ok(Expr::Selector(VectorSelector {
            name,
            matchers,
            offset: 0,
            at: None,
        }))
    }

    /// `{l="v", …}`; `name` is the metric name given before the braces.
    fn matchers(&mut self, name: Option<&str>) -> Result<Vec<Matcher>, ParseError> {
        self.expect(Tok::LBrace, "label matching")?;
        let mut out = Vec::new();
        loop {
            let pos = self.pos();
            let (label, quoted) = match self.next() {
                Tok::RBrace => return Ok(out),
                Tok::Ident(s) if !s.contains(':') => (s, false),
                Tok::Str(s) => (s, true),
                t => {
                    return Err(self.err_at(
                        pos,
                        &format!(
                            "unexpected {} in label matching, expected label",
                            describe(&t)
                        ),
                    ))
                }
            };
            let op = match self.peek() {
                Tok::Assign => Some(MatchOp::Equal),
                Tok::Op("!=") => Some(MatchOp::NotEqual),
                Tok::Op("=~") => Some(MatchOp::Regex),
                Tok::Op("!~") => Some(MatchOp::NotRegex),
                _ => None,
            };
            match op {
                Some(op) => {
                    self.next();
                    let vpos = self.pos();
                    let value = match self.next() {
                        Tok::Str(s) => s,
                        t => {
                            return Err(self.err_at(
                                vpos,
                                &format!(
                                    "unexpected {} in label matching, expected string",
                                    describe(&t)
                                ),
                            ))
                        }
                    };
                    let m = Matcher::new(op, &label, &value)
                        .map_err(|e| self.err_at(vpos, &e.to_string()))?;
                    out.push(m);
                }
                None if quoted => {
                    if name.is_some()
                        || out
                            .iter()
                            .any(|m: &Matcher| m.name == "__name__" && m.op == MatchOp::Equal)
                    {
                        return Err(self.err_at(pos, "metric name must not be set twice"));
                    }
                    out.push(Matcher::equal("__name__", &label));
                }
                None => {
                    return Err(self.err(&format!(
                        "unexpected {} in label matching, expected label matching operator",
                        describe(self.peek())
                    )));
                }
            }
            if name.is_some() && out.last().is_some_and(|m| m.name == "__name__") {
                return Err(self.err_at(pos, "metric name must not be set twice"));
            }
            match self.next() {
                Tok::Comma => {}
                Tok::RBrace => return Ok(out),
                t => {
                    let p = self.toks[self.i.saturating_sub(1)].pos;
                    return Err(self.err_at(
                        p,
                        &format!(
                            "unexpected {} in label matching, expected \",\" or \"}}\"",
                            describe(&t)
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        assert_eq!(parse("-1^2").unwrap().to_string(), "-1 ^ 2");
        assert_eq!(parse("1 + 2 * 3").unwrap().to_string(), "1 + 2 * 3");
        assert!(
            matches!(parse("2 ^ 3 ^ 2").unwrap(), Expr::Binary { op: BinOp::Pow, ref rhs, .. } if matches!(**rhs, Expr::Binary { .. }))
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("sum(rate(x[5m])").unwrap_err();
        assert!(e.msg.starts_with("1:"), "{}", e.msg);
        assert!(parse("rate(x)").is_err());
        assert!(parse("1 > 1").is_err());
        assert!(parse("{}").is_err());
    }

    #[test]
    fn selectors() {
        let e = parse(r#"foo{a=~`10\.0\..*`} offset 5m @ 100"#).unwrap();
        let Expr::Selector(s) = e else { panic!() };
        assert_eq!(s.offset, 300_000);
        assert_eq!(s.at, Some(At::Time(100_000)));
        assert!(s.matchers[1].matches("10.0.0.1"));
        assert!(parse("sum by (a) (rate(x[5m:1m]))").is_ok());
        assert!(parse("holt_winters(x[5m], 0.5, 0.5)").is_ok());
    }
}
