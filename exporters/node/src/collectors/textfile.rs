//! `textfile`: `*.prom` files of `--collector.textfile.directory`, re-exported with their
//! types, plus `node_textfile_mtime_seconds` and `node_textfile_scrape_error`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::UNIX_EPOCH;

use expo::{parse, MetricSet, MetricType, ParsedFamily};

use crate::{Collector, Config, Error};

/// The `textfile` collector.
pub struct Textfile;

/// Reads one file: its families and mtime, or why it was skipped.
fn read_file(path: &Path) -> Result<(Vec<ParsedFamily>, f64), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to open textfile data file {path:?}: {e}"))?;
    let fams =
        parse(&text).map_err(|e| format!("failed to parse textfile data from {path:?}: {e}"))?;
    if fams
        .iter()
        .any(|f| f.samples.iter().any(|s| s.timestamp.is_some()))
    {
        return Err(format!(
            "textfile {path:?} contains unsupported client-side timestamps, skipping entire file"
        ));
    }
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| format!("failed to stat {path:?}: {e}"))?;
    let secs = mtime
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as f64)
        .unwrap_or(0.0);
    Ok((fams, secs))
}

impl Collector for Textfile {
    fn name(&self) -> &'static str {
        "textfile"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let mut errored = false;
        let mut mtimes: BTreeMap<String, f64> = BTreeMap::new();
        // family name → (files it came from, families parsed)
        let mut parsed: Vec<(String, ParsedFamily)> = Vec::new();
        if let Some(dir) = &cfg.textfile_dir {
            let mut names: Vec<String> = match std::fs::read_dir(dir) {
                Ok(rd) => rd
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".prom"))
                    .collect(),
                Err(_) => {
                    errored = true;
                    Vec::new()
                }
            };
            names.sort();
            for name in names {
                let path = dir.join(&name);
                let shown = path.to_string_lossy().into_owned();
                match read_file(&path) {
                    Ok((fams, mtime)) => {
                        parsed.extend(fams.into_iter().map(|f| (shown.clone(), f)));
                        mtimes.insert(shown, mtime);
                    }
                    Err(_) => errored = true,
                }
            }
        }
        let mut files_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (file, f) in &parsed {
            files_of.entry(f.name.as_str()).or_default().push(file);
        }
        for (_, f) in &parsed {
            let help = match &f.help {
                Some(h) => h.clone(),
                None => format!("Metric read from {}", files_of[f.name.as_str()].join(", ")),
            };
            // Every sample gets every label name used in the family ("" when absent).
            let all: BTreeSet<&str> = f
                .samples
                .iter()
                .flat_map(|s| s.labels.iter().map(|(n, _)| n.as_str()))
                .filter(|n| !matches!(*n, "le" | "quantile"))
                .collect();
            let fam = out.family(&f.name, &help, f.kind);
            for s in &f.samples {
                let mut labels: Vec<(&str, &str)> = s
                    .labels
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                for n in &all {
                    if !labels.iter().any(|(m, _)| m == n) {
                        labels.push((n, ""));
                    }
                }
                if matches!(f.kind, MetricType::Histogram | MetricType::Summary) {
                    fam.add_suffixed(&s.suffix, &labels, s.value);
                } else {
                    fam.add(&labels, s.value);
                }
            }
        }
        for (file, mtime) in &mtimes {
            out.family(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
                MetricType::Gauge,
            )
            .add(&[("file", file)], *mtime);
        }
        out.family(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
            MetricType::Gauge,
        )
        .add(&[], if errored { 1.0 } else { 0.0 });
        Ok(())
    }
}
