//! The Go `text/template` subset rule files use in labels and annotations, with
//! Prometheus' template functions (`humanize`, `query`, `first`, …).

use std::collections::BTreeMap;
use std::rc::Rc;

use exec::{Exec, Val};

/// A template failed to parse or execute (message as Go's `text/template` words it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// One sample returned by the `query` template function.
#[derive(Clone, Debug)]
pub struct QuerySample {
    /// The series' labels (name → value).
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// Runs a PromQL query for the `query` template function.
pub type QueryFn<'a> = &'a dyn Fn(&str) -> Result<Vec<QuerySample>, String>;

/// What a rule template sees as `.` (and `$labels`, `$value`, …).
pub struct TemplateData<'a> {
    /// The alert's labels (`$labels`, `.Labels`).
    pub labels: BTreeMap<String, String>,
    /// The sample value (`$value`, `.Value`).
    pub value: f64,
    /// `global.external_labels` (`$externalLabels`).
    pub external_labels: BTreeMap<String, String>,
    /// The external URL (`$externalURL`).
    pub external_url: String,
    /// Backs the `query` function; `None` makes it fail.
    pub query: Option<QueryFn<'a>>,
}

/// Prometheus prepends these definitions to every rule template.
const PRELUDE: &[&str] = &["labels", "externalLabels", "externalURL", "value"];

/// Length of Prometheus' prepended definitions (`{{$labels := .Labels}}…{{$value :=
/// .Value}}`, one line): execution errors count columns of line 1 after it.
pub(crate) const PRELUDE_LEN: usize = 112;

const FUNCS: &[&str] = &[
    "and",
    "or",
    "not",
    "len",
    "index",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "printf",
    "print",
    "println",
    "humanize",
    "humanize1024",
    "humanizePercentage",
    "humanizeDuration",
    "humanizeTimestamp",
    "query",
    "first",
    "value",
    "label",
    "strvalue",
    "reReplaceAll",
    "toUpper",
    "toLower",
    "title",
    "match",
    "safeHtml",
    "stripPort",
    "stripDomain",
    "urlquery",
    "html",
    "js",
    "sortByLabel",
    "toTime",
    "parseDuration",
    "pathPrefix",
    "externalURL",
    "args",
    "slice",
    "graphLink",
    "tableLink",
];

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    /// `{{template "name" pipeline}}` (also what `{{block}}` leaves in place).
    Call(String, Option<Pipe>, Loc),
    Break,
    Continue,
}

/// Where a node starts in the template text, and Go's `String()` of it (error contexts).
pub(crate) type Loc = (usize, Rc<str>);

#[derive(Clone, Debug)]
pub(crate) struct Pipe {
    pub(crate) decl: Vec<String>,
    pub(crate) assign: bool,
    pub(crate) cmds: Vec<Cmd>,
    pub(crate) loc: Loc,
}

/// One command of a pipeline: its operands, each with its location.
#[derive(Clone, Debug)]
pub(crate) struct Cmd {
    pub(crate) args: Vec<(Arg, Loc)>,
    pub(crate) loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Sub(Box<Pipe>, Vec<String>),
}

/// A parsed template.
#[derive(Clone, Debug)]
pub struct Template {
    pub(crate) name: String,
    /// The source (error locations are computed from it).
    pub(crate) text: String,
    pub(crate) nodes: Vec<Node>,
    /// Templates named by `{{define}}` and `{{block}}`.
    pub(crate) defs: BTreeMap<String, Rc<Vec<Node>>>,
}

fn perr(name: &str, line: usize, msg: impl std::fmt::Display) -> TemplateError {
    TemplateError(format!("template: {name}:{line}: {msg}"))
}

impl Template {
    /// Parses `text`; errors read like Go's (`template: NAME:LINE: unclosed action`).
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let items = split(name, text)?;
        let mut p = Parser {
            name,
            items,
            pos: 0,
            vars: vec![PRELUDE.iter().map(|s| format!("${s}")).collect()],
            defs: BTreeMap::new(),
            ranges: 0,
            depth: 0,
        };
        p.vars[0].push("$".into());
        let (nodes, end) = p.list()?;
        if let Some((kw, line, _)) = end {
            return Err(perr(name, line, format!("unexpected {{{{{kw}}}}}")));
        }
        Ok(Template {
            name: name.to_string(),
            text: text.to_string(),
            nodes,
            defs: p.defs,
        })
    }

    /// Executes the template against `data`.
    pub fn execute(&self, data: &TemplateData<'_>) -> Result<String, TemplateError> {
        let root = Val::Data;
        let mut ex = Exec {
            t: self,
            data,
            vars: vec![
                ("$".into(), root.clone()),
                ("$labels".into(), Val::Map(Rc::new(data.labels.clone()))),
                (
                    "$externalLabels".into(),
                    Val::Map(Rc::new(data.external_labels.clone())),
                ),
                ("$externalURL".into(), Val::Str(data.external_url.clone())),
                ("$value".into(), Val::Float(data.value)),
            ],
            out: String::new(),
            depth: 0,
            steps: 0,
            cur: self.name.as_str().into(),
            at: (0, "".into()),
        };
        ex.walk(&self.nodes, &root)?;
        Ok(ex.out)
    }
}

/// Expands `text` as Prometheus expands a rule's label or annotation: errors become
/// `<error expanding template: …>` in the result (and a log line), never a failure.
pub fn expand(name: &str, text: &str, data: &TemplateData<'_>) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    let res = Template::parse(name, text)
        .map_err(|e| format!("error parsing template {name}: {e}"))
        .and_then(|t| {
            t.execute(data)
                .map_err(|e| format!("error executing template {name}: {e}"))
        });
    match res {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(template = name, error = %e, "expanding alert template failed");
            format!("<error expanding template: {e}>")
        }
    }
}

struct Parser<'a> {
    name: &'a str,
    items: Vec<Item>,
    pos: usize,
    vars: Vec<Vec<String>>,
    defs: BTreeMap<String, Rc<Vec<Node>>>,
    /// `{{range}}`s open around the current position (`break`/`continue` need one).
    ranges: usize,
    /// Control structures open around the current position (`define` needs none).
    depth: usize,
}

/// Most nested control structures, and most nested parentheses in a pipeline, accepted
/// (keeps parsing and execution off deep stacks).
const MAX_DEPTH: usize = 100;

/// The `{{end}}`/`{{else…}}` that ended a list: its body, line, and offset in the text.
type End = Option<(String, usize, usize)>;

impl Parser<'_> {
    /// Parses nodes up to `{{end}}`/`{{else…}}` (returned with its tail) or EOF.
    fn list(&mut self) -> Result<(Vec<Node>, End), TemplateError> {
        let mut nodes = Vec::new();
        while self.pos < self.items.len() {
            let i = self.pos;
            self.pos += 1;
            let (body, line, boff) = match &self.items[i] {
                Item::Text(t) => {
                    if !t.is_empty() {
                        nodes.push(Node::Text(t.clone()));
                    }
                    continue;
                }
                Item::Action(a, l, o) => (
                    a.trim().to_string(),
                    *l,
                    o + (a.len() - a.trim_start().len()),
                ),
            };
            let kw = body.split_whitespace().next().unwrap_or("");
            let rest = body[kw.len()..].trim();
            let roff = off(boff, &body, rest);
            match kw {
                "end" | "else" => return Ok((nodes, Some((body.clone(), line, boff)))),
                "if" | "with" | "range" => {
                    if self.depth >= MAX_DEPTH {
                        return Err(perr(self.name, line, "template nested too deeply"));
                    }
                    self.vars.push(Vec::new());
                    let pipe = self.pipe(rest, roff, line, kw == "range")?;
                    self.depth += 1;
                    self.ranges += usize::from(kw == "range");
                    let res = self.list();
                    self.ranges -= usize::from(kw == "range");
                    let (then, end) = res?;
                    let mut branches = vec![(pipe, then)];
                    let mut els = Vec::new();
                    let mut end = end;
                    loop {
                        match end {
                            None => return Err(perr(self.name, line, "unexpected EOF")),
                            Some((e, _, _)) if e == "end" => break,
                            Some((e, l, _)) if e == "else" => {
                                let (b, e2) = self.list()?;
                                els = b;
                                if e2.as_ref().map(|x| x.0.as_str()) != Some("end") {
                                    return Err(perr(self.name, l, "expected end; found else"));
                                }
                                break;
                            }
                            Some((e, l, eo)) => {
                                let cond = e.strip_prefix("else").unwrap_or(&e).trim();
                                // Go 1.19 (promtool 2.42): only `else if`, only in `if`.
                                let Some(c) = cond
                                    .strip_prefix("if")
                                    .filter(|c| kw == "if" && c.starts_with(char::is_whitespace))
                                else {
                                    let word = cond.split_whitespace().next().unwrap_or("");
                                    return Err(perr(
                                        self.name,
                                        l,
                                        format!("unexpected <{word}> in else"),
                                    ));
                                };
                                let p = self.pipe(c.trim(), off(eo, &e, c.trim()), l, false)?;
                                let (b, e2) = self.list()?;
                                branches.push((p, b));
                                end = e2;
                            }
                        }
                    }
                    self.vars.pop();
                    self.depth -= 1;
                    nodes.push(match kw {
                        "if" => Node::If(branches, els),
                        _ => {
                            let (p, b) = branches.swap_remove(0);
                            if kw == "range" {
                                Node::Range(p, b, els)
                            } else {
                                Node::With(p, b, els)
                            }
                        }
                    });
                }
                "break" | "continue" => {
                    if !rest.is_empty() {
                        return Err(perr(
                            self.name,
                            line,
                            format!("unexpected {rest:?} in {kw}"),
                        ));
                    }
                    if self.ranges == 0 {
                        return Err(perr(
                            self.name,
                            line,
                            format!("{{{{{kw}}}}} outside {{{{range}}}}"),
                        ));
                    }
                    nodes.push(if kw == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    });
                }
                "define" | "block" => {
                    if kw == "define" && self.depth > 0 {
                        return Err(perr(self.name, line, "unexpected <define> in command"));
                    }
                    let (tname, pipe, loc) = self.template_args(kw, rest, roff, line)?;
                    // A defined template sees only `$` (its dot), as in Go.
                    let saved = std::mem::replace(&mut self.vars, vec![vec!["$".to_string()]]);
                    let (ranges, depth) = (self.ranges, self.depth);
                    self.ranges = 0;
                    self.depth = depth + 1;
                    let res = self.list();
                    (self.vars, self.ranges, self.depth) = (saved, ranges, depth);
                    let (body, end) = res?;
                    if end.as_ref().map(|e| e.0.as_str()) != Some("end") {
                        return Err(perr(self.name, line, format!("unexpected EOF in {kw}")));
                    }
                    self.defs.insert(tname.clone(), Rc::new(body));
                    if kw == "block" {
                        nodes.push(Node::Call(tname, pipe, loc));
                    }
                }
                "template" => {
                    let (tname, pipe, loc) = self.template_args(kw, rest, roff, line)?;
                    nodes.push(Node::Call(tname, pipe, loc));
                }
                _ => nodes.push(Node::Action(self.pipe(&body, boff, line, false)?)),
            }
        }
        Ok((nodes, None))
    }

    fn pipe(
        &mut self,
        s: &str,
        base: usize,
        line: usize,
        range: bool,
    ) -> Result<Pipe, TemplateError> {
        if s.is_empty() {
            return Err(perr(self.name, line, "missing value for command"));
        }
        let (toks, spans) = lex(self.name, s, line)?;
        let spans: Vec<(usize, String)> = spans.into_iter().map(|(o, t)| (base + o, t)).collect();
        let mut pos = 0;
        let p = self.pipe_toks(&toks, &spans, &mut pos, line, range, 0)?;
        if pos != toks.len() {
            return Err(perr(
                self.name,
                line,
                format!("unexpected {:?} in operand", toks[pos]),
            ));
        }
        Ok(p)
    }

    /// Parses a pipeline from `toks[*pos..]`; `parens` are the parentheses open around it.
    fn pipe_toks(
        &mut self,
        toks: &[Tok],
        spans: &[(usize, String)],
        pos: &mut usize,
        line: usize,
        range: bool,
        parens: usize,
    ) -> Result<Pipe, TemplateError> {
        let start = spans.get(*pos).map_or(0, |s| s.0);
        let mut decl = Vec::new();
        let mut assign = false;
        // `$x :=`, `$x =`, or (range) `$i, $e :=`.
        let mut j = *pos;
        let mut names = Vec::new();
        while let Some(Tok::Var(v, f)) = toks.get(j) {
            if !f.is_empty() {
                break;
            }
            names.push(v.clone());
            j += 1;
            match toks.get(j) {
                Some(Tok::Comma) if range && names.len() == 1 => j += 1,
                Some(Tok::Declare) | Some(Tok::Assign) => {
                    assign = toks[j] == Tok::Assign;
                    decl = std::mem::take(&mut names);
                    *pos = j + 1;
                    break;
                }
                _ => break,
            }
        }
        for d in &decl {
            if assign {
                self.check_var(d, line)?;
            } else if let Some(top) = self.vars.last_mut() {
                top.push(d.clone());
            }
        }
        let mut cmds: Vec<Cmd> = Vec::new();
        let mut cmd: Vec<(Arg, Loc)> = Vec::new();
        while let Some(t) = toks.get(*pos) {
            let (mut at, src) = spans[*pos].clone();
            *pos += 1;
            let mut text = src;
            let a = match t {
                Tok::Pipe => {
                    if cmd.is_empty() {
                        return Err(perr(self.name, line, "missing command"));
                    }
                    cmds.push(command(std::mem::take(&mut cmd)));
                    continue;
                }
                Tok::Close(_) => {
                    *pos -= 1;
                    break;
                }
                Tok::Open => {
                    if parens >= MAX_DEPTH {
                        return Err(perr(self.name, line, "max expression depth exceeded"));
                    }
                    let sub = self.pipe_toks(toks, spans, pos, line, false, parens + 1)?;
                    let Some(Tok::Close(f)) = toks.get(*pos) else {
                        return Err(perr(self.name, line, "unclosed left paren"));
                    };
                    // Go: a parenthesised pipeline is `(…)`, a chain `(…).Field`.
                    text = format!("({}){}", sub.loc.1, &spans[*pos].1[1..]);
                    at = if f.is_empty() {
                        sub.loc.0
                    } else {
                        spans[*pos].0 + 1
                    };
                    *pos += 1;
                    Arg::Sub(Box::new(sub), f.clone())
                }
                Tok::Word(w) => match w.as_str() {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "nil" => Arg::Nil,
                    _ if FUNCS.contains(&w.as_str()) => Arg::Func(w.clone()),
                    _ => return Err(perr(self.name, line, format!("function {w:?} not defined"))),
                },
                Tok::Field(f) => Arg::Field(f.clone()),
                Tok::Var(v, f) => {
                    self.check_var(v, line)?;
                    Arg::Var(v.clone(), f.clone())
                }
                Tok::Str(s) => Arg::Str(s.clone()),
                Tok::Num(n) => number(n)
                    .ok_or_else(|| perr(self.name, line, format!("bad number syntax: {n:?}")))?,
                Tok::Declare | Tok::Assign | Tok::Comma => {
                    return Err(perr(
                        self.name,
                        line,
                        format!("unexpected {t:?} in operand"),
                    ))
                }
            };
            cmd.push((a, (at, text.into())));
        }
        if cmd.is_empty() {
            return Err(perr(self.name, line, "missing value for command"));
        }
        cmds.push(command(cmd));
        let mut text = String::new();
        if !decl.is_empty() {
            text = format!("{} := ", decl.join(", "));
        }
        let parts: Vec<&str> = cmds.iter().map(|c| &*c.loc.1).collect();
        text.push_str(&parts.join(" | "));
        Ok(Pipe {
            decl,
            assign,
            cmds,
            loc: (start, text.into()),
        })
    }

    /// The quoted name, optional pipeline, and location (Go's `{{template "name" …}}`) of
    /// `template`/`block`/`define`.
    fn template_args(
        &mut self,
        kw: &str,
        rest: &str,
        roff: usize,
        line: usize,
    ) -> Result<(String, Option<Pipe>, Loc), TemplateError> {
        let (toks, _) = lex(self.name, rest, line)?;
        let Some(Tok::Str(name)) = toks.first() else {
            let got = rest.split_whitespace().next().unwrap_or("");
            return Err(perr(
                self.name,
                line,
                format!("unexpected \"{got}\" in {kw} clause"),
            ));
        };
        let name = name.clone();
        let after = rest.trim_start();
        let end = quoted_len(after);
        let tail = after.get(end..).unwrap_or("").trim();
        let at = off(roff, rest, after);
        let pipe = match (kw, tail.is_empty()) {
            (_, true) => None,
            ("define", false) => {
                return Err(perr(
                    self.name,
                    line,
                    format!("unexpected {tail:?} in define clause"),
                ))
            }
            _ => Some(self.pipe(tail, off(roff, rest, tail), line, false)?),
        };
        let text = match &pipe {
            Some(p) => format!("{{{{template {name:?} {}}}}}", p.loc.1),
            None => format!("{{{{template {name:?}}}}}"),
        };
        Ok((name, pipe, (at, text.into())))
    }

    fn check_var(&self, v: &str, line: usize) -> Result<(), TemplateError> {
        if self.vars.iter().any(|s| s.iter().any(|x| x == v)) {
            Ok(())
        } else {
            Err(perr(self.name, line, format!("undefined variable {v:?}")))
        }
    }
}

/// A command from its operands; its location is its first operand's.
fn command(args: Vec<(Arg, Loc)>) -> Cmd {
    let parts: Vec<&str> = args.iter().map(|(_, l)| &*l.1).collect();
    let text: Rc<str> = parts.join(" ").into();
    let at = args.first().map_or(0, |(_, l)| l.0);
    Cmd {
        args,
        loc: (at, text),
    }
}

fn number(n: &str) -> Option<Arg> {
    let clean = n.replace('_', "");
    if let Ok(i) = clean.parse::<i64>() {
        return Some(Arg::Int(i));
    }
    if let Some(h) = clean.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok().map(Arg::Int);
    }
    clean.parse::<f64>().ok().map(Arg::Float)
}

mod exec;
mod funcs;
mod lex;

use lex::{lex, off, quoted_len, split, Item, Tok};
#[cfg(test)]
mod tests;
