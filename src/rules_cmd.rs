//! `vitals check rules` and `vitals test rules`: promtool-compatible rule tooling.

use std::path::PathBuf;

use clap::Subcommand;

/// `vitals check …`.
#[derive(Subcommand, Debug)]
pub enum CheckCommand {
    /// Check rule files (as `promtool check rules`).
    Rules {
        /// Linting checks to apply: all, duplicate-rules, none.
        #[arg(long, default_value = "duplicate-rules", value_parser = ["all", "duplicate-rules", "none"])]
        lint: String,
        /// Make lint errors exit with exit code 3.
        #[arg(long = "lint-fatal")]
        lint_fatal: bool,
        /// Rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `vitals test …`.
#[derive(Subcommand, Debug)]
pub enum TestCommand {
    /// Run rule unit tests (as `promtool test rules`).
    Rules {
        /// Unit-test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs `vitals check rules`; returns the process exit code.
pub fn check(cmd: CheckCommand) -> i32 {
    let CheckCommand::Rules {
        lint,
        lint_fatal,
        files,
    } = cmd;
    let lint = rules::check::Lint {
        duplicates: lint != "none",
        fatal: lint_fatal,
    };
    rules::check::check_files(&files, lint, &mut std::io::stdout(), &mut std::io::stderr())
}

/// Runs `vitals test rules`; returns the process exit code.
pub fn test(cmd: TestCommand) -> i32 {
    let TestCommand::Rules { files } = cmd;
    rules::unittest::run_files(&files, &mut std::io::stdout(), &mut std::io::stderr())
}

/// Rule-engine flags of `vitals store` (Prometheus' names).
#[derive(clap::Args, Debug, Clone)]
pub struct RuleFlags {
    /// Prometheus configuration file: `global`, `rule_files`, `alerting` are read.
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,
    /// URL under which the store is reached (alert generator URLs); default http://<listen address>.
    #[arg(long = "web.external-url", default_value = "")]
    pub external_url: String,
    /// Minimum time between resending a firing alert to Alertmanager.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m")]
    pub resend_delay: String,
    /// Longest outage after which `for` state of alerts is still restored.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h")]
    pub outage_tolerance: String,
    /// Least time an alert with a restored `for` state waits before firing.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m")]
    pub grace_period: String,
    /// Evaluate the shipped default rules when --config.file names no rule_files (default
    /// true in all-in-one mode, false in `vitals store`).
    #[arg(long = "rules.builtin", default_value_t = false, action = clap::ArgAction::Set)]
    pub builtin: bool,
}

impl RuleFlags {
    /// The flags as `/api/v1/status/flags` shows them.
    pub fn status_flags(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "config.file",
                self.config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("web.external-url", self.external_url.clone()),
            ("rules.alert.resend-delay", self.resend_delay.clone()),
            (
                "rules.alert.for-outage-tolerance",
                self.outage_tolerance.clone(),
            ),
            ("rules.alert.for-grace-period", self.grace_period.clone()),
            ("rules.builtin", self.builtin.to_string()),
        ]
    }
}

fn dur_ms(flag: &str, s: &str) -> anyhow::Result<i64> {
    query::promql::lexer::parse_duration(s.trim())
        .ok_or_else(|| anyhow::anyhow!("--{flag}: not a valid duration: {s:?}"))
}

/// Builds the rule manager over `db` from the flags (rule files are loaded now; an
/// invalid one fails startup with its file:line).
pub fn manager(
    db: std::sync::Arc<tsdb::Db>,
    f: &RuleFlags,
    listen: std::net::SocketAddr,
    engine: query::promql::EngineOptions,
) -> anyhow::Result<std::sync::Arc<rules::manager::Manager>> {
    let external_url = if f.external_url.is_empty() {
        format!("http://{listen}")
    } else {
        f.external_url.trim_end_matches('/').to_string()
    };
    let opts = rules::manager::ManagerOptions {
        external_url,
        group: rules::eval::GroupOptions {
            default_interval_ms: 60_000,
            resend_delay_ms: dur_ms("rules.alert.resend-delay", &f.resend_delay)?,
            outage_tolerance_ms: dur_ms("rules.alert.for-outage-tolerance", &f.outage_tolerance)?,
            for_grace_ms: dur_ms("rules.alert.for-grace-period", &f.grace_period)?,
            default_query_offset_ms: 0,
        },
        engine,
        builtin_rules: f.builtin,
    };
    rules::manager::Manager::new(db, f.config_file.clone(), opts).map_err(|e| {
        let file = f.config_file.as_ref().map(|p| p.display().to_string());
        anyhow::anyhow!(
            "error loading config (--config.file={}): {e}",
            file.unwrap_or_default()
        )
    })
}

/// Evaluates rules until the task is aborted; reloads on SIGHUP.
pub async fn run(m: std::sync::Arc<rules::manager::Manager>) {
    #[cfg(unix)]
    {
        let m2 = m.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                tracing::error!("installing the SIGHUP handler failed");
                return;
            };
            while hup.recv().await.is_some() {
                let m3 = m2.clone();
                let _ = tokio::task::spawn_blocking(move || m3.reload()).await;
            }
        });
    }
    m.run(std::future::pending::<()>()).await;
}
