//! Collectors of this machine writing into a sink (the store's TSDB, or the agent's
//! remote-write client) as if a Prometheus scraped them: samples stamped on the scheduled
//! tick, target labels added, `up` and `scrape_{duration_seconds,samples_scraped}` per target.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One collection: label pairs (metric name as `__name__` included, any order) and values.
pub type Collection = Vec<(Vec<(String, String)>, f64)>;

/// Turns a collection's metric set into series: `__name__` plus each sample's labels; a
/// sample label that clashes with a target label is renamed `exported_<name>`, as
/// Prometheus does without `honor_labels`.
pub fn set_to_series(set: &expo::MetricSet, target: &[(String, String)]) -> Collection {
    let mut out = Vec::new();
    for fam in set.families() {
        for s in fam.samples() {
            let mut labels: Vec<(String, String)> = Vec::with_capacity(8 + target.len());
            labels.push(("__name__".into(), format!("{}{}", fam.name(), s.suffix())));
            for (n, v) in s.labels() {
                let n = if target.iter().any(|(t, _)| t == n) {
                    format!("exported_{n}")
                } else {
                    n.to_string()
                };
                labels.push((n, v.to_string()));
            }
            out.push((labels, s.value()));
        }
    }
    out
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where collected samples go: each call gets one collection's series (labels sorted by
/// name) stamped with one tick.
pub trait Sink: Send + Sync + 'static {
    /// Stores or queues `series` at time `t` (ms).
    fn write(&self, series: &[(Vec<(String, String)>, f64)], t: i64) -> Result<(), String>;
}

impl Sink for tsdb::Db {
    fn write(&self, series: &[(Vec<(String, String)>, f64)], t: i64) -> Result<(), String> {
        let labels: Vec<Vec<(&str, &str)>> = series
            .iter()
            .map(|(l, _)| l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
            .collect();
        let samples: Vec<[(i64, f64); 1]> = series.iter().map(|(_, v)| [(t, *v)]).collect();
        #[allow(clippy::type_complexity)]
        let batch: Vec<(&[(&str, &str)], &[(i64, f64)])> = labels
            .iter()
            .zip(&samples)
            .map(|(l, s)| (l.as_slice(), s.as_slice()))
            .collect();
        self.append_batch(&batch)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl Sink for rwclient::Client {
    fn write(&self, series: &[(Vec<(String, String)>, f64)], t: i64) -> Result<(), String> {
        let rows: Vec<rwclient::Row> = series.iter().map(|(l, v)| (l.clone(), t, *v)).collect();
        self.append(&rows).map_err(|e| e.to_string())?;
        self.flush().map_err(|e| e.to_string())
    }
}

/// Calls `collect` every `interval` and writes its series with `target` labels to `sink`,
/// stamped with the tick (a multiple of `interval` since the epoch). A failed collection
/// writes only `up 0`. Runs until the task is dropped.
pub async fn collect_loop<S, C>(
    sink: Arc<S>,
    collect: C,
    interval: Duration,
    target: Vec<(String, String)>,
) where
    S: Sink + ?Sized,
    C: FnMut(&[(String, String)]) -> Result<Collection, String> + Send + 'static,
{
    let collect = Arc::new(Mutex::new(collect));
    let target = Arc::new(target);
    let step = (interval.as_millis() as i64).max(1);
    loop {
        let now = now_ms();
        let tick = (now / step + 1) * step;
        tokio::time::sleep(Duration::from_millis((tick - now).max(0) as u64)).await;
        let (collect, sink, target) = (collect.clone(), sink.clone(), target.clone());
        let res = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut collect = collect.lock().unwrap_or_else(|p| p.into_inner());
            let (mut series, up) = match collect(&target) {
                Ok(s) => (s, 1.0),
                Err(e) => {
                    tracing::warn!(error = %e, "local collection failed");
                    (Vec::new(), 0.0)
                }
            };
            let scraped = series.len() as f64;
            for (name, v) in [
                ("up", up),
                ("scrape_samples_scraped", scraped),
                ("scrape_duration_seconds", started.elapsed().as_secs_f64()),
            ] {
                series.push((vec![("__name__".to_string(), name.to_string())], v));
            }
            for (labels, _) in &mut series {
                labels.extend(target.iter().cloned());
                labels.sort();
            }
            sink.write(&series, tick)
        })
        .await;
        match res {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "writing local metrics failed"),
            Err(e) => tracing::error!(error = %e, "local collection task failed"),
        }
    }
}
