//! Executing a parsed template: values, pipelines, and the function table.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::{funcs, Arg, Cmd, Loc, Node, Pipe, QuerySample, Template, TemplateData, TemplateError};
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
    /// What `args` returns: Go's `map[string]interface{}` with keys `arg0`, `arg1`, ….
    Args(Rc<Vec<Val>>),
    Data,
}

impl Val {
    pub(crate) fn truth(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::Map(m) => !m.is_empty(),
            Val::Samples(s) => !s.is_empty(),
            Val::Args(l) => !l.is_empty(),
            Val::Sample(_) | Val::Data => true,
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Val::Nil => "<nil>",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::Map(_) => "map[string]string",
            Val::Samples(_) => "template.queryResult",
            Val::Sample(_) => "*template.sample",
            Val::Args(_) => "map[string]interface {}",
            Val::Data => "struct",
        }
    }

    pub(crate) fn print(&self) -> String {
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
            Val::Args(l) => {
                let parts: Vec<String> = args_sorted(l)
                    .into_iter()
                    .map(|(k, v)| format!("{k}:{}", v.print()))
                    .collect();
                format!("map[{}]", parts.join(" "))
            }
            Val::Data => "{...}".into(),
        }
    }

    pub(crate) fn to_f64(&self) -> Result<f64, String> {
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
            | Val::Args(_)
            | Val::Data => Err(format!("can't convert {} to float", self.kind())),
        }
    }
}

pub(crate) struct Exec<'a, 'd> {
    pub(crate) t: &'a Template,
    pub(crate) data: &'a TemplateData<'d>,
    pub(crate) vars: Vec<(String, Val)>,
    pub(crate) out: String,
    /// Nested `{{template}}` calls (bounded: a template may call itself).
    pub(crate) depth: usize,
    /// Nodes executed so far (bounded: recursion may branch).
    pub(crate) steps: usize,
    /// The template executing (the top one, or a `{{define}}`d one).
    pub(crate) cur: Rc<str>,
    /// The node evaluated last: where Go reports most execution errors.
    pub(crate) at: Loc,
}

/// Go's name of the type Prometheus passes as `.` to rule templates.
const DATA_TYPE: &str = "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }";

/// Most nodes one expansion executes (Vitals' bound; Go has none).
const MAX_STEPS: usize = 1_000_000;

/// Most nested `{{template}}` calls (Go allows 100000; this keeps the stack small).
const MAX_CALL_DEPTH: usize = 200;

/// How a list of nodes ended: normally, or at `{{break}}`/`{{continue}}`.
pub(crate) enum Flow {
    Next,
    Break,
    Continue,
}

/// `args`' value for `key` (nil when absent, as Go's zero `interface{}`).
pub(crate) fn args_get(l: &[Val], key: &str) -> Val {
    key.strip_prefix("arg")
        .and_then(|i| i.parse::<usize>().ok())
        .filter(|i| key == format!("arg{i}"))
        .and_then(|i| l.get(i).cloned())
        .unwrap_or(Val::Nil)
}

/// `args`' values by key (`arg0`, `arg1`, …) in Go's sorted map order.
pub(crate) fn args_sorted(l: &[Val]) -> Vec<(String, Val)> {
    let mut v: Vec<(String, Val)> = l
        .iter()
        .enumerate()
        .map(|(i, x)| (format!("arg{i}"), x.clone()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

impl Exec<'_, '_> {
    /// Go's execution error: `template: NAME:LINE:COL: executing "CUR" at <NODE>: msg`,
    /// the column counting Prometheus' variable definitions prepended to line 1.
    fn err(&self, loc: &Loc, msg: impl std::fmt::Display) -> TemplateError {
        let before = &self.t.text[..loc.0.min(self.t.text.len())];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(nl) => loc.0 - nl - 1,
            None => super::PRELUDE_LEN + loc.0,
        };
        TemplateError(format!(
            "template: {}:{line}:{col}: executing {:?} at <{}>: {msg}",
            self.t.name, self.cur, loc.1
        ))
    }

    pub(crate) fn walk(&mut self, nodes: &[Node], dot: &Val) -> Result<Flow, TemplateError> {
        for n in nodes {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                let at = self.at.clone();
                return Err(self.err(&at, format!("exceeded {MAX_STEPS} execution steps")));
            }
            let flow = match n {
                Node::Text(t) => {
                    self.out.push_str(t);
                    Flow::Next
                }
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        self.out.push_str(&v.print());
                    }
                    Flow::Next
                }
                Node::If(branches, els) => {
                    let mark = self.vars.len();
                    let mut taken = None;
                    for (p, body) in branches {
                        if self.pipe(p, dot)?.truth() {
                            taken = Some(body);
                            break;
                        }
                    }
                    let flow = self.walk(taken.map_or(els.as_slice(), |b| b.as_slice()), dot)?;
                    self.vars.truncate(mark);
                    flow
                }
                Node::With(p, body, els) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    let flow = if v.truth() {
                        self.walk(body, &v)?
                    } else {
                        self.walk(els, dot)?
                    };
                    self.vars.truncate(mark);
                    flow
                }
                Node::Range(p, body, els) => self.range(p, body, els, dot)?,
                Node::Call(name, p, loc) => self.call_template(name, p.as_ref(), dot, loc)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Next) {
                return Ok(flow);
            }
        }
        Ok(Flow::Next)
    }

    /// `{{template "name" pipeline}}`: the named template with `.` and `$` set to the
    /// pipeline's value (nil without one) and no other variables, as in Go.
    fn call_template(
        &mut self,
        name: &str,
        p: Option<&Pipe>,
        dot: &Val,
        loc: &Loc,
    ) -> Result<Flow, TemplateError> {
        self.at = loc.clone();
        let Some(body) = self.t.defs.get(name).cloned() else {
            return Err(self.err(loc, format!("template {name:?} not defined")));
        };
        if self.depth >= MAX_CALL_DEPTH {
            return Err(self.err(
                loc,
                format!("exceeded maximum template depth ({MAX_CALL_DEPTH})"),
            ));
        }
        let v = match p {
            Some(p) => self.pipe(p, dot)?,
            None => Val::Nil,
        };
        let saved = std::mem::replace(&mut self.vars, vec![("$".into(), v.clone())]);
        let cur = std::mem::replace(&mut self.cur, name.into());
        self.depth += 1;
        let res = self.walk(&body, &v);
        self.depth -= 1;
        self.vars = saved;
        self.cur = cur;
        res.map(|_| Flow::Next)
    }

    fn range(
        &mut self,
        p: &Pipe,
        body: &[Node],
        els: &[Node],
        dot: &Val,
    ) -> Result<Flow, TemplateError> {
        let mark = self.vars.len();
        let mut q = p.clone();
        let decl = std::mem::take(&mut q.decl);
        let v = self.pipe(&q, dot)?;
        let items: Vec<(Val, Val)> = match &v {
            Val::Samples(s) => s
                .iter()
                .enumerate()
                .map(|(i, x)| (Val::Int(i as i64), Val::Sample(Rc::new(x.clone()))))
                .collect(),
            Val::Args(l) => args_sorted(l)
                .into_iter()
                .map(|(k, x)| (Val::Str(k), x))
                .collect(),
            Val::Map(m) => m
                .iter()
                .map(|(k, x)| (Val::Str(k.clone()), Val::Str(x.clone())))
                .collect(),
            Val::Nil => Vec::new(),
            // Go 1.19 (promtool 2.42) cannot range over an integer.
            other => {
                let at = self.at.clone();
                return Err(self.err(&at, format!("range can't iterate over {}", other.print())));
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
            let flow = self.walk(body, &x)?;
            self.vars.truncate(m2);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Next)
    }

    fn pipe(&mut self, p: &Pipe, dot: &Val) -> Result<Val, TemplateError> {
        self.at = p.loc.clone();
        let mut prev: Option<Val> = None;
        for cmd in &p.cmds {
            prev = Some(self.command(cmd, dot, prev)?);
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

    /// One command, reporting errors at the node Go's `text/template` reports them at.
    fn command(&mut self, cmd: &Cmd, dot: &Val, piped: Option<Val>) -> Result<Val, TemplateError> {
        let (first, floc) = &cmd.args[0];
        let Arg::Func(f) = first else {
            if cmd.args.len() > 1 || piped.is_some() {
                self.at = floc.clone();
                return Err(self.err(
                    floc,
                    format!("can't give argument to non-function {}", floc.1),
                ));
            }
            return self.arg(first, floc, dot);
        };
        self.at = floc.clone();
        let given = cmd.args.len() - 1 + usize::from(piped.is_some());
        let (min, variadic) = funcs::arity(f);
        if given < min || (!variadic && given != min) {
            let at_least = if variadic { "at least " } else { "" };
            return Err(self.err(
                floc,
                format!("wrong number of args for {f}: want {at_least}{min} got {given}"),
            ));
        }
        if f == "and" || f == "or" {
            // Short-circuit evaluation, as Go 1.18+.
            let mut last = Val::Nil;
            for (a, loc) in &cmd.args[1..] {
                last = self.arg(a, loc, dot)?;
                if last.truth() == (f == "or") {
                    return Ok(last);
                }
            }
            return Ok(piped.unwrap_or(last));
        }
        let mut args = Vec::with_capacity(given);
        for (i, (a, loc)) in cmd.args[1..].iter().enumerate() {
            let v = self.arg(a, loc, dot)?;
            if funcs::string_param(f, i) && !matches!(v, Val::Str(_)) {
                let msg = match a {
                    Arg::Nil => "cannot assign nil to string".to_string(),
                    Arg::Int(_) | Arg::Float(_) | Arg::Bool(_) => {
                        format!("expected string; found {}", loc.1)
                    }
                    _ => format!("wrong type for value; expected string; got {}", v.kind()),
                };
                return Err(self.err(&self.at.clone(), msg));
            }
            args.push(v);
        }
        if let Some(v) = piped {
            if funcs::string_param(f, given - 1) && !matches!(v, Val::Str(_)) {
                let msg = format!("wrong type for value; expected string; got {}", v.kind());
                return Err(self.err(&self.at.clone(), msg));
            }
            args.push(v);
        }
        self.call(f, args).map_err(|e| {
            self.at = cmd.loc.clone();
            self.err(&cmd.loc, format!("error calling {f}: {e}"))
        })
    }

    fn arg(&mut self, a: &Arg, loc: &Loc, dot: &Val) -> Result<Val, TemplateError> {
        self.at = loc.clone();
        match a {
            Arg::Str(s) => Ok(Val::Str(s.clone())),
            Arg::Int(i) => Ok(Val::Int(*i)),
            Arg::Float(f) => Ok(Val::Float(*f)),
            Arg::Bool(b) => Ok(Val::Bool(*b)),
            Arg::Nil => Ok(Val::Nil),
            Arg::Func(f) => {
                let c = Cmd {
                    args: vec![(Arg::Func(f.clone()), loc.clone())],
                    loc: loc.clone(),
                };
                self.command(&c, dot, None)
            }
            Arg::Field(fs) => self.fields(dot.clone(), fs, loc),
            Arg::Var(v, fs) => {
                let base = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == v)
                    .map(|(_, x)| x.clone())
                    .ok_or_else(|| self.err(loc, format!("undefined variable: {v}")))?;
                self.fields(base, fs, loc)
            }
            Arg::Sub(p, fs) => {
                let v = self.pipe(p, dot)?;
                // Go reports a chain's field errors at the node evaluated last.
                let at = self.at.clone();
                self.fields(v, fs, &at)
            }
        }
    }

    fn fields(&self, mut v: Val, fs: &[String], loc: &Loc) -> Result<Val, TemplateError> {
        for f in fs {
            v = match (&v, f.as_str()) {
                (Val::Map(m), k) => Val::Str(m.get(k).cloned().unwrap_or_default()),
                (Val::Args(l), k) => args_get(l, k),
                (Val::Data, "Labels") => Val::Map(Rc::new(self.data.labels.clone())),
                (Val::Data, "ExternalLabels") => {
                    Val::Map(Rc::new(self.data.external_labels.clone()))
                }
                (Val::Data, "ExternalURL") => Val::Str(self.data.external_url.clone()),
                (Val::Data, "Value") => Val::Float(self.data.value),
                (Val::Sample(s), "Labels") => Val::Map(Rc::new(s.labels.clone())),
                (Val::Sample(s), "Value") => Val::Float(s.value),
                // Go with `missingkey=zero`: a field of nothing is nothing.
                (Val::Nil, _) => Val::Nil,
                (o, _) => {
                    let kind = match o {
                        Val::Data => DATA_TYPE,
                        o => o.kind(),
                    };
                    return Err(self.err(loc, format!("can't evaluate field {f} in type {kind}")));
                }
            };
        }
        Ok(v)
    }
}
