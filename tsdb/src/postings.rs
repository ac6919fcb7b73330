//! Postings (sorted series id lists) and label matching over them, shared by head and blocks.

use crate::matcher::Matcher;

/// An index that can list series ids per label pair.
pub trait PostingsSource {
    /// Sorted ids of series with `name="value"`.
    fn postings(&self, name: &str, value: &str) -> Vec<u32>;
    /// Values of label `name`, sorted.
    fn label_values(&self, name: &str) -> Vec<String>;
    /// Sorted ids of every series.
    fn all_postings(&self) -> Vec<u32>;
}

/// Ids of series matching all matchers (Prometheus semantics: a matcher that accepts the
/// empty string also accepts series lacking the label). No matchers select nothing.
pub fn select_postings(src: &impl PostingsSource, matchers: &[Matcher]) -> Vec<u32> {
    if matchers.is_empty() {
        return Vec::new();
    }
    let mut acc: Option<Vec<u32>> = None;
    // Positive matchers first: they narrow the most.
    for m in matchers.iter().filter(|m| !m.matches_empty()) {
        let list = match m.op {
            crate::matcher::MatchOp::Equal => src.postings(&m.name, &m.value),
            _ => union(
                src.label_values(&m.name)
                    .iter()
                    .filter(|v| m.matches(v))
                    .map(|v| src.postings(&m.name, v))
                    .collect(),
            ),
        };
        acc = Some(match acc {
            None => list,
            Some(a) => intersect(&a, &list),
        });
        if acc.as_ref().is_some_and(|a| a.is_empty()) {
            return Vec::new();
        }
    }
    let mut acc = acc.unwrap_or_else(|| src.all_postings());
    for m in matchers.iter().filter(|m| m.matches_empty()) {
        let excluded = union(
            src.label_values(&m.name)
                .iter()
                .filter(|v| !m.matches(v))
                .map(|v| src.postings(&m.name, v))
                .collect(),
        );
        acc = subtract(&acc, &excluded);
    }
    acc
}

/// Ids in both sorted lists.
pub fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::with_capacity(a.len().min(b.len())));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Ids in any of the sorted lists, sorted and unique.
pub fn union(lists: Vec<Vec<u32>>) -> Vec<u32> {
    let mut out: Vec<u32> = lists.into_iter().flatten().collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Ids of `a` not in `b` (both sorted).
pub fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut j = 0;
    a.iter()
        .copied()
        .filter(|&x| {
            while j < b.len() && b[j] < x {
                j += 1;
            }
            !(j < b.len() && b[j] == x)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::matcher::MatchOp;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    struct Mem(Vec<Labels>);
    impl PostingsSource for Mem {
        fn postings(&self, n: &str, v: &str) -> Vec<u32> {
            (0..self.0.len() as u32)
                .filter(|&i| self.0[i as usize].get(n) == Some(v))
                .collect()
        }
        fn label_values(&self, n: &str) -> Vec<String> {
            let mut v: Vec<String> = self
                .0
                .iter()
                .filter_map(|l| l.get(n).map(String::from))
                .collect();
            v.sort();
            v.dedup();
            v
        }
        fn all_postings(&self) -> Vec<u32> {
            (0..self.0.len() as u32).collect()
        }
    }

    proptest! {
        #[test]
        fn matches_brute_force(series in proptest::collection::vec(proptest::collection::btree_map("[ab]", "[xyz]{0,2}", 0..3), 0..30),
                               ms in proptest::collection::vec(("[abc]", 0..4u8, "[xyz.*]{0,3}"), 1..3)) {
            let ls: Vec<Labels> = series.iter().map(|m: &BTreeMap<String, String>| {
                let p: Vec<(&str, &str)> = m.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str())).collect();
                Labels::from_pairs(&p)
            }).collect();
            let mut matchers = Vec::new();
            for (n, op, v) in &ms {
                let op = [MatchOp::Equal, MatchOp::NotEqual, MatchOp::Regex, MatchOp::NotRegex][*op as usize];
                if let Ok(m) = Matcher::new(op, n, v) { matchers.push(m); }
            }
            prop_assume!(!matchers.is_empty());
            let want: Vec<u32> = (0..ls.len() as u32).filter(|&i| matchers.iter().all(|m| m.matches(ls[i as usize].get(&m.name).unwrap_or("")))).collect();
            prop_assert_eq!(select_postings(&Mem(ls), &matchers), want);
        }
    }

    #[test]
    fn set_ops() {
        assert_eq!(intersect(&[1, 3, 5], &[3, 4, 5]), vec![3, 5]);
        assert_eq!(union(vec![vec![5, 1], vec![3, 1]]), vec![1, 3, 5]);
        assert_eq!(subtract(&[1, 2, 3, 4], &[2, 4, 9]), vec![1, 3]);
    }
}
