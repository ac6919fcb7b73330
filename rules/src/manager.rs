//! The rule manager: loads rule files named by a Prometheus config (`rule_files` globs,
//! `global.evaluation_interval`, `global.external_labels`, `alerting`), evaluates each group
//! on its interval against the store, hands alerts to the notifier, and reloads keeping
//! the state of unchanged rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use query::promql::{Engine, EngineOptions, Storage};
use serde::Deserialize;

use crate::eval::{EvalCtx, Group, GroupOptions, Sink};
use crate::notifier::{AlertingConfig, Notifier, NotifierOptions};
use crate::{load_file, Error};

/// What rules are evaluated against: a queryable store that rule results are written to.
pub trait Backend: Send + Sync {
    /// The store queries read.
    fn storage(&self) -> &dyn Storage;
    /// Where results go.
    fn sink(&self) -> &dyn Sink;
}

impl Backend for tsdb::Db {
    fn storage(&self) -> &dyn Storage {
        self
    }
    fn sink(&self) -> &dyn Sink {
        self
    }
}

impl Backend for query::promql::MemStorage {
    fn storage(&self) -> &dyn Storage {
        self
    }
    fn sink(&self) -> &dyn Sink {
        self
    }
}

/// The parts of a Prometheus configuration file the rule manager reads; other sections
/// (scrape configs, remote write, …) are ignored here.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PromConfig {
    /// `global`.
    #[serde(default)]
    pub global: GlobalConfig,
    /// `rule_files`: paths or globs, relative to the config file.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// `alerting`.
    #[serde(default)]
    pub alerting: AlertingConfig,
}

/// `global` of a Prometheus configuration.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct GlobalConfig {
    /// Default rule evaluation interval (`1m` when unset).
    #[serde(default)]
    pub evaluation_interval: Option<String>,
    /// Labels added to alerts (and available as `$externalLabels`).
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// Query offset of groups without `query_offset` (`0s` when unset).
    #[serde(default)]
    pub rule_query_offset: Option<String>,
}

/// Reads a Prometheus configuration file.
pub fn load_config(path: &Path) -> Result<PromConfig, Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: name.clone(),
        source,
    })?;
    let cfg: PromConfig = serde_yaml::from_str(&text).map_err(|e| Error::Invalid {
        file: name.clone(),
        // serde quotes mistyped string values, which may be credentials.
        errors: vec![format!(
            "{name}: {}",
            web::redact_yaml_error(&e.to_string())
        )],
    })?;
    cfg.alerting.validate().map_err(|e| Error::Invalid {
        file: name.clone(),
        errors: vec![format!("{name}: alerting: {e}")],
    })?;
    Ok(cfg)
}

/// Expands `rule_files` patterns (relative to `base`; `*`/`?` in the last component).
pub fn expand_rule_files(base: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in patterns {
        let full = base.join(p);
        let name = full.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.contains(['*', '?']) {
            out.push(full);
            continue;
        }
        let dir = full.parent().unwrap_or(Path::new("."));
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            // Prometheus: a glob matching nothing is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(Error::Io {
                    path: dir.display().to_string(),
                    source,
                })
            }
        };
        let mut found: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| glob_match(name.as_bytes(), n.as_bytes()))
            })
            .collect();
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Matches a file name against a pattern with `*` and `?`.
pub fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_match(&p[1..], s) || (!s.is_empty() && glob_match(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_match(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Settings of the manager that do not come from the config file.
#[derive(Clone, Debug)]
pub struct ManagerOptions {
    /// `--web.external-url` (alert generator URLs, `$externalURL`).
    pub external_url: String,
    /// Resend delay, restore tolerance and grace period.
    pub group: GroupOptions,
    /// PromQL limits for rule queries.
    pub engine: EngineOptions,
    /// Load the shipped rules ([`crate::BUILTIN_RULES`], every 15 s unless
    /// `global.evaluation_interval` says otherwise) when the config names no `rule_files`.
    pub builtin_rules: bool,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            external_url: "http://localhost:9090".into(),
            group: GroupOptions::default(),
            engine: EngineOptions::default(),
            builtin_rules: false,
        }
    }
}

/// One group with its schedule.
pub struct Slot {
    /// The group and its state.
    pub group: Mutex<Group>,
    /// Next evaluation time (ms); 0 = at the next aligned tick.
    next_ms: Mutex<i64>,
    /// Restore `for` state after the first evaluation.
    restore: Mutex<bool>,
}

struct Loaded {
    slots: Vec<Arc<Slot>>,
    external_labels: BTreeMap<String, String>,
    group_opts: GroupOptions,
    first: bool,
}

/// Loads, evaluates and reloads rule groups.
pub struct Manager {
    backend: Arc<dyn Backend>,
    notifier: Arc<Notifier>,
    engine: Engine,
    opts: ManagerOptions,
    config_path: Option<PathBuf>,
    state: Mutex<Loaded>,
    /// Recent group evaluation durations (`prometheus_rule_group_duration_seconds`).
    pub(crate) durations: Mutex<crate::metrics::Durations>,
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Manager {
    /// A manager over `backend` configured from `config_path` (none: no rules, no
    /// Alertmanagers). Fails, naming file and line, if the config or a rule file is invalid.
    pub fn new(
        backend: Arc<dyn Backend>,
        config_path: Option<PathBuf>,
        opts: ManagerOptions,
    ) -> Result<Arc<Manager>, Error> {
        let cfg = match &config_path {
            Some(p) => load_config(p)?,
            None => PromConfig::default(),
        };
        let notifier = Notifier::new(
            cfg.alerting.clone(),
            NotifierOptions {
                external_labels: cfg.global.external_labels.clone().into_iter().collect(),
                ..NotifierOptions::default()
            },
        );
        let m = Arc::new(Manager {
            backend,
            notifier,
            engine: Engine::new(opts.engine.clone()),
            opts,
            config_path,
            durations: Mutex::new(crate::metrics::Durations::default()),
            state: Mutex::new(Loaded {
                slots: Vec::new(),
                external_labels: BTreeMap::new(),
                group_opts: GroupOptions::default(),
                first: true,
            }),
        });
        m.apply(cfg)?;
        Ok(m)
    }

    /// The notifier alerts are handed to.
    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// The external URL.
    pub fn external_url(&self) -> &str {
        &self.opts.external_url
    }

    /// Re-reads the config and rule files; on any error the old rules stay and the
    /// error (with file:line) is returned and logged.
    pub fn reload(&self) -> Result<(), Error> {
        let res = match &self.config_path {
            Some(p) => load_config(p).and_then(|cfg| self.apply(cfg)),
            None => Ok(()),
        };
        match &res {
            Ok(()) => tracing::info!("rules reloaded"),
            Err(e) => tracing::error!(error = %e, "reloading rules failed; keeping the old rules"),
        }
        res
    }

    /// Replaces the rule groups with those of `cfg`, keeping state of unchanged rules.
    fn apply(&self, cfg: PromConfig) -> Result<(), Error> {
        let base = self
            .config_path
            .as_ref()
            .and_then(|p| p.parent())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let builtin = self.opts.builtin_rules && cfg.rule_files.is_empty();
        let interval = self.global_duration(
            "evaluation_interval",
            cfg.global.evaluation_interval.as_deref(),
            if builtin {
                crate::BUILTIN_INTERVAL_MS
            } else {
                60_000
            },
            true,
        )?;
        let offset = self.global_duration(
            "rule_query_offset",
            cfg.global.rule_query_offset.as_deref(),
            0,
            false,
        )?;
        let files = expand_rule_files(&base, &cfg.rule_files)?;
        let mut defs = Vec::new();
        let mut errors = Vec::new();
        if builtin {
            match crate::parse_file(crate::BUILTIN_RULES_FILE, crate::BUILTIN_RULES) {
                Ok(rf) => defs.extend(rf.groups),
                Err(e) => errors.push(e.to_string()),
            }
        }
        for f in &files {
            match load_file(f) {
                Ok(rf) => defs.extend(rf.groups),
                Err(Error::Invalid { errors: e, .. }) => errors.extend(e),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid {
                file: files
                    .first()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default(),
                errors,
            });
        }
        let group_opts = GroupOptions {
            default_interval_ms: interval,
            default_query_offset_ms: offset,
            ..self.opts.group.clone()
        };
        let mut st = self.state.lock();
        let mut slots = Vec::with_capacity(defs.len());
        for def in defs {
            let old = st
                .slots
                .iter()
                .find(|s| {
                    let g = s.group.lock();
                    g.def.file == def.file && g.def.name == def.name
                })
                .cloned();
            let mut g = Group::new(def, &group_opts);
            let mut restore = st.first;
            if let Some(old) = old {
                restore = *old.restore.lock();
                let og = old.group.lock();
                g.copy_state(&og);
                g.stats = og.stats.clone();
                if og.interval_ms == g.interval_ms && og.def.rules.len() == g.def.rules.len() {
                    g.last_eval_ms = og.last_eval_ms;
                    g.eval_seconds = og.eval_seconds;
                }
            } else if !restore {
                g.set_restored();
            }
            slots.push(Arc::new(Slot {
                group: Mutex::new(g),
                next_ms: Mutex::new(0),
                restore: Mutex::new(restore),
            }));
        }
        // Groups the reload removed: their series get stale markers now, as Prometheus
        // does when it stops a group.
        let now = now_ms();
        let mut stale = Vec::new();
        for old in &st.slots {
            let og = old.group.lock();
            let kept = slots.iter().any(|s| {
                let g = s.group.lock();
                g.def.file == og.def.file && g.def.name == og.def.name
            });
            if !kept {
                stale.extend(og.stale_markers(now - og.query_offset_ms(&st.group_opts)));
            }
        }
        if !stale.is_empty() {
            if let Err(e) = self.backend.sink().append(&stale) {
                tracing::warn!(error = %e, "writing stale markers of removed groups failed");
            }
        }
        st.slots = slots;
        st.external_labels = cfg.global.external_labels;
        st.group_opts = group_opts;
        st.first = false;
        let external: Vec<(String, String)> = st
            .external_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        drop(st);
        self.notifier.reload(cfg.alerting, external);
        Ok(())
    }

    /// A `global.NAME` duration of the config (`default` when unset; `positive`: 0 is invalid).
    fn global_duration(
        &self,
        name: &str,
        v: Option<&str>,
        default: i64,
        positive: bool,
    ) -> Result<i64, Error> {
        let Some(s) = v else {
            return Ok(default);
        };
        query::promql::lexer::parse_duration(s.trim())
            .filter(|&v| v > 0 || (!positive && v == 0))
            .ok_or_else(|| Error::Invalid {
                file: self.config_path_str(),
                errors: vec![format!(
                    "{}: global.{name}: not a valid duration string: {s:?}",
                    self.config_path_str()
                )],
            })
    }

    fn config_path_str(&self) -> String {
        self.config_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// The current groups, in file order.
    pub fn slots(&self) -> Vec<Arc<Slot>> {
        self.state.lock().slots.clone()
    }

    /// Evaluates every group due at `now` (ms); returns how long to wait for the next.
    pub fn tick(&self, now: i64) -> Duration {
        let (slots, ext, gopts) = {
            let st = self.state.lock();
            (
                st.slots.clone(),
                st.external_labels.clone(),
                st.group_opts.clone(),
            )
        };
        let ctx = EvalCtx {
            storage: self.backend.storage(),
            engine: &self.engine,
            external_labels: ext,
            external_url: self.opts.external_url.clone(),
        };
        let mut wait = 1000;
        for s in slots {
            let mut g = s.group.lock();
            let iv = g.interval_ms.max(1);
            let mut next = s.next_ms.lock();
            if *next == 0 {
                *next = (now / iv + 1) * iv;
            }
            if now >= *next {
                // Evaluate at the latest aligned tick; missed ones are skipped (counted).
                let ts = now / iv * iv;
                let missed = ((ts - *next) / iv).max(0) as u64;
                g.stats.iterations += 1 + missed;
                g.stats.missed += missed;
                let alerts = g.eval(&ctx, self.backend.sink(), ts, &gopts);
                {
                    let mut d = self.durations.lock();
                    d.group.observe(g.eval_seconds);
                    for r in &g.rules {
                        d.rule.observe(r.health.eval_seconds);
                    }
                }
                let mut restore = s.restore.lock();
                if *restore {
                    g.restore_for_state(self.backend.storage(), ts, &gopts);
                    *restore = false;
                }
                if !alerts.is_empty() {
                    self.notifier.send(alerts);
                }
                *next = ts + iv;
            }
            wait = wait.min((*next - now).max(1));
        }
        Duration::from_millis(wait as u64)
    }

    /// Evaluates groups on their intervals until `shutdown` completes.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let me = self.clone();
            let wait = tokio::task::spawn_blocking(move || me.tick(now_ms()))
                .await
                .unwrap_or(Duration::from_secs(1));
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
