//! Scraping in the store: the config file's `scrape_configs` run by the agent crate's
//! scrape manager, writing into the TSDB.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};

/// Appends scraped samples to the TSDB.
pub struct DbAppender(pub Arc<tsdb::Db>);

impl agent::Appender for DbAppender {
    fn append(&self, batch: &[agent::Sample]) -> Result<(), String> {
        let labels: Vec<Vec<(&str, &str)>> = batch
            .iter()
            .map(|(l, _, _)| l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
            .collect();
        let samples: Vec<[(i64, f64); 1]> = batch.iter().map(|(_, t, v)| [(*t, *v)]).collect();
        let refs: Vec<(&[(&str, &str)], &[(i64, f64)])> = labels
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

/// Starts scraping the config file's `scrape_configs` into `db`; None without a file or jobs.
pub fn start(db: Arc<tsdb::Db>, config_file: Option<&Path>) -> Result<Option<agent::Manager>> {
    let Some(path) = config_file else {
        return Ok(None);
    };
    let loaded = agent::load(path).with_context(|| format!("loading {}", path.display()))?;
    if loaded.config.scrape_configs.is_empty() {
        return Ok(None);
    }
    let jobs = loaded.config.scrape_configs.len();
    let m = agent::Manager::start(&loaded.config, Arc::new(DbAppender(db)))
        .context("starting scrape jobs")?;
    tracing::info!(jobs, "scraping");
    Ok(Some(m))
}
