//! Reading Kubernetes manifests for the deploy tests: YAML streams, `kubectl kustomize`.

use serde_yaml::Value;
use std::path::{Path, PathBuf};

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
