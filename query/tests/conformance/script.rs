//! Parser of Prometheus's PromQL test scripts (`*.test`), following the reference runner
//! (`promql/promqltest/test.go`) as described in `shared/conformance/promql/FORMAT.md`.
//!
//! Series descriptions and value sequences are parsed by [`super::series`].

use std::sync::OnceLock;

use regex::Regex;
use tsdb::Labels;

use super::series::{parse_duration, parse_number, parse_series_line, unquote_prefix, SeqValue};

/// A `load` command.
#[derive(Debug)]
pub struct Load {
    /// Sample interval (ms).
    pub interval_ms: i64,
    /// `load_with_nhcb`.
    pub nhcb: bool,
    /// Series in the order written; a repeated series replaces the earlier line.
    pub series: Vec<(Labels, Vec<SeqValue>)>,
}

/// How the expression of an `eval` is evaluated.
#[derive(Clone, Copy, Debug)]
pub enum EvalKind {
    /// Instant query at `t` (ms).
    Instant { t: i64 },
    /// Range query.
    Range { start: i64, end: i64, step: i64 },
}

/// An expected error text or annotation.
#[derive(Clone, Debug)]
pub enum TextMatch {
    /// Anything.
    Any,
    /// Exactly this text.
    Msg(String),
    /// Matching this regex.
    Regex(Regex),
}

impl TextMatch {
    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            TextMatch::Any => true,
            TextMatch::Msg(m) => m == s,
            TextMatch::Regex(r) => r.is_match(s),
        }
    }

    /// How it is shown in reports.
    pub fn describe(&self) -> String {
        match self {
            TextMatch::Any => "<any>".into(),
            TextMatch::Msg(m) => format!("msg {m:?}"),
            TextMatch::Regex(r) => format!("regex {:?}", r.as_str()),
        }
    }
}

/// An `eval` command with its expectations.
#[derive(Debug)]
pub struct Eval {
    /// 1-based line of the header.
    pub line: usize,
    /// The PromQL expression.
    pub expr: String,
    /// Instant or range.
    pub kind: EvalKind,
    /// The query must fail (`eval_fail` or `expect fail`).
    pub fail: bool,
    /// Expected error texts (`expected_fail_message`, `expected_fail_regexp`, `expect fail msg:`).
    pub fail_matches: Vec<TextMatch>,
    /// At least one warning required (`eval_warn` or `expect warn`).
    pub warn: bool,
    /// `expect warn` lines.
    pub warn_matches: Vec<TextMatch>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// At least one info required (`eval_info` or `expect info`).
    pub info: bool,
    /// `expect info` lines.
    pub info_matches: Vec<TextMatch>,
    /// `expect no_info`.
    pub no_info: bool,
    /// `eval_ordered` or `expect ordered`.
    pub ordered: bool,
    /// `expect range vector from … to … step …` (ms).
    pub range_vector: Option<(i64, i64, i64)>,
    /// `expect string`.
    pub string: Option<String>,
    /// A scalar expectation.
    pub scalar: Option<f64>,
    /// Expected series in the order written.
    pub series: Vec<(Labels, Vec<SeqValue>)>,
}

impl Eval {
    /// Whether an expectation holds a native-histogram literal.
    pub fn expects_histogram(&self) -> bool {
        self.series
            .iter()
            .any(|(_, vals)| vals.iter().any(|v| matches!(v, SeqValue::Histogram(_))))
    }
}

/// A script command.
#[derive(Debug)]
pub enum Cmd {
    /// Drop all data.
    Clear,
    /// Add data.
    Load(Load),
    /// Evaluate and check.
    Eval(Box<Eval>),
}

/// A parse error at a 1-based line.
#[derive(Debug)]
pub struct ScriptError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

struct Patterns {
    load: Regex,
    instant: Regex,
    range: Regex,
    expect: Regex,
    expect_range: Regex,
}

fn pats() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        load: Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").unwrap(),
        instant: Regex::new(
            r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
        )
        .unwrap(),
        range: Regex::new(
            r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
        )
        .unwrap(),
        expect: Regex::new(
            r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$",
        )
        .unwrap(),
        expect_range: Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
            .unwrap(),
    })
}

fn parse_load(lines: &[String], i: &mut usize) -> Result<Load, ScriptError> {
    let err = |line: usize, msg: String| ScriptError {
        line: line + 1,
        msg,
    };
    let c = pats()
        .load
        .captures(&lines[*i])
        .ok_or_else(|| err(*i, "invalid load command".into()))?;
    let interval_ms = parse_duration(&c[2]).map_err(|e| err(*i, e))?;
    let mut load = Load {
        interval_ms,
        nhcb: c.get(1).is_some(),
        series: Vec::new(),
    };
    while *i + 1 < lines.len() && !lines[*i + 1].is_empty() {
        *i += 1;
        if let Some((labels, vals)) = parse_series_line(&lines[*i]).map_err(|e| err(*i, e))? {
            match load.series.iter_mut().find(|(l, _)| *l == labels) {
                Some(entry) => entry.1 = vals,
                None => load.series.push((labels, vals)),
            }
        }
    }
    Ok(load)
}

fn text_match(kind: &str, text: &str) -> Result<TextMatch, String> {
    let text = text.trim();
    match kind {
        "msg" => Ok(TextMatch::Msg(text.to_string())),
        _ => Regex::new(text)
            .map(TextMatch::Regex)
            .map_err(|e| format!("invalid regex {text:?}: {e}")),
    }
}

fn parse_eval(lines: &[String], i: &mut usize) -> Result<Eval, ScriptError> {
    let header = *i;
    let err = |line: usize, msg: String| ScriptError {
        line: line + 1,
        msg,
    };
    let p = pats();
    let (modifier, expr, kind) = if let Some(c) = p.instant.captures(&lines[header]) {
        let at = c.get(2).map_or("", |m| m.as_str());
        let t = parse_duration(at).map_err(|e| err(header, e))?;
        (c.get(1), c[3].to_string(), EvalKind::Instant { t })
    } else if let Some(c) = p.range.captures(&lines[header]) {
        let d = |k: usize| parse_duration(&c[k]).map_err(|e| err(header, e));
        let (start, end, step) = (d(2)?, d(3)?, d(4)?);
        if end < start {
            return Err(err(header, "end before start".into()));
        }
        (
            c.get(1),
            c[5].to_string(),
            EvalKind::Range { start, end, step },
        )
    } else {
        return Err(err(header, "invalid eval command".into()));
    };
    let modifier = modifier.map_or("", |m| m.as_str());
    let mut ev = Eval {
        line: header + 1,
        expr,
        kind,
        fail: modifier == "fail",
        fail_matches: Vec::new(),
        warn: modifier == "warn",
        warn_matches: Vec::new(),
        no_warn: false,
        info: modifier == "info",
        info_matches: Vec::new(),
        no_info: false,
        ordered: modifier == "ordered",
        range_vector: None,
        string: None,
        scalar: None,
        series: Vec::new(),
    };
    let header_fail = ev.fail;
    while *i + 1 < lines.len() && !lines[*i + 1].is_empty() {
        *i += 1;
        let l = lines[*i].as_str();
        let e = |msg: String| err(*i, msg);
        if header_fail {
            if let Some(m) = l.strip_prefix("expected_fail_message") {
                ev.fail_matches.push(TextMatch::Msg(m.trim().to_string()));
                break;
            }
            if let Some(m) = l.strip_prefix("expected_fail_regexp") {
                ev.fail_matches.push(text_match("regex", m).map_err(e)?);
                break;
            }
        }
        if l.starts_with("expect range vector") {
            let c = p
                .expect_range
                .captures(l)
                .ok_or_else(|| e(format!("invalid range vector definition {l:?}")))?;
            let d = |k: usize| parse_duration(&c[k]).map_err(|x| err(*i, x));
            let (from, to, step) = (d(1)?, d(2)?, d(3)?);
            if to < from {
                return Err(e("range vector end before start".into()));
            }
            if let EvalKind::Instant { t } = &mut ev.kind {
                *t = to;
            }
            ev.range_vector = Some((from, to, step));
            continue;
        }
        if let Some(s) = l.strip_prefix("expect string") {
            let (v, rest) = unquote_prefix(s.strip_prefix(' ').unwrap_or(s)).map_err(e)?;
            if !rest.is_empty() {
                return Err(e(format!("junk after expected string: {rest:?}")));
            }
            ev.string = Some(v);
            continue;
        }
        if l.split(' ').next() == Some("expect") {
            let c = p
                .expect
                .captures(l.trim())
                .ok_or_else(|| e(format!("invalid expect statement {l:?}")))?;
            let m = match (c.get(2), c.get(3)) {
                (Some(k), Some(t)) => text_match(k.as_str(), t.as_str()).map_err(e)?,
                _ => TextMatch::Any,
            };
            match &c[1] {
                "ordered" => ev.ordered = true,
                "fail" => {
                    if ev.fail && !header_fail {
                        return Err(e("multiple expect fail lines".into()));
                    }
                    ev.fail = true;
                    if !matches!(m, TextMatch::Any) {
                        ev.fail_matches.push(m);
                    }
                }
                "warn" => {
                    ev.warn = true;
                    ev.warn_matches.push(m);
                }
                "info" => {
                    ev.info = true;
                    ev.info_matches.push(m);
                }
                "no_warn" => ev.no_warn = true,
                "no_info" => ev.no_info = true,
                other => return Err(e(format!("unknown expect type {other}"))),
            }
            if (ev.no_warn && !ev.warn_matches.is_empty())
                || (ev.no_info && !ev.info_matches.is_empty())
            {
                return Err(e("warn/no_warn or info/no_info used together".into()));
            }
            continue;
        }
        if let Ok(v) = parse_number(l) {
            // As in the reference runner, a scalar line ends the body.
            ev.scalar = Some(v);
            break;
        }
        let (labels, vals) = parse_series_line(l)
            .map_err(e)?
            .ok_or_else(|| e("start timestamps in an expectation".into()))?;
        if vals.len() > 1
            && matches!(ev.kind, EvalKind::Instant { .. })
            && ev.range_vector.is_none()
        {
            return Err(e("multiple values in an instant evaluation".into()));
        }
        match ev.series.iter_mut().find(|(l, _)| *l == labels) {
            Some(entry) => entry.1 = vals,
            None => ev.series.push((labels, vals)),
        }
    }
    Ok(ev)
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<Cmd>, ScriptError> {
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split([' ', '\t'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if word == "clear" {
            cmds.push(Cmd::Clear);
        } else if word.starts_with("load") {
            cmds.push(Cmd::Load(parse_load(&lines, &mut i)?));
        } else if word.starts_with("eval") {
            cmds.push(Cmd::Eval(Box::new(parse_eval(&lines, &mut i)?)));
        } else {
            return Err(ScriptError {
                line: i + 1,
                msg: format!("invalid command {l:?}"),
            });
        }
        i += 1;
    }
    Ok(cmds)
}
