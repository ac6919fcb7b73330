//! The Go `text/template` subset rule files use in labels and annotations, with
//! Prometheus' template functions (`humanize`, `query`, `first`, …).

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::gofmt;

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
enum Node {
    Text(String),
    Action(Pipe, usize),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>, usize),
    Range(Pipe, Vec<Node>, Vec<Node>, usize),
    With(Pipe, Vec<Node>, Vec<Node>, usize),
}

#[derive(Clone, Debug)]
struct Pipe {
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Vec<Arg>>,
}

#[derive(Clone, Debug)]
enum Arg {
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
    name: String,
    nodes: Vec<Node>,
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

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn fields(s: &str, i: &mut usize) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    while *i < b.len() && b[*i] == b'.' {
        let st = *i + 1;
        let mut j = st;
        while j < b.len() && ident_char(b[j] as char) {
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
                while i < b.len() && ident_char(b[i] as char) {
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
            c if ident_char(c) => {
                let st = i;
                while i < b.len() && ident_char(b[i] as char) {
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

#[derive(Clone, Debug)]
enum Val {
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

struct Exec<'a, 'd> {
    t: &'a Template,
    data: &'a TemplateData<'d>,
    vars: Vec<(String, Val)>,
    out: String,
}

impl Exec<'_, '_> {
    fn err(&self, line: usize, msg: impl std::fmt::Display) -> TemplateError {
        TemplateError(format!(
            "template: {}:{line}: executing {:?}: {msg}",
            self.t.name, self.t.name
        ))
    }

    fn walk(&mut self, nodes: &[Node], dot: &Val) -> Result<(), TemplateError> {
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
                    "toUpper" => x.to_uppercase(),
                    "toLower" => x.to_lowercase(),
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
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
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

#[cfg(test)]
mod tests;
