//! Label matchers (`=`, `!=`, `=~`, `!~`) as used by series selectors.

use regex::Regex;

use crate::error::Error;

/// How a matcher compares a label value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored RE2 regex)
    Regex,
    /// `!~`
    NotRegex,
}

/// One label matcher; a missing label matches as the empty string (Prometheus semantics).
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Comparison.
    pub op: MatchOp,
    /// Value or regex source.
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher; regexes are anchored as `^(?:value)$`.
    pub fn new(op: MatchOp, name: &str, value: &str) -> Result<Matcher, Error> {
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?s:{value})$"))
                    .map_err(|e| Error::BadMatcher(format!("invalid regex {value:?}: {e}")))?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            re,
        })
    }

    /// Shorthand for an `=` matcher.
    pub fn equal(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.to_string(),
            op: MatchOp::Equal,
            value: value.to_string(),
            re: None,
        }
    }

    /// True when `value` (empty for a missing label) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => value == self.value,
            MatchOp::NotEqual => value != self.value,
            MatchOp::Regex => self.re.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::NotRegex => !self.re.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// True when the matcher accepts the empty string (so also series lacking the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored() {
        let m = Matcher::new(MatchOp::Regex, "job", "no.*").unwrap();
        assert!(m.matches("node"));
        assert!(!m.matches("a-node"));
        assert!(!m.matches_empty());
        let n = Matcher::new(MatchOp::NotEqual, "job", "x").unwrap();
        assert!(n.matches_empty());
        assert!(Matcher::new(MatchOp::Regex, "a", "(").is_err());
    }
}
