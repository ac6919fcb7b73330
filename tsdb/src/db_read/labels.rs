//! Label names and values of the series of a read.

use std::collections::BTreeSet;

use crate::db::Db;
use crate::error::Error;
use crate::matcher::Matcher;

/// A matcher every series passes (`__name__=~".*"`).
fn match_all() -> Matcher {
    Matcher::new(crate::matcher::MatchOp::Regex, "__name__", ".*").expect("BUG: constant regex")
}

impl Db {
    /// Sorted label names of matching series (all series when `matchers` is empty) with data in [mint, maxt].
    pub fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, Error> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        if matchers.is_empty() && self.has_tombstones() {
            return self.label_names(&[match_all()], mint, maxt);
        }
        if matchers.is_empty() {
            for b in self.blocks.read().iter() {
                let m = b.meta();
                if m.max_time > mint && m.min_time <= maxt {
                    names.extend(b.label_names());
                }
            }
            let st = self.head.read();
            if st.min_time <= maxt && st.max_time >= mint {
                names.extend(
                    st.idx
                        .postings
                        .keys()
                        .map(|&n| st.idx.symbols.get(n).to_string()),
                );
            }
        } else {
            for l in self.select_series(matchers, mint, maxt)? {
                names.extend(l.iter().map(|l| l.name.to_string()));
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Sorted values of label `name` across matching series (all series when `matchers` is empty).
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, Error> {
        let mut values: BTreeSet<String> = BTreeSet::new();
        if matchers.is_empty() && self.has_tombstones() {
            return self.label_values(name, &[match_all()], mint, maxt);
        }
        if matchers.is_empty() {
            for b in self.blocks.read().iter() {
                let m = b.meta();
                if m.max_time > mint && m.min_time <= maxt {
                    values.extend(b.label_values(name));
                }
            }
            let st = self.head.read();
            if st.min_time <= maxt && st.max_time >= mint {
                values.extend(crate::postings::PostingsSource::label_values(&st.idx, name));
            }
        } else {
            for l in self.select_series(matchers, mint, maxt)? {
                if let Some(v) = l.get(name) {
                    values.insert(v.to_string());
                }
            }
        }
        Ok(values.into_iter().collect())
    }
}
