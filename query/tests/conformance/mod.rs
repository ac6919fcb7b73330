//! Shared pieces of the PromQL conformance runner: locating the scripts, `INDEX.tsv`,
//! the known-failures list, and the script parser / result checker submodules.

pub mod check;
pub mod script;
pub mod series;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Tags of `INDEX.tsv`'s `post_2_42_features` column whose cases are skipped: experimental
/// syntax or storage features the engine does not have. The other tags (`new-function`,
/// `limitk/limit_ratio`, `info()`, `delayed-name-removal`) are ordinary syntax and run.
pub const SKIPPED_FEATURES: &[&str] = &[
    "duration-expr",
    "anchored/smoothed",
    "histogram-trim-op",
    "fill-modifier",
    "start-timestamps",
    "type-and-unit-labels",
];

/// One snapshot folder of scripts.
pub struct Folder {
    /// Name used in reports and the known-failures list (`main`, `v2.42.0`).
    pub name: &'static str,
    /// Its path.
    pub path: PathBuf,
}

/// The conformance root: `VITALS_CONFORMANCE_DIR`, else `<workspace>/../shared/conformance/promql`.
pub fn root_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VITALS_CONFORMANCE_DIR") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/promql")
}

/// The two folders, or `None` (after printing a loud SKIPPED message, or panicking when
/// `VITALS_REQUIRE_PEERS=1`) when the root is absent.
pub fn folders(test: &str) -> Option<Vec<Folder>> {
    let root = root_dir();
    if !root.join("INDEX.tsv").is_file() {
        let msg = format!(
            "PromQL conformance scripts not found at {} (set VITALS_CONFORMANCE_DIR)",
            root.display()
        );
        if std::env::var("VITALS_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{msg} and VITALS_REQUIRE_PEERS=1");
        }
        eprintln!("\n**********\n{test}: SKIPPED: {msg}\n**********\n");
        return None;
    }
    Some(vec![
        Folder {
            name: "main",
            path: root.clone(),
        },
        Folder {
            name: "v2.42.0",
            path: root.join("v2.42.0"),
        },
    ])
}

/// The `*.test` files of a folder, sorted, optionally only those whose name contains `filter`.
pub fn test_files(dir: &Path, filter: Option<&str>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .filter(|p| filter.is_none_or(|f| file_name(p).contains(f)))
        .collect();
    files.sort();
    files
}

/// The file name of `p` as a string.
pub fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One row of `INDEX.tsv`.
#[derive(Debug)]
pub struct IndexRow {
    /// `instant` or `range`.
    pub kind: String,
    /// The case must fail.
    pub expect_fail: bool,
    /// The case touches native histograms.
    pub native_histogram: bool,
    /// Post-2.42 feature tags.
    pub features: Vec<String>,
    /// The expression.
    pub expr: String,
}

/// `INDEX.tsv` of a folder, keyed by (file, 1-based line).
pub fn read_index(dir: &Path) -> BTreeMap<(String, usize), IndexRow> {
    let path = dir.join("INDEX.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.splitn(7, '\t').collect();
        assert_eq!(cols.len(), 7, "{}:{}: bad row", path.display(), n + 1);
        let features = match cols[5] {
            "-" | "" => Vec::new(),
            f => f.split(',').map(|s| s.trim().to_string()).collect(),
        };
        let row = IndexRow {
            kind: cols[2].to_string(),
            expect_fail: cols[3] == "1",
            native_histogram: cols[4] == "1",
            features,
            expr: cols[6].to_string(),
        };
        let line_no: usize = cols[1]
            .parse()
            .unwrap_or_else(|_| panic!("{}:{}: bad line number", path.display(), n + 1));
        out.insert((cols[0].to_string(), line_no), row);
    }
    out
}

impl IndexRow {
    /// Why the case is skipped, if it is.
    pub fn skip_reason(&self) -> Option<String> {
        if self.native_histogram {
            return Some("native histograms".into());
        }
        self.features
            .iter()
            .find(|f| SKIPPED_FEATURES.contains(&f.as_str()))
            .map(|f| format!("feature {f}"))
    }
}

/// The known-failures list: `<folder>/<file>:<line>` → reason.
pub fn read_known_failures() -> HashMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance_known_failures.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        assert!(
            key.contains('/') && key.contains(':'),
            "{}:{}: expected `<folder>/<file>:<line> <reason>`",
            path.display(),
            n + 1
        );
        out.insert(key.to_string(), reason.trim().to_string());
    }
    out
}
