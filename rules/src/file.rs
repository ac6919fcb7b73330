//! Prometheus rule files: YAML loading and promtool's validation, with `file:line` errors.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use query::promql::{parse, Expr};
use serde::Deserialize;

use crate::template;
use crate::Error;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    name: String,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    query_offset: Option<String>,
    #[serde(default)]
    limit: usize,
    /// Prometheus 3: labels added to every rule's results (rule labels win).
    #[serde(default)]
    labels: Option<serde_yaml::Mapping>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    expr: Option<ExprText>,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: Option<serde_yaml::Mapping>,
    #[serde(default)]
    annotations: Option<serde_yaml::Mapping>,
}

/// `expr` may be written as a YAML string or number (`expr: 1`).
#[derive(Deserialize)]
#[serde(untagged)]
enum ExprText {
    S(String),
    N(serde_yaml::Number),
    B(bool),
}

impl ExprText {
    fn text(&self) -> String {
        match self {
            ExprText::S(s) => s.clone(),
            ExprText::N(n) => n.to_string(),
            ExprText::B(b) => b.to_string(),
        }
    }
}

/// A loaded rule file.
#[derive(Clone, Debug)]
pub struct RuleFile {
    /// The path as given.
    pub path: String,
    /// Its groups, in file order.
    pub groups: Vec<RuleGroup>,
}

/// One `groups` entry.
#[derive(Clone, Debug)]
pub struct RuleGroup {
    /// Group name (unique within its file).
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// `interval` in ms, if set (else the global evaluation interval).
    pub interval_ms: Option<i64>,
    /// `query_offset` in ms, if set.
    pub query_offset_ms: Option<i64>,
    /// `limit`: most series an alerting rule may produce, or samples a recording rule (0 = none).
    pub limit: usize,
    /// Group-level `labels` (Prometheus 3), already merged into every rule's `labels`.
    pub labels: Vec<(String, String)>,
    /// The rules, in evaluation order.
    pub rules: Vec<Rule>,
}

/// Whether a rule records or alerts, with its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// `record: name`.
    Record(String),
    /// `alert: name`.
    Alert(String),
}

/// One rule of a group.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Record or alert, and the name.
    pub kind: RuleKind,
    /// The expression as written.
    pub expr: String,
    /// The parsed expression.
    pub parsed: Arc<Expr>,
    /// `for` in ms (alerts).
    pub for_ms: i64,
    /// `keep_firing_for` in ms (alerts).
    pub keep_firing_for_ms: i64,
    /// `labels`, sorted by name (values may be templates for alerts).
    pub labels: Vec<(String, String)>,
    /// `annotations`, sorted by name (templates).
    pub annotations: Vec<(String, String)>,
}

impl Rule {
    /// The rule's name (the record's metric or the alert's name).
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Record(n) | RuleKind::Alert(n) => n,
        }
    }

    /// Whether two rules have the same definition (reload keeps state of equal rules).
    pub fn same_definition(&self, o: &Rule) -> bool {
        self.kind == o.kind
            && self.expr == o.expr
            && self.for_ms == o.for_ms
            && self.keep_firing_for_ms == o.keep_firing_for_ms
            && self.labels == o.labels
            && self.annotations == o.annotations
    }
}

/// Whether `s` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn valid_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_' || ch == ':')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
}

/// Whether `s` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Parses a duration field; `None` → 0.
fn duration(s: &Option<String>) -> Result<i64, String> {
    match s {
        None => Ok(0),
        Some(s) => query::promql::lexer::parse_duration(s.trim())
            .ok_or_else(|| format!("not a valid duration string: {s:?}")),
    }
}

/// Finds the first line at or after `from` whose key is `key` with value `value` (unquoted);
/// returns (line, column) of the value, 1-based.
fn locate(lines: &[&str], from: usize, key: &str, value: Option<&str>) -> Option<(usize, usize)> {
    for (i, line) in lines.iter().enumerate().skip(from) {
        let t = line.trim_start();
        let mut off = line.len() - t.len();
        let t2 = t.strip_prefix("- ").map(str::trim_start).unwrap_or(t);
        off += t.len() - t2.len();
        let Some(rest) = t2.strip_prefix(key).and_then(|r| r.strip_prefix(':')) else {
            continue;
        };
        let v = rest.trim_start();
        let col = off + key.len() + 1 + (rest.len() - v.len());
        let unq = v.trim_end().trim_matches(|c| c == '"' || c == '\'');
        if value.is_none_or(|want| unq == want) {
            return Some((i + 1, col + 1));
        }
    }
    None
}

/// Group labels overridden by the rule's own (Prometheus' `FromMaps(group, rule)`), sorted.
fn merge_labels(group: &[(String, String)], rule: &[(String, String)]) -> Vec<(String, String)> {
    let mut m: std::collections::BTreeMap<String, String> = group.iter().cloned().collect();
    m.extend(rule.iter().cloned());
    m.into_iter().collect()
}

fn mapping(m: &Option<serde_yaml::Mapping>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (k, v) in m.iter().flatten() {
        let key = scalar(k).ok_or("label and annotation names must be strings")?;
        let val = scalar(v).ok_or_else(|| format!("value of {key:?} must be a string"))?;
        out.push((key, val));
    }
    out.sort();
    Ok(out)
}

fn scalar(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Loads and validates a rule file; every problem is reported (`file: line:col: message`).
pub fn load_file(path: &Path) -> Result<RuleFile, Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: name.clone(),
        source: e,
    })?;
    parse_file(&name, &text)
}

/// Parses and validates rule-file `text` named `name`.
pub fn parse_file(name: &str, text: &str) -> Result<RuleFile, Error> {
    let raw: RawFile = if text.trim().is_empty() {
        RawFile { groups: Vec::new() }
    } else {
        serde_yaml::from_str(text).map_err(|e| {
            let loc = e
                .location()
                .map(|l| format!("{}:{}: ", l.line(), l.column()))
                .unwrap_or_default();
            Error::Invalid {
                file: name.to_string(),
                errors: vec![format!("{name}: {loc}{e}")],
            }
        })?
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut errors = Vec::new();
    let mut groups = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor = 0;
    for g in raw.groups {
        let gpos = locate(&lines, cursor, "name", Some(&g.name));
        if let Some((l, _)) = gpos {
            cursor = l;
        }
        let at =
            |p: Option<(usize, usize)>| p.map(|(l, c)| format!("{l}:{c}: ")).unwrap_or_default();
        if g.name.is_empty() {
            errors.push(format!("{name}: {}Groupname must not be empty", at(gpos)));
        } else if !seen.insert(g.name.clone()) {
            // promtool points at the group's mapping, one column left of `name`.
            let p = gpos.map(|(l, c)| (l, c.saturating_sub(6).max(1)));
            errors.push(format!(
                "{name}: {}groupname: {:?} is repeated in the same file",
                at(p),
                g.name
            ));
        }
        let mut group = RuleGroup {
            name: g.name.clone(),
            file: name.to_string(),
            interval_ms: None,
            query_offset_ms: None,
            limit: g.limit,
            labels: Vec::new(),
            rules: Vec::new(),
        };
        match mapping(&g.labels) {
            Ok(l) => group.labels = l,
            Err(e) => errors.push(format!("{name}: group {:?}: {e}", g.name)),
        }
        for (k, _) in &group.labels {
            if !valid_label_name(k) || k == "__name__" {
                errors.push(format!(
                    "{name}: group {:?}: invalid label name: {k}",
                    g.name
                ));
            }
        }
        for (field, v, dst) in [
            ("interval", &g.interval, &mut group.interval_ms),
            ("query_offset", &g.query_offset, &mut group.query_offset_ms),
        ] {
            match (v, duration(v)) {
                (Some(_), Ok(ms)) => *dst = Some(ms),
                (Some(_), Err(e)) => {
                    errors.push(format!("{name}: group {:?}: {field}: {e}", g.name))
                }
                _ => {}
            }
        }
        for (i, r) in g.rules.into_iter().enumerate() {
            let rname = r.record.clone().or(r.alert.clone()).unwrap_or_default();
            let key = if r.record.is_some() {
                "record"
            } else {
                "alert"
            };
            let rpos = locate(&lines, cursor, key, Some(&rname));
            if let Some((l, _)) = rpos {
                cursor = l;
            }
            let epos = locate(&lines, cursor, "expr", None);
            let mut errs: Vec<(Option<(usize, usize)>, String)> = Vec::new();
            match validate_rule(r, &mut errs, rpos, epos) {
                Some(mut rule) if errs.is_empty() => {
                    rule.labels = merge_labels(&group.labels, &rule.labels);
                    group.rules.push(rule)
                }
                _ => {}
            }
            for (p, e) in errs {
                errors.push(format!(
                    "{name}: {}group {:?}, rule {}, {:?}: {e}",
                    at(p),
                    g.name,
                    i + 1,
                    rname
                ));
            }
        }
        groups.push(group);
    }
    if !errors.is_empty() {
        return Err(Error::Invalid {
            file: name.to_string(),
            errors,
        });
    }
    Ok(RuleFile {
        path: name.to_string(),
        groups,
    })
}

type Pos = Option<(usize, usize)>;

/// Validates one rule as promtool's `rulefmt` does; problems go to `errs`.
fn validate_rule(r: RawRule, errs: &mut Vec<(Pos, String)>, rpos: Pos, epos: Pos) -> Option<Rule> {
    let kind = match (&r.record, &r.alert) {
        (Some(_), Some(_)) => {
            errs.push((rpos, "only one of 'record' and 'alert' must be set".into()));
            return None;
        }
        (None, None) => {
            errs.push((rpos, "one of 'record' or 'alert' must be set".into()));
            return None;
        }
        (Some(rec), None) => RuleKind::Record(rec.clone()),
        (None, Some(a)) => RuleKind::Alert(a.clone()),
    };
    let expr = r.expr.as_ref().map(ExprText::text).unwrap_or_default();
    let parsed = if expr.trim().is_empty() {
        errs.push((epos, "field 'expr' must be set in rule".into()));
        None
    } else {
        match parse(&expr) {
            Ok(e) => Some(e),
            Err(e) => {
                errs.push((epos, format!("could not parse expression: {e}")));
                None
            }
        }
    };
    if let RuleKind::Record(rec) = &kind {
        if r.annotations.as_ref().is_some_and(|m| !m.is_empty()) {
            errs.push((rpos, "invalid field 'annotations' in recording rule".into()));
        }
        if r.for_.is_some() {
            errs.push((rpos, "invalid field 'for' in recording rule".into()));
        }
        if r.keep_firing_for.is_some() {
            errs.push((
                rpos,
                "invalid field 'keep_firing_for' in recording rule".into(),
            ));
        }
        if !valid_metric_name(rec) {
            errs.push((rpos, format!("invalid recording rule name: {rec}")));
        }
    }
    let for_ms = duration(&r.for_).unwrap_or_else(|e| {
        errs.push((None, format!("for: {e}")));
        0
    });
    let keep_firing_for_ms = duration(&r.keep_firing_for).unwrap_or_else(|e| {
        errs.push((None, format!("keep_firing_for: {e}")));
        0
    });
    let (labels, annotations) = match (mapping(&r.labels), mapping(&r.annotations)) {
        (Ok(l), Ok(a)) => (l, a),
        (Err(e), _) | (_, Err(e)) => {
            errs.push((None, e));
            return None;
        }
    };
    for (k, _) in &labels {
        if !valid_label_name(k) || k == "__name__" {
            errs.push((None, format!("invalid label name: {k}")));
        }
    }
    for (k, _) in &annotations {
        if !valid_label_name(k) {
            errs.push((None, format!("invalid annotation name: {k}")));
        }
    }
    if let RuleKind::Alert(a) = &kind {
        let tname = format!("__alert_{a}");
        for (what, set) in [("label", &labels), ("annotation", &annotations)] {
            for (k, v) in set {
                if let Err(e) = template::Template::parse(&tname, v) {
                    errs.push((None, format!("{what} {k:?}: {e}")));
                }
            }
        }
    }
    Some(Rule {
        kind,
        expr,
        parsed: Arc::new(parsed?),
        for_ms,
        keep_firing_for_ms,
        labels,
        annotations,
    })
}

/// promtool's `duplicate-rules` lint: rules with the same name and labels, as
/// `(name, labels)`, each reported once.
pub fn duplicate_rules(files: &[&RuleFile]) -> Vec<(String, Vec<(String, String)>)> {
    let mut all: Vec<(String, Vec<(String, String)>)> = files
        .iter()
        .flat_map(|f| f.groups.iter())
        .flat_map(|g| g.rules.iter())
        .map(|r| (r.name().to_string(), r.labels.clone()))
        .collect();
    all.sort();
    let mut dups: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for w in all.windows(2) {
        if w[0] == w[1] && dups.last() != Some(&w[1]) {
            dups.push(w[1].clone());
        }
    }
    dups
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD: &str = "groups:\n- name: a\n  rules:\n  - record: \"bad-name\"\n    expr: up\n  - alert: X\n    expr: up +\n    annotations:\n      s: \"{{ $labels.x \"\n  - alert: Y\n    expr: up\n    labels:\n      \"0bad\": x\n- name: a\n  rules: []\n";

    #[test]
    fn errors_name_file_and_line_like_promtool() {
        let Err(Error::Invalid { errors, .. }) = parse_file("bad.yml", BAD) else {
            panic!("expected errors");
        };
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].starts_with("bad.yml: 4:13: group \"a\", rule 1, \"bad-name\": invalid recording rule name: bad-name"), "{}", errors[0]);
        assert!(
            errors[1].starts_with(
                "bad.yml: 7:11: group \"a\", rule 2, \"X\": could not parse expression"
            ),
            "{}",
            errors[1]
        );
        assert!(
            errors[2].contains("annotation \"s\": template: __alert_X:1: unclosed action"),
            "{}",
            errors[2]
        );
        assert!(errors[3].ends_with("invalid label name: 0bad"));
        assert_eq!(
            errors[4],
            "bad.yml: 14:3: groupname: \"a\" is repeated in the same file"
        );
    }

    #[test]
    fn loads_fields() {
        let f = parse_file(
            "ok.yml",
            "groups:\n- name: g\n  interval: 30s\n  query_offset: 1m\n  limit: 3\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5m\n    keep_firing_for: 1m\n    labels: {severity: page}\n    annotations: {s: '{{ $value }}'}\n  - record: job:up:sum\n    expr: 1\n",
        )
        .unwrap();
        let g = &f.groups[0];
        assert_eq!(
            (g.interval_ms, g.query_offset_ms, g.limit),
            (Some(30_000), Some(60_000), 3)
        );
        assert_eq!(g.rules[0].for_ms, 300_000);
        assert_eq!(g.rules[0].keep_firing_for_ms, 60_000);
        assert_eq!(g.rules[1].kind, RuleKind::Record("job:up:sum".into()));
        assert!(parse_file("x.yml", "groups:\n- name: g\n  bogus: 1\n").is_err());
    }
}
