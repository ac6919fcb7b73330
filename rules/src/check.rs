//! `check rules`: promtool's report for rule files (counts, errors, the duplicate lint).

use std::io::Write;
use std::path::PathBuf;

use crate::file::{duplicate_rules, load_file};
use crate::Error;

/// promtool's `--lint` / `--lint-fatal` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lint {
    /// Run the duplicate-rules lint (`--lint=duplicate-rules` or `all`, the default).
    pub duplicates: bool,
    /// Lint findings exit with 3 (`--lint-fatal`).
    pub fatal: bool,
}

impl Default for Lint {
    fn default() -> Self {
        Lint {
            duplicates: true,
            fatal: false,
        }
    }
}

/// Checks each file as `promtool check rules` does, printing its report; returns the exit
/// code (0 valid, 1 an error, 3 lint findings with `fatal`).
pub fn check_files(files: &[PathBuf], lint: Lint, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut failed = false;
    let mut linted = false;
    for f in files {
        let _ = writeln!(out, "Checking {}", f.display());
        match load_file(f) {
            Ok(rf) => {
                let dups = if lint.duplicates {
                    duplicate_rules(&[&rf])
                } else {
                    Vec::new()
                };
                if dups.is_empty() {
                    let n: usize = rf.groups.iter().map(|g| g.rules.len()).sum();
                    let _ = writeln!(out, "  SUCCESS: {n} rules found");
                } else {
                    let mut msg = format!("lint error {} duplicate rule(s) found.\n", dups.len());
                    for (name, labels) in dups {
                        msg.push_str(&format!("Metric: {name}\nLabel(s):\n"));
                        for (k, v) in labels {
                            msg.push_str(&format!("\t{k}: {v}\n"));
                        }
                    }
                    msg.push_str("Might cause inconsistency while recording expressions");
                    let _ = writeln!(err, "  FAILED:\n{msg}");
                    linted = true;
                }
            }
            Err(e) => {
                failed = true;
                let lines = match e {
                    Error::Invalid { errors, .. } => errors,
                    other => vec![other.to_string()],
                };
                let _ = writeln!(err, "  FAILED:");
                for l in lines {
                    let _ = writeln!(err, "{l}");
                }
            }
        }
        let _ = writeln!(out);
    }
    if failed {
        1
    } else if linted && lint.fatal {
        3
    } else {
        0
    }
}
