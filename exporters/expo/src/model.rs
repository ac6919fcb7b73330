//! The exposition model: a set of metric families whose label strings live in one
//! reusable pool per family.

use std::collections::HashMap;

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// A monotonically increasing value.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// No type given (`unknown` in OpenMetrics).
    Untyped,
    /// Samples `_bucket`, `_sum`, `_count` (only passed through, e.g. from text files).
    Histogram,
    /// Samples with `quantile`, `_sum`, `_count` (only passed through).
    Summary,
}

impl MetricType {
    /// The name in a text 0.0.4 `# TYPE` line.
    pub fn text_name(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Untyped => "untyped",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
        }
    }

    /// The name in an OpenMetrics `# TYPE` line.
    pub fn om_name(self) -> &'static str {
        match self {
            MetricType::Untyped => "unknown",
            t => t.text_name(),
        }
    }

    /// Parses a `# TYPE` word of the text format.
    pub fn from_text(s: &str) -> Option<MetricType> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "untyped" | "unknown" => MetricType::Untyped,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            _ => return None,
        })
    }
}

/// Byte ranges of one label pair in a family's pool.
#[derive(Clone, Copy, Debug)]
struct LabelSpan {
    name: (u32, u32),
    value: (u32, u32),
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    /// Range of the name suffix (`_bucket`, …; usually empty) in the pool.
    suffix: (u32, u32),
    /// Range of this sample's label pairs in `Family::labels`, sorted by name.
    labels: (u32, u32),
    value: f64,
}

/// One metric family: name, HELP, type and samples.
#[derive(Debug)]
pub struct Family {
    name: String,
    help: String,
    kind: MetricType,
    pool: String,
    labels: Vec<LabelSpan>,
    samples: Vec<Sample>,
}

/// One sample of a family, borrowed.
#[derive(Clone, Copy)]
pub struct SampleRef<'a> {
    fam: &'a Family,
    s: Sample,
}

impl<'a> SampleRef<'a> {
    /// Suffix appended to the family name (`_bucket`, `_sum`, `_count`, or empty).
    pub fn suffix(&self) -> &'a str {
        self.fam.span(self.s.suffix)
    }

    /// The label pairs, sorted by name.
    pub fn labels(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let fam = self.fam;
        let (a, b) = self.s.labels;
        fam.labels[a as usize..b as usize]
            .iter()
            .map(move |l| (fam.span(l.name), fam.span(l.value)))
    }

    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&'a str> {
        self.labels().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The sample value.
    pub fn value(&self) -> f64 {
        self.s.value
    }
}

impl Family {
    fn new(name: &str, help: &str, kind: MetricType) -> Family {
        Family {
            name: name.to_string(),
            help: help.to_string(),
            kind,
            pool: String::new(),
            labels: Vec::new(),
            samples: Vec::new(),
        }
    }

    fn span(&self, (a, b): (u32, u32)) -> &str {
        &self.pool[a as usize..b as usize]
    }

    fn push_str(&mut self, s: &str) -> (u32, u32) {
        let a = self.pool.len() as u32;
        self.pool.push_str(s);
        (a, self.pool.len() as u32)
    }

    /// The family name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The HELP text (unescaped).
    pub fn help(&self) -> &str {
        &self.help
    }

    /// The family type.
    pub fn kind(&self) -> MetricType {
        self.kind
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when the family has no samples (it is then not rendered).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Adds a sample with `labels` (any order) and `value`.
    pub fn add(&mut self, labels: &[(&str, &str)], value: f64) {
        self.add_suffixed("", labels, value);
    }

    /// Adds a sample whose name is the family name plus `suffix` (for histogram/summary parts).
    pub fn add_suffixed(&mut self, suffix: &str, labels: &[(&str, &str)], value: f64) {
        let suffix = self.push_str(suffix);
        let first = self.labels.len();
        for (n, v) in labels {
            let name = self.push_str(n);
            let value = self.push_str(v);
            self.labels.push(LabelSpan { name, value });
        }
        let pool = &self.pool;
        self.labels[first..].sort_by(|x, y| {
            pool[x.name.0 as usize..x.name.1 as usize]
                .cmp(&pool[y.name.0 as usize..y.name.1 as usize])
        });
        self.samples.push(Sample {
            suffix,
            labels: (first as u32, self.labels.len() as u32),
            value,
        });
    }

    /// The samples, in insertion order (or sorted after [`MetricSet::sort`]).
    pub fn samples(&self) -> impl Iterator<Item = SampleRef<'_>> {
        self.samples
            .iter()
            .map(move |&s| SampleRef { fam: self, s })
    }

    fn clear(&mut self) {
        self.pool.clear();
        self.labels.clear();
        self.samples.clear();
    }

    /// Sorts samples as the Go client does: fewer labels first, then by label values.
    /// Histograms and summaries keep their order (their parts belong together).
    fn sort(&mut self) {
        if matches!(self.kind, MetricType::Histogram | MetricType::Summary) {
            return;
        }
        let mut samples = std::mem::take(&mut self.samples);
        samples.sort_by(|x, y| {
            let (xa, xb) = x.labels;
            let (ya, yb) = y.labels;
            (xb - xa).cmp(&(yb - ya)).then_with(|| {
                let xs = &self.labels[xa as usize..xb as usize];
                let ys = &self.labels[ya as usize..yb as usize];
                xs.iter()
                    .zip(ys)
                    .map(|(p, q)| self.span(p.value).cmp(self.span(q.value)))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        });
        self.samples = samples;
    }
}

/// A set of metric families, kept across scrapes so that buffers are reused.
#[derive(Debug, Default)]
pub struct MetricSet {
    families: Vec<Family>,
    index: HashMap<String, usize>,
}

impl MetricSet {
    /// An empty set.
    pub fn new() -> MetricSet {
        MetricSet::default()
    }

    /// Drops all samples, keeping families and their buffers for the next scrape.
    pub fn clear(&mut self) {
        self.families.iter_mut().for_each(Family::clear);
    }

    /// The family `name`, created with `help` and `kind` if new. An existing family keeps
    /// its HELP and type (the first collector to register a name owns it).
    pub fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut Family {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.families.push(Family::new(name, help, kind));
                self.index.insert(name.to_string(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        let f = &mut self.families[i];
        if f.is_empty() && (f.kind != kind || f.help != help) {
            // Reused after a clear by a different registrant (e.g. a text file that changed).
            f.kind = kind;
            f.help.clear();
            f.help.push_str(help);
        }
        f
    }

    /// The family `name` if it has samples.
    pub fn get(&self, name: &str) -> Option<&Family> {
        self.index
            .get(name)
            .map(|&i| &self.families[i])
            .filter(|f| !f.is_empty())
    }

    /// Sorts families by name and samples within each family as the Go client does.
    pub fn sort(&mut self) {
        self.families.iter_mut().for_each(Family::sort);
        self.families.sort_by(|a, b| a.name.cmp(&b.name));
        for (i, f) in self.families.iter().enumerate() {
            if let Some(slot) = self.index.get_mut(f.name.as_str()) {
                *slot = i;
            }
        }
    }

    /// Families with at least one sample, in the current order.
    pub fn families(&self) -> impl Iterator<Item = &Family> {
        self.families.iter().filter(|f| !f.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_and_reuse() {
        let mut set = MetricSet::new();
        let f = set.family("b", "B.", MetricType::Gauge);
        f.add(&[("mode", "user"), ("cpu", "1")], 1.0);
        f.add(&[("cpu", "0"), ("mode", "user")], 2.0);
        f.add(&[], 3.0);
        set.family("a", "A.", MetricType::Counter).add(&[], 4.0);
        set.sort();
        let names: Vec<_> = set.families().map(|f| f.name()).collect();
        assert_eq!(names, ["a", "b"]);
        let b = set.get("b").unwrap();
        let rows: Vec<(Vec<(&str, &str)>, f64)> = b
            .samples()
            .map(|s| (s.labels().collect(), s.value()))
            .collect();
        assert_eq!(rows[0], (vec![], 3.0));
        assert_eq!(rows[1], (vec![("cpu", "0"), ("mode", "user")], 2.0));
        assert_eq!(rows[2].0, vec![("cpu", "1"), ("mode", "user")]);
        set.clear();
        assert_eq!(set.families().count(), 0);
        assert!(set.get("a").is_none());
    }
}
