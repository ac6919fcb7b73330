//! Executing a parsed template: values, pipelines, and the function table.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::{Arg, Node, Pipe, QuerySample, Template, TemplateData, TemplateError};
use crate::gofmt;

#[derive(Clone, Debug)]
pub(crate) enum Val {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Map(Rc<BTreeMap<String, String>>),
    Samples(Rc<Vec<QuerySample>>),
    Sample(Rc<QuerySample>),
    List(Rc<Vec<Val>>),
    Data,
}

impl Val {
    fn truth(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::Map(m) => !m.is_empty(),
            Val::Samples(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Sample(_) | Val::Data => true,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Val::Nil => "nil",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::Map(_) => "map[string]string",
            Val::Samples(_) => "template.queryResult",
            Val::Sample(_) => "*template.sample",
            Val::List(_) => "[]interface {}",
            Val::Data => "struct",
        }
    }

    fn print(&self) -> String {
        match self {
            Val::Nil => "<no value>".into(),
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => gofmt::go_float(*f),
            Val::Str(s) => s.clone(),
            Val::Map(m) => {
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", parts.join(" "))
            }
            Val::Sample(s) => format!(
                "{{{} {}}}",
                Val::Map(Rc::new(s.labels.clone())).print(),
                gofmt::go_float(s.value)
            ),
            Val::Samples(v) => {
                let parts: Vec<String> = v
                    .iter()
                    .map(|s| Val::Sample(Rc::new(s.clone())).print())
                    .collect();
                format!("[{}]", parts.join(" "))
            }
            Val::List(l) => {
                let parts: Vec<String> = l.iter().map(Val::print).collect();
                format!("[{}]", parts.join(" "))
            }
            Val::Data => "{...}".into(),
        }
    }

    fn to_f64(&self) -> Result<f64, String> {
        match self {
            Val::Float(f) => Ok(*f),
            Val::Int(i) => Ok(*i as f64),
            Val::Str(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
            Val::Bool(_)
            | Val::Nil
            | Val::Map(_)
            | Val::Samples(_)
            | Val::Sample(_)
            | Val::List(_)
            | Val::Data => Err(format!("can't convert {} to float", self.kind())),
        }
    }
}

pub(crate) struct Exec<'a, 'd> {
    pub(crate) t: &'a Template,
    pub(crate) data: &'a TemplateData<'d>,
    pub(crate) vars: Vec<(String, Val)>,
    pub(crate) out: String,
}

impl Exec<'_, '_> {
    fn err(&self, line: usize, msg: impl std::fmt::Display) -> TemplateError {
        TemplateError(format!(
            "template: {}:{line}: executing {:?}: {msg}",
            self.t.name, self.t.name
        ))
    }

    pub(crate) fn walk(&mut self, nodes: &[Node], dot: &Val) -> Result<(), TemplateError> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p, line) => {
                    let v = self.pipe(p, dot, *line)?;
                    if p.decl.is_empty() {
                        self.out.push_str(&v.print());
                    }
                }
                Node::If(branches, els, line) => {
                    let mark = self.vars.len();
                    let mut done = false;
                    for (p, body) in branches {
                        if self.pipe(p, dot, *line)?.truth() {
                            self.walk(body, dot)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.walk(els, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::With(p, body, els, line) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot, *line)?;
                    if v.truth() {
                        self.walk(body, &v)?;
                    } else {
                        self.walk(els, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(p, body, els, line) => self.range(p, body, els, dot, *line)?,
            }
        }
        Ok(())
    }

    fn range(
        &mut self,
        p: &Pipe,
        body: &[Node],
        els: &[Node],
        dot: &Val,
        line: usize,
    ) -> Result<(), TemplateError> {
        let mark = self.vars.len();
        let mut q = p.clone();
        let decl = std::mem::take(&mut q.decl);
        let v = self.pipe(&q, dot, line)?;
        let items: Vec<(Val, Val)> = match &v {
            Val::Samples(s) => s
                .iter()
                .enumerate()
                .map(|(i, x)| (Val::Int(i as i64), Val::Sample(Rc::new(x.clone()))))
                .collect(),
            Val::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, x)| (Val::Int(i as i64), x.clone()))
                .collect(),
            Val::Map(m) => m
                .iter()
                .map(|(k, x)| (Val::Str(k.clone()), Val::Str(x.clone())))
                .collect(),
            Val::Int(n) => (0..*n).map(|i| (Val::Int(i), Val::Int(i))).collect(),
            Val::Nil => Vec::new(),
            other => {
                return Err(self.err(line, format!("range can't iterate over {}", other.print())))
            }
        };
        if items.is_empty() {
            self.walk(els, dot)?;
        }
        for (k, x) in items {
            let m2 = self.vars.len();
            match decl.as_slice() {
                [e] => self.vars.push((e.clone(), x.clone())),
                [i, e] => {
                    self.vars.push((i.clone(), k));
                    self.vars.push((e.clone(), x.clone()));
                }
                _ => {}
            }
            self.walk(body, &x)?;
            self.vars.truncate(m2);
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Val, line: usize) -> Result<Val, TemplateError> {
        let mut prev: Option<Val> = None;
        for cmd in &p.cmds {
            prev = Some(self.command(cmd, dot, prev, line)?);
        }
        let v = prev.unwrap_or(Val::Nil);
        for d in &p.decl {
            if p.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == d) {
                    slot.1 = v.clone();
                }
            } else {
                self.vars.push((d.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn command(
        &mut self,
        cmd: &[Arg],
        dot: &Val,
        piped: Option<Val>,
        line: usize,
    ) -> Result<Val, TemplateError> {
        if let Some(Arg::Func(f)) = cmd.first() {
            let mut args = Vec::with_capacity(cmd.len());
            if f == "and" || f == "or" {
                // Short-circuit evaluation, as Go 1.18+.
                let mut last = Val::Nil;
                for a in &cmd[1..] {
                    last = self.arg(a, dot, line)?;
                    if last.truth() == (f == "or") {
                        return Ok(last);
                    }
                }
                if let Some(pv) = piped {
                    last = pv;
                }
                return Ok(last);
            }
            for a in &cmd[1..] {
                args.push(self.arg(a, dot, line)?);
            }
            args.extend(piped);
            return self
                .call(f, args)
                .map_err(|e| self.err(line, format!("error calling {f}: {e}")));
        }
        if cmd.len() > 1 || piped.is_some() {
            return Err(self.err(line, "can't give argument to non-function"));
        }
        self.arg(&cmd[0], dot, line)
    }

    fn arg(&mut self, a: &Arg, dot: &Val, line: usize) -> Result<Val, TemplateError> {
        match a {
            Arg::Str(s) => Ok(Val::Str(s.clone())),
            Arg::Int(i) => Ok(Val::Int(*i)),
            Arg::Float(f) => Ok(Val::Float(*f)),
            Arg::Bool(b) => Ok(Val::Bool(*b)),
            Arg::Nil => Ok(Val::Nil),
            Arg::Func(f) => self.command(&[Arg::Func(f.clone())], dot, None, line),
            Arg::Field(fs) => self.fields(dot.clone(), fs, line),
            Arg::Var(v, fs) => {
                let base = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == v)
                    .map(|(_, x)| x.clone())
                    .ok_or_else(|| self.err(line, format!("undefined variable: {v}")))?;
                self.fields(base, fs, line)
            }
            Arg::Sub(p, fs) => {
                let v = self.pipe(p, dot, line)?;
                self.fields(v, fs, line)
            }
        }
    }

    fn fields(&self, mut v: Val, fs: &[String], line: usize) -> Result<Val, TemplateError> {
        for f in fs {
            v = match (&v, f.as_str()) {
                (Val::Map(m), k) => Val::Str(m.get(k).cloned().unwrap_or_default()),
                (Val::Data, "Labels") => Val::Map(Rc::new(self.data.labels.clone())),
                (Val::Data, "ExternalLabels") => {
                    Val::Map(Rc::new(self.data.external_labels.clone()))
                }
                (Val::Data, "ExternalURL") => Val::Str(self.data.external_url.clone()),
                (Val::Data, "Value") => Val::Float(self.data.value),
                (Val::Sample(s), "Labels") => Val::Map(Rc::new(s.labels.clone())),
                (Val::Sample(s), "Value") => Val::Float(s.value),
                (Val::Nil, _) => return Err(self.err(line, format!("nil pointer evaluating .{f}"))),
                (o, _) => {
                    return Err(self.err(
                        line,
                        format!("can't evaluate field {f} in type {}", o.kind()),
                    ))
                }
            };
        }
        Ok(v)
    }

    fn call(&self, f: &str, a: Vec<Val>) -> Result<Val, String> {
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
                    Val::List(l) => l.len(),
                    o => return Err(format!("len of type {}", o.kind())),
                } as i64)
            }
            "index" => {
                let mut v = a.first().cloned().ok_or("wrong number of args for index")?;
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
                        (Val::List(l), Val::Int(i)) => l
                            .get(*i as usize)
                            .cloned()
                            .ok_or_else(|| format!("index out of range: {i}"))?,
                        (o, _) => return Err(format!("can't index item of type {}", o.kind())),
                    };
                }
                v
            }
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
                if a.len() < 2 || (f != "eq" && a.len() != 2) {
                    return Err(format!("wrong number of args for {f}"));
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
            "print" | "println" => {
                let mut out = String::new();
                for (i, v) in a.iter().enumerate() {
                    let is_str = matches!(v, Val::Str(_));
                    let prev_str = i > 0 && matches!(a[i - 1], Val::Str(_));
                    if i > 0 && (f == "println" || (!is_str && !prev_str)) {
                        out.push(' ');
                    }
                    out.push_str(&v.print());
                }
                if f == "println" {
                    out.push('\n');
                }
                Val::Str(out)
            }
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
            "toUpper" | "toLower" | "title" | "safeHtml" | "stripPort" | "stripDomain"
            | "urlquery" | "html" | "js" => {
                want(1)?;
                let x = match &a[0] {
                    Val::Str(x) => x.clone(),
                    o => o.print(),
                };
                Val::Str(match f {
                    "toUpper" => map_case(&x, true),
                    "toLower" => map_case(&x, false),
                    "title" => title(&x),
                    "stripPort" => match x.rsplit_once(':') {
                        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => {
                            h.trim_start_matches('[').trim_end_matches(']').to_string()
                        }
                        _ => x,
                    },
                    "stripDomain" => match x.split_once('.') {
                        Some((h, _)) if !x.starts_with('[') => {
                            let port = x.rsplit_once(':').map(|(_, p)| format!(":{p}"));
                            format!("{h}{}", port.unwrap_or_default())
                        }
                        _ => x,
                    },
                    "html" => x
                        .replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;")
                        .replace('"', "&#34;")
                        .replace('\'', "&#39;"),
                    _ => x,
                })
            }
            "args" => Val::List(Rc::new(a)),
            "pathPrefix" => Val::Str(String::new()),
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
