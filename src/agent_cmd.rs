//! Scraping in the store: the config file's `scrape_configs` run by the agent crate's
//! scrape manager, writing into the TSDB.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

/// One series of a TSDB batch: labels and samples.
type BatchRef<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

/// Appends scraped samples to the TSDB.
pub struct DbAppender(pub Arc<tsdb::Db>);

impl agent::Appender for DbAppender {
    fn append(&self, batch: &[agent::Sample]) -> Result<(), String> {
        let labels: Vec<Vec<(&str, &str)>> = batch
            .iter()
            .map(|(l, _, _)| l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
            .collect();
        let samples: Vec<[(i64, f64); 1]> = batch.iter().map(|(_, t, v)| [(*t, *v)]).collect();
        let refs: Vec<BatchRef> = labels
            .iter()
            .zip(&samples)
            .map(|(l, s)| (l.as_slice(), s.as_slice()))
            .collect();
        let out = self.0.append_batch(&refs).map_err(|e| e.to_string())?;
        if let Some(first) = out.first_rejection {
            tracing::debug!(rejected = ?out.rejected, first = %first, "scraped samples rejected");
        }
        Ok(())
    }
}

/// Scraping running in the store; reloads its jobs on SIGHUP.
pub struct Scraping {
    manager: Arc<Mutex<Option<agent::Manager>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts scraping the config file's `scrape_configs` into `db`; None without a file.
pub fn start(db: Arc<tsdb::Db>, config_file: Option<&Path>) -> Result<Option<Scraping>> {
    let Some(path) = config_file else {
        return Ok(None);
    };
    let loaded = agent::load(path).with_context(|| format!("loading {}", path.display()))?;
    let jobs = loaded.config.scrape_configs.len();
    let m = agent::Manager::start(&loaded.config, Arc::new(DbAppender(db)))
        .context("starting scrape jobs")?;
    tracing::info!(jobs, "scraping");
    let manager = Arc::new(Mutex::new(Some(m)));
    let task = tokio::spawn(reload_on_sighup(manager.clone(), path.to_path_buf()));
    Ok(Some(Scraping { manager, task }))
}

/// Re-reads the config file on each SIGHUP; a broken file keeps the running jobs.
async fn reload_on_sighup(m: Arc<Mutex<Option<agent::Manager>>>, path: PathBuf) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("installing the SIGHUP handler for scraping failed");
        return;
    };
    while hup.recv().await.is_some() {
        let (m, path) = (m.clone(), path.clone());
        let res = tokio::task::spawn_blocking(move || {
            let loaded = agent::load(&path)?;
            match m.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                Some(m) => m.apply(&loaded.config),
                None => Ok(()),
            }
        })
        .await;
        match res {
            Ok(Ok(())) => tracing::info!("scrape configuration reloaded"),
            Ok(Err(e)) => tracing::error!(error = %e, "reloading the scrape configuration failed"),
            Err(e) => tracing::error!(error = %e, "reload task failed"),
        }
    }
}

impl Scraping {
    /// Stops every scrape job (no staleness markers).
    pub async fn stop(self) {
        self.task.abort();
        let m = self.manager;
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(m) = m.lock().unwrap_or_else(|p| p.into_inner()).take() {
                m.stop();
            }
        })
        .await;
    }
}
