//! Function calls and aggregations: argument lists and their type checks.

use super::super::ast::{AggOp, Expr, ValueType};
use super::super::functions;
use super::super::lexer::Tok;
use super::{describe, is_kw, unparen, ParseError, Parser};

impl Parser {
    pub(super) fn args(&mut self) -> Result<Vec<Expr>, ParseError> {
        self.args_of("")
    }

    /// The arguments of a call of `func` (the second one of `info` may be a selector that
    /// matches the empty string).
    fn args_of(&mut self, func: &str) -> Result<Vec<Expr>, ParseError> {
        self.expect(Tok::LParen, "argument list")?;
        let mut out = Vec::new();
        if *self.peek() == Tok::RParen {
            self.next();
            return Ok(out);
        }
        loop {
            self.empty_selector_ok = func == "info" && out.len() == 1;
            let e = self.expr(0);
            self.empty_selector_ok = false;
            out.push(e?);
            match self.next() {
                Tok::Comma => {
                    if *self.peek() == Tok::RParen {
                        self.next();
                        return Ok(out);
                    }
                }
                Tok::RParen => return Ok(out),
                t => {
                    let p = self.toks[self.i.saturating_sub(1)].pos;
                    return Err(self.err_at(
                        p,
                        &format!(
                            "unexpected {} in argument list, expected \",\" or \")\"",
                            describe(&t)
                        ),
                    ));
                }
            }
        }
    }

    pub(super) fn call(&mut self, name: &str, pos: usize) -> Result<Expr, ParseError> {
        let Some(def) = functions::lookup(name) else {
            return Err(self.err_at(pos, &format!("unknown function with name {name:?}")));
        };
        let args = self.args_of(def.name)?;
        let n = args.len();
        let fixed = def.args.len();
        let ok = match def.variadic {
            0 => n == fixed,
            -1 => n + 1 >= fixed,
            v => n >= fixed - v as usize && n <= fixed,
        };
        if !ok {
            let expected = if def.variadic == 0 {
                format!("{fixed}")
            } else if def.variadic < 0 {
                format!("at least {}", fixed - 1)
            } else {
                format!("{}..{fixed}", fixed - def.variadic as usize)
            };
            return Err(self.err_at(
                pos,
                &format!(
                    "expected {expected} argument(s) in call to {:?}, got {n}",
                    def.name
                ),
            ));
        }
        for (i, a) in args.iter().enumerate() {
            let want = def.args[i.min(fixed - 1)];
            let got = a.value_type();
            if got != want {
                return Err(self.err_at(
                    pos,
                    &format!(
                        "expected type {} in call to function {:?}, got {}",
                        want.name(),
                        def.name,
                        got.name()
                    ),
                ));
            }
        }
        if def.name == "info" {
            // The second argument is a label selector: matchers only.
            if let Some(a) = args.get(1) {
                let plain = matches!(a, Expr::Selector(s) if s.name.is_none() && s.offset == 0 && s.at.is_none());
                if !plain {
                    return Err(self.err_at(
                        pos,
                        "expected label selectors only as the second argument to \"info\"",
                    ));
                }
            }
        }
        Ok(Expr::Call {
            func: def.name,
            args,
        })
    }

    pub(super) fn aggregate(&mut self, op: AggOp, pos: usize) -> Result<Expr, ParseError> {
        let mut grouping = Vec::new();
        let mut without = false;
        let mut have_grouping = false;
        if is_kw(self.peek(), "by") || is_kw(self.peek(), "without") {
            without = is_kw(self.peek(), "without");
            self.next();
            grouping = self.label_list()?;
            have_grouping = true;
        }
        let mut args = self.args()?;
        if !have_grouping && (is_kw(self.peek(), "by") || is_kw(self.peek(), "without")) {
            without = is_kw(self.peek(), "without");
            self.next();
            grouping = self.label_list()?;
        }
        let want = if op.has_param() { 2 } else { 1 };
        if args.len() != want {
            return Err(self.err_at(pos, &format!("wrong number of arguments for aggregate expression provided, expected {want}, got {}", args.len())));
        }
        let expr = args.pop().expect("checked length");
        if expr.value_type() != ValueType::Vector {
            return Err(self.err_at(
                pos,
                &format!(
                    "expected type instant vector in aggregation expression, got {}",
                    expr.value_type().name()
                ),
            ));
        }
        let param = args.pop();
        if let Some(p) = &param {
            let want = if op == AggOp::CountValues {
                ValueType::String
            } else {
                ValueType::Scalar
            };
            if p.value_type() != want {
                return Err(self.err_at(
                    pos,
                    &format!(
                        "expected type {} in aggregation parameter, got {}",
                        want.name(),
                        p.value_type().name()
                    ),
                ));
            }
        }
        let _ = unparen;
        Ok(Expr::Aggregate {
            op,
            expr: Box::new(expr),
            param: param.map(Box::new),
            grouping,
            without,
        })
    }
}
