//! Reading the repository's deploy files for the deploy tests: YAML streams, dashboards,
//! `kubectl kustomize`.

use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files below `dir` whose extension is one of `exts`, sorted, appended to `out`.
pub fn files_with(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_with(&p, exts, out);
        } else if exts
            .iter()
            .any(|x| p.extension().and_then(|e| e.to_str()) == Some(x))
        {
            out.push(p);
        }
    }
}

/// The text of `p`; a panic naming the file when it cannot be read.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The dashboards under `dashboards/` the manifests provision.
pub const DASHBOARDS: &[&str] = &[
    "cluster-overview.json",
    "node-detail.json",
    "kubernetes-resources.json",
    "gpu.json",
    "vitals-self.json",
];

/// The documents of a multi-document YAML stream (split at `---` lines); `at` names the source.
pub fn docs(text: &str, at: &str) -> Vec<Value> {
    let mut parts = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            parts.push(String::new());
        } else {
            let last = parts.last_mut().unwrap();
            last.push_str(line);
            last.push('\n');
        }
    }
    parts
        .iter()
        .map(|p| serde_yaml::from_str::<Value>(p).unwrap_or_else(|e| panic!("{at}: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

/// `kubectl` on PATH. It is not one of the Debian peers `.ci/run` installs (Debian's 1.20
/// kubectl predates kustomize components), so when absent the caller skips loudly even with
/// VITALS_REQUIRE_PEERS=1.
pub fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("kubectl"))
            .find(|c| c.is_file())
    });
    if found.is_none() {
        eprintln!("\n!!! SKIPPED: kubectl not on PATH: the kustomize build is not checked !!!\n");
    }
    found
}

/// The documents `kubectl kustomize DIR` builds (DIR relative to `root`).
pub fn kustomize(kubectl: &Path, root: &Path, dir: &str) -> Vec<Value> {
    let out = std::process::Command::new(kubectl)
        .args(["kustomize", dir])
        .current_dir(root)
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    docs(&String::from_utf8(out.stdout).unwrap(), dir)
}
