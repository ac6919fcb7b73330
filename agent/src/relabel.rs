//! Relabeling with Prometheus semantics: every action, anchored regexes, `$1`/`${name}`
//! expansion, hashmod as md5 of the joined source values.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::Error;

/// A label set, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

/// A relabel action.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Set `target_label` to the expanded `replacement` when `regex` matches.
    #[default]
    Replace,
    /// Drop the set unless `regex` matches.
    Keep,
    /// Drop the set when `regex` matches.
    Drop,
    /// Drop the set unless the source value equals `target_label`'s value.
    KeepEqual,
    /// Drop the set when the source value equals `target_label`'s value.
    DropEqual,
    /// Set `target_label` to md5(source) mod `modulus`.
    HashMod,
    /// Copy labels whose names match `regex` to the expanded `replacement` name.
    LabelMap,
    /// Remove labels whose names match `regex`.
    LabelDrop,
    /// Remove labels whose names do not match `regex`.
    LabelKeep,
    /// Set `target_label` to the lowercased source value.
    Lowercase,
    /// Set `target_label` to the uppercased source value.
    Uppercase,
}

/// One `relabel_configs` entry as written.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator`.
    #[serde(default)]
    pub source_labels: Vec<String>,
    /// Separator (`;`).
    #[serde(default)]
    pub separator: Option<String>,
    /// Regex, anchored (`(.*)`).
    #[serde(default)]
    pub regex: Option<String>,
    /// Modulus for hashmod.
    #[serde(default)]
    pub modulus: u64,
    /// Target label (may hold `$1` references for replace).
    #[serde(default)]
    pub target_label: Option<String>,
    /// Replacement (`$1`).
    #[serde(default)]
    pub replacement: Option<String>,
    /// Action (`replace`).
    #[serde(default)]
    pub action: Action,
}

/// A compiled relabel rule.
#[derive(Clone, Debug)]
pub struct Rule {
    source_labels: Vec<String>,
    separator: String,
    regex: Regex,
    modulus: u64,
    target_label: String,
    replacement: String,
    action: Action,
}

pub(crate) fn valid_label_name(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Rule {
    /// Validates and compiles a rule as Prometheus does.
    pub fn compile(c: &RelabelConfig) -> Result<Rule, Error> {
        let bad = |m: String| Error::Relabel(m);
        let regex_src = c.regex.clone().unwrap_or_else(|| "(.*)".into());
        let regex = Regex::new(&format!("^(?s:{regex_src})$"))
            .map_err(|e| bad(format!("invalid regex {regex_src:?}: {e}")))?;
        let target = c.target_label.clone().unwrap_or_default();
        let replacement = c.replacement.clone().unwrap_or_else(|| "$1".into());
        let a = c.action;
        let needs_target = matches!(
            a,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && target.is_empty() {
            return Err(bad(format!(
                "relabel configuration for {a:?} action requires 'target_label' value"
            )));
        }
        let template_ok = Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$")
            .map_err(|e| bad(e.to_string()))?;
        if a == Action::Replace && !template_ok.is_match(&target) {
            return Err(bad(format!(
                "{target:?} is invalid 'target_label' for replace action"
            )));
        }
        if matches!(
            a,
            Action::Lowercase
                | Action::Uppercase
                | Action::HashMod
                | Action::KeepEqual
                | Action::DropEqual
        ) && !valid_label_name(&target)
        {
            return Err(bad(format!(
                "{target:?} is invalid 'target_label' for {a:?} action"
            )));
        }
        if a == Action::HashMod && c.modulus == 0 {
            return Err(bad(
                "relabel configuration for hashmod requires non-zero modulus".into(),
            ));
        }
        if a == Action::LabelMap && !template_ok.is_match(&replacement) {
            return Err(bad(format!(
                "{replacement:?} is invalid 'replacement' for labelmap action"
            )));
        }
        if matches!(a, Action::LabelDrop | Action::LabelKeep)
            && (!c.source_labels.is_empty()
                || !target.is_empty()
                || c.modulus != 0
                || c.separator.as_ref().is_some_and(|s| s != ";")
                || replacement != "$1")
        {
            return Err(bad(format!(
                "{a:?} action requires only 'regex', and no other fields"
            )));
        }
        if matches!(a, Action::KeepEqual | Action::DropEqual)
            && (c.regex.as_ref().is_some_and(|r| r != "(.*)")
                || c.modulus != 0
                || replacement != "$1")
        {
            return Err(bad(format!("{a:?} action requires only 'source_labels' and 'target_label', and no other fields")));
        }
        for l in &c.source_labels {
            if !valid_label_name(l) {
                return Err(bad(format!("{l:?} is not a valid label name")));
            }
        }
        Ok(Rule {
            source_labels: c.source_labels.clone(),
            separator: c.separator.clone().unwrap_or_else(|| ";".into()),
            regex,
            modulus: c.modulus,
            target_label: target,
            replacement,
            action: a,
        })
    }

    /// Applies the rule; false when the set is dropped.
    fn apply(&self, ls: &mut LabelSet) -> bool {
        let val = self
            .source_labels
            .iter()
            .map(|n| ls.get(n).map(String::as_str).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(&self.separator);
        match self.action {
            Action::Drop => return !self.regex.is_match(&val),
            Action::Keep => return self.regex.is_match(&val),
            Action::DropEqual => {
                return ls.get(&self.target_label).map(String::as_str).unwrap_or("") != val
            }
            Action::KeepEqual => {
                return ls.get(&self.target_label).map(String::as_str).unwrap_or("") == val
            }
            Action::Replace => {
                let Some(caps) = self.regex.captures(&val) else {
                    return true;
                };
                let mut target = String::new();
                caps.expand(&self.target_label, &mut target);
                if !valid_label_name(&target) {
                    return true;
                }
                let mut res = String::new();
                caps.expand(&self.replacement, &mut res);
                set(ls, target, res);
            }
            Action::Lowercase => set(ls, self.target_label.clone(), val.to_lowercase()),
            Action::Uppercase => set(ls, self.target_label.clone(), val.to_uppercase()),
            Action::HashMod => {
                let sum = Md5::digest(val.as_bytes());
                let mut last = [0u8; 8];
                last.copy_from_slice(&sum[8..16]);
                let m = u64::from_be_bytes(last) % self.modulus;
                set(ls, self.target_label.clone(), m.to_string());
            }
            Action::LabelMap => {
                let add: Vec<(String, String)> = ls
                    .iter()
                    .filter(|(n, _)| self.regex.is_match(n))
                    .map(|(n, v)| {
                        (
                            self.regex
                                .replace_all(n, self.replacement.as_str())
                                .into_owned(),
                            v.clone(),
                        )
                    })
                    .collect();
                for (n, v) in add {
                    set(ls, n, v);
                }
            }
            Action::LabelDrop => ls.retain(|n, _| !self.regex.is_match(n)),
            Action::LabelKeep => ls.retain(|n, _| self.regex.is_match(n)),
        }
        true
    }
}

/// Sets a label; an empty value removes it (Prometheus' `labels.Builder.Set`).
fn set(ls: &mut LabelSet, name: String, value: String) {
    if value.is_empty() {
        ls.remove(&name);
    } else {
        ls.insert(name, value);
    }
}

/// Compiles a list of rules.
pub fn compile_all(cs: &[RelabelConfig]) -> Result<Vec<Rule>, Error> {
    cs.iter().map(Rule::compile).collect()
}

/// Applies the rules in order; None when a rule drops the set. Empty values are removed.
pub fn process(mut ls: LabelSet, rules: &[Rule]) -> Option<LabelSet> {
    for r in rules {
        if !r.apply(&mut ls) {
            return None;
        }
    }
    ls.retain(|_, v| !v.is_empty());
    Some(ls)
}

#[cfg(test)]
mod tests;
