//! Service discovery providers: `static_configs` and `file_sd_configs`; Kubernetes is in
//! [`crate::kubernetes`]. A provider sends its whole current set of groups on each change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use crate::config::{FileSdConfig, StaticConfig};
use crate::relabel::LabelSet;
use crate::target::TargetGroup;
use crate::Error;

/// A stop signal shared by threads; sleeps end early once it is raised.
#[derive(Clone, Default)]
pub struct Stop(Arc<(Mutex<bool>, Condvar)>);

impl Stop {
    /// A signal not yet raised.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Raises the signal, waking every sleeper.
    pub fn stop(&self) {
        *self.0 .0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.0 .1.notify_all();
    }

    /// Whether the signal is raised.
    pub fn stopped(&self) -> bool {
        *self.0 .0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps up to `d`; false when stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut g = self.0 .0.lock().unwrap_or_else(|p| p.into_inner());
        while !*g {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            g = self
                .0
                 .1
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        false
    }
}

/// Groups of `static_configs`.
pub fn static_groups(cs: &[StaticConfig]) -> Vec<TargetGroup> {
    cs.iter()
        .enumerate()
        .map(|(i, c)| TargetGroup {
            source: i.to_string(),
            targets: c
                .targets
                .iter()
                .map(|t| LabelSet::from([("__address__".to_string(), t.clone())]))
                .collect(),
            labels: c.labels.clone(),
        })
        .collect()
}

#[derive(Deserialize)]
struct FileGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Parses one file SD file (JSON for `.json`, YAML for `.yml`/`.yaml`).
pub fn parse_file(path: &Path, text: &str) -> Result<Vec<TargetGroup>, Error> {
    let name = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let groups: Vec<FileGroup> = match ext {
        "json" => {
            serde_json::from_str(text).map_err(|e| Error::Discovery(format!("{name}: {e}")))?
        }
        "yml" | "yaml" => {
            if text.trim().is_empty() {
                Vec::new()
            } else {
                serde_yaml::from_str(text).map_err(|e| Error::Discovery(format!("{name}: {e}")))?
            }
        }
        _ => return Err(Error::Discovery(format!("{name}: unknown file extension"))),
    };
    let mut out = Vec::new();
    for (i, g) in groups.into_iter().enumerate() {
        for n in g.labels.keys() {
            if !crate::relabel::valid_label_name(n) {
                return Err(Error::Discovery(format!(
                    "{name}: invalid label name {n:?}"
                )));
            }
        }
        let mut labels = g.labels;
        labels.insert("__meta_filepath".into(), name.clone());
        out.push(TargetGroup {
            source: format!("{name}:{i}"),
            targets: g
                .targets
                .into_iter()
                .map(|t| LabelSet::from([("__address__".to_string(), t)]))
                .collect(),
            labels,
        });
    }
    Ok(out)
}

/// The files a pattern matches (`*`/`?`/`[...]` in the last path segment), sorted.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let p = Path::new(pattern);
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.contains(['*', '?', '[']) {
        return vec![p.to_path_buf()];
    }
    let mut re = String::from("^");
    for c in name.chars() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' | ']' => re.push(c),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    let Ok(re) = regex::Regex::new(&re) else {
        return Vec::new();
    };
    let dir = p.parent().unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|f| {
            f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| re.is_match(n))
        })
        .collect();
    out.sort();
    out
}

type Signature = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// File SD: re-reads when a matched file changes (checked every second) or every
/// `refresh_interval`; a file that fails to read keeps its last good groups.
pub struct FileSd {
    cfg: FileSdConfig,
    last_good: BTreeMap<PathBuf, Vec<TargetGroup>>,
}

impl FileSd {
    /// A provider for one `file_sd_configs` entry.
    pub fn new(cfg: FileSdConfig) -> FileSd {
        FileSd {
            cfg,
            last_good: BTreeMap::new(),
        }
    }

    fn signature(&self) -> Signature {
        let mut sig = Vec::new();
        for p in &self.cfg.files {
            for f in expand(p) {
                if let Ok(m) = std::fs::metadata(&f) {
                    sig.push((f, m.modified().ok(), m.len()));
                }
            }
        }
        sig
    }

    /// Reads every matched file now.
    pub fn read(&mut self) -> Vec<TargetGroup> {
        let files: Vec<PathBuf> = self.cfg.files.iter().flat_map(|p| expand(p)).collect();
        self.last_good.retain(|f, _| files.contains(f));
        for f in &files {
            let res = std::fs::read_to_string(f)
                .map_err(|source| Error::Io {
                    path: f.display().to_string(),
                    source,
                })
                .and_then(|t| parse_file(f, &t));
            match res {
                Ok(g) => {
                    self.last_good.insert(f.clone(), g);
                }
                Err(e) => {
                    tracing::error!(error = %e, "file_sd: reading failed, keeping the last targets")
                }
            }
        }
        self.last_good.values().flatten().cloned().collect()
    }

    /// Sends the groups on start and after each change until stopped.
    pub fn run(mut self, send: &dyn Fn(Vec<TargetGroup>), stop: &Stop) {
        let mut sig = self.signature();
        send(self.read());
        let mut last_read = Instant::now();
        let poll = self
            .cfg
            .refresh_interval
            .0
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        while stop.sleep(poll) {
            let now = self.signature();
            if now != sig || last_read.elapsed() >= self.cfg.refresh_interval.0 {
                sig = now;
                last_read = Instant::now();
                send(self.read());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PromDuration;

    #[test]
    fn file_sd_json_yaml_globs_and_changes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("a.json"),
            r#"[{"targets": ["h1:1", "h2:2"], "labels": {"env": "prod"}}]"#,
        )
        .unwrap();
        std::fs::write(d.join("b.yml"), "- targets: ['h3:3']\n").unwrap();
        std::fs::write(d.join("c.txt"), "ignored").unwrap();
        let cfg = FileSdConfig {
            files: vec![
                format!("{}/*.json", d.display()),
                format!("{}/b.y?l", d.display()),
            ],
            refresh_interval: PromDuration(Duration::from_millis(20)),
        };
        let mut sd = FileSd::new(cfg.clone());
        let g = sd.read();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].targets.len(), 2);
        assert_eq!(g[0].labels["env"], "prod");
        assert_eq!(
            g[0].labels["__meta_filepath"],
            d.join("a.json").display().to_string()
        );
        assert_eq!(g[1].targets[0]["__address__"], "h3:3");
        // A broken file keeps its last good groups; a deleted one loses them.
        std::fs::write(d.join("a.json"), "[{").unwrap();
        assert_eq!(sd.read().len(), 2);
        std::fs::remove_file(d.join("a.json")).unwrap();
        assert_eq!(sd.read().len(), 1);
        assert!(parse_file(
            Path::new("x.json"),
            r#"[{"targets": [], "labels": {"a-b": "x"}}]"#
        )
        .is_err());

        // The running provider notices a new file.
        let stop = Stop::new();
        let (stx, srx) = std::sync::mpsc::channel();
        let s2 = stop.clone();
        let h =
            std::thread::spawn(move || FileSd::new(cfg).run(&move |g| stx.send(g).unwrap(), &s2));
        assert_eq!(srx.recv().unwrap().len(), 1);
        std::thread::sleep(Duration::from_millis(30));
        std::fs::write(d.join("n.json"), r#"[{"targets": ["h4:4"]}]"#).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let g = srx.recv_timeout(Duration::from_secs(10)).unwrap();
            if g.len() == 2 {
                break;
            }
            assert!(Instant::now() < deadline);
        }
        stop.stop();
        h.join().unwrap();
    }
}
