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
];

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe, usize),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>, usize),
    Range(Pipe, Vec<Node>, Vec<Node>, usize),
    With(Pipe, Vec<Node>, Vec<Node>, usize),
}

#[derive(Clone, Debug)]
pub(crate) struct Pipe {
    pub(crate) decl: Vec<String>,
    pub(crate) assign: bool,
    pub(crate) cmds: Vec<Vec<Arg>>,
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

#[derive(Clone, Debug, PartialEq)]
enum Tok {
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

/// A parsed template.
#[derive(Clone, Debug)]
pub struct Template {
    pub(crate) name: String,
    pub(crate) nodes: Vec<Node>,
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
        };
        p.vars[0].push("$".into());
        let (nodes, end) = p.list()?;
        if let Some((kw, line)) = end {
            return Err(perr(name, line, format!("unexpected {{{{{kw}}}}}")));
        }
        Ok(Template {
            name: name.to_string(),
            nodes,
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

enum Item {
    Text(String),
    Action(String, usize),
}

/// Splits text and `{{ actions }}`, applying trim markers and dropping comments.
fn split(name: &str, text: &str) -> Result<Vec<Item>, TemplateError> {
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
            items.push(Item::Action(body.to_string(), line));
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

fn lex(name: &str, s: &str, line: usize) -> Result<Vec<Tok>, TemplateError> {
    let b = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
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
                toks.push(Tok::Var(v, fields(s, &mut i)));
            }
            '.' if b.get(i + 1).is_none_or(|n| !n.is_ascii_digit()) => {
                let f = fields(s, &mut i);
                if f.is_empty() {
                    i += 1;
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
    }
    Ok(toks)
}

struct Parser<'a> {
    name: &'a str,
    items: Vec<Item>,
    pos: usize,
    vars: Vec<Vec<String>>,
}

type End = Option<(String, usize)>;

impl Parser<'_> {
    /// Parses nodes up to `{{end}}`/`{{else…}}` (returned with its tail) or EOF.
    fn list(&mut self) -> Result<(Vec<Node>, End), TemplateError> {
        let mut nodes = Vec::new();
        while self.pos < self.items.len() {
            let i = self.pos;
            self.pos += 1;
            let (body, line) = match &self.items[i] {
                Item::Text(t) => {
                    if !t.is_empty() {
                        nodes.push(Node::Text(t.clone()));
                    }
                    continue;
                }
                Item::Action(a, l) => (a.trim().to_string(), *l),
            };
            let kw = body.split_whitespace().next().unwrap_or("");
            let rest = body[kw.len()..].trim();
            match kw {
                "end" | "else" => return Ok((nodes, Some((body.clone(), line)))),
                "if" | "with" | "range" => {
                    self.vars.push(Vec::new());
                    let pipe = self.pipe(rest, line, kw == "range")?;
                    let (then, end) = self.list()?;
                    let mut branches = vec![(pipe, then)];
                    let mut els = Vec::new();
                    let mut end = end;
                    loop {
                        match end {
                            None => return Err(perr(self.name, line, "unexpected EOF")),
                            Some((e, _)) if e == "end" => break,
                            Some((e, l)) if e == "else" => {
                                let (b, e2) = self.list()?;
                                els = b;
                                if e2.as_ref().map(|x| x.0.as_str()) != Some("end") {
                                    return Err(perr(self.name, l, "expected end; found else"));
                                }
                                break;
                            }
                            Some((e, l)) => {
                                let cond = e.strip_prefix("else").unwrap_or(&e).trim();
                                let Some(c) = cond.strip_prefix(kw).filter(|_| kw != "range")
                                else {
                                    return Err(perr(
                                        self.name,
                                        l,
                                        format!("unexpected {{{{{e}}}}}"),
                                    ));
                                };
                                let p = self.pipe(c.trim(), l, false)?;
                                let (b, e2) = self.list()?;
                                branches.push((p, b));
                                end = e2;
                            }
                        }
                    }
                    self.vars.pop();
                    nodes.push(match kw {
                        "if" => Node::If(branches, els, line),
                        _ => {
                            let (p, b) = branches.swap_remove(0);
                            if kw == "range" {
                                Node::Range(p, b, els, line)
                            } else {
                                Node::With(p, b, els, line)
                            }
                        }
                    });
                }
                "define" | "template" | "block" | "break" | "continue" => {
                    return Err(perr(
                        self.name,
                        line,
                        format!("{{{{{kw}}}}} is not supported"),
                    ))
                }
                _ => nodes.push(Node::Action(self.pipe(&body, line, false)?, line)),
            }
        }
        Ok((nodes, None))
    }

    fn pipe(&mut self, s: &str, line: usize, range: bool) -> Result<Pipe, TemplateError> {
        if s.is_empty() {
            return Err(perr(self.name, line, "missing value for command"));
        }
        let toks = lex(self.name, s, line)?;
        let mut pos = 0;
        let p = self.pipe_toks(&toks, &mut pos, line, range)?;
        if pos != toks.len() {
            return Err(perr(
                self.name,
                line,
                format!("unexpected {:?} in operand", toks[pos]),
            ));
        }
        Ok(p)
    }

    fn pipe_toks(
        &mut self,
        toks: &[Tok],
        pos: &mut usize,
        line: usize,
        range: bool,
    ) -> Result<Pipe, TemplateError> {
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
        let mut cmds = Vec::new();
        let mut cmd = Vec::new();
        while let Some(t) = toks.get(*pos) {
            *pos += 1;
            let a = match t {
                Tok::Pipe => {
                    if cmd.is_empty() {
                        return Err(perr(self.name, line, "missing command"));
                    }
                    cmds.push(std::mem::take(&mut cmd));
                    continue;
                }
                Tok::Close(_) => {
                    *pos -= 1;
                    break;
                }
                Tok::Open => {
                    let sub = self.pipe_toks(toks, pos, line, false)?;
                    let Some(Tok::Close(f)) = toks.get(*pos) else {
                        return Err(perr(self.name, line, "unclosed left paren"));
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
            cmd.push(a);
        }
        if cmd.is_empty() {
            return Err(perr(self.name, line, "missing value for command"));
        }
        cmds.push(cmd);
        Ok(Pipe { decl, assign, cmds })
    }

    fn check_var(&self, v: &str, line: usize) -> Result<(), TemplateError> {
        if self.vars.iter().any(|s| s.iter().any(|x| x == v)) {
            Ok(())
        } else {
            Err(perr(self.name, line, format!("undefined variable {v:?}")))
        }
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
#[cfg(test)]
mod tests;
