//! One scrape loop per target: HTTP GET on the target's aligned ticks, parse, label
//! handling (`honor_labels`, `metric_relabel_configs`, limits), synthetic series and
//! staleness markers, handed to an [`Appender`].

use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::discovery::Stop;
use crate::http::Client;
use crate::relabel::{process, LabelSet, Rule};
use crate::target::Target;
use crate::{stale_nan, Appender, Error, Sample};

/// The `Accept` header Prometheus 2.x sends.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Largest body read from a target.
const MAX_BODY: u64 = 256 << 20;

/// Per-job options of a scrape loop.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Keep the target's labels on conflict.
    pub honor_labels: bool,
    /// Use exposed timestamps.
    pub honor_timestamps: bool,
    /// Most samples after metric relabeling (0: none).
    pub sample_limit: u64,
    /// Most labels per series (0: none).
    pub label_limit: u64,
    /// Longest label name (0: none).
    pub label_name_length_limit: u64,
    /// Longest label value (0: none).
    pub label_value_length_limit: u64,
    /// `metric_relabel_configs`.
    pub metric_rules: Arc<Vec<Rule>>,
}

type Series = Vec<(String, String)>;

/// The state of one target's scraping.
pub struct Loop {
    target: Target,
    opts: Options,
    client: Client,
    appender: Arc<dyn Appender>,
    /// Series of the last scrape that carried no explicit timestamp.
    prev: HashSet<Series>,
    last_tick: Option<i64>,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// FNV-1a 64 over the target's labels and URL: spreads targets over the interval.
fn offset_ms(t: &Target, interval_ms: i64) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |s: &str| {
        for b in s.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (n, v) in &t.labels {
        eat(n);
        eat(v);
    }
    eat(&t.url);
    (h % interval_ms.max(1) as u64) as i64
}

impl Loop {
    /// A loop for `target`.
    pub fn new(target: Target, opts: Options, client: Client, appender: Arc<dyn Appender>) -> Loop {
        Loop {
            target,
            opts,
            client,
            appender,
            prev: HashSet::new(),
            last_tick: None,
        }
    }

    /// The first scheduled tick after `now`: ticks are `offset + k * interval`.
    pub fn next_tick(&self, now: i64) -> i64 {
        let iv = (self.target.interval.as_millis() as i64).max(1);
        let off = offset_ms(&self.target, iv);
        (now - off).div_euclid(iv) * iv + iv + off
    }

    /// Scrapes on every tick until stopped; then, when `stale` is set (the target went
    /// away), writes staleness markers for all of its series.
    pub fn run(mut self, stop: &Stop, stale: &AtomicBool) {
        loop {
            let now = now_ms();
            let tick = self.next_tick(now);
            if !stop.sleep(Duration::from_millis((tick - now) as u64)) {
                break;
            }
            self.scrape(tick);
        }
        if stale.load(Ordering::SeqCst) {
            let ts = now_ms().max(self.last_tick.map_or(0, |t| t + 1));
            self.end_of_run(ts);
        }
    }

    /// Staleness markers for every series of the target, report series included.
    pub fn end_of_run(&mut self, ts: i64) {
        if self.last_tick.is_none() {
            return;
        }
        let mut batch: Vec<Sample> = self.prev.drain().map(|s| (s, ts, stale_nan())).collect();
        for name in REPORT_NAMES {
            batch.push((self.report_series(name), ts, stale_nan()));
        }
        batch.sort_by(|a, b| a.0.cmp(&b.0));
        if let Err(e) = self.appender.append(&batch) {
            tracing::error!(target = %self.target.url, error = %e, "appending staleness markers failed");
        }
    }

    /// The body and whether it is OpenMetrics (by `Content-Type`).
    fn fetch(&self) -> Result<(String, bool), Error> {
        let req = self
            .client
            .get(&self.target.url)?
            .timeout(self.target.timeout)
            .set("Accept", ACCEPT)
            .set(
                "X-Prometheus-Scrape-Timeout-Seconds",
                &format!("{}", self.target.timeout.as_secs_f64()),
            );
        let resp = req.call().map_err(|e| match e {
            ureq::Error::Status(code, _) => {
                Error::Http(format!("server returned HTTP status {code}"))
            }
            e => Error::Http(e.to_string()),
        })?;
        let om = resp
            .header("Content-Type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text"));
        let mut body = String::new();
        resp.into_reader()
            .take(MAX_BODY)
            .read_to_string(&mut body)
            .map_err(|e| Error::Http(format!("reading body: {e}")))?;
        Ok((body, om))
    }

    /// One scrape stamped `tick`; returns whether it succeeded.
    pub fn scrape(&mut self, tick: i64) -> bool {
        let started = Instant::now();
        let res = self
            .fetch()
            .and_then(|(body, om)| self.samples(&body, om, tick));
        let dur = started.elapsed().as_secs_f64();
        let (mut batch, up, scraped, post, added) = match res {
            Ok(s) => {
                let seen = s.tracked;
                let added = seen.iter().filter(|x| !self.prev.contains(*x)).count();
                let mut batch = s.samples;
                batch.extend(
                    self.prev
                        .difference(&seen)
                        .map(|x| (x.clone(), tick, stale_nan())),
                );
                self.prev = seen;
                (batch, 1.0, s.scraped, s.post, added)
            }
            Err(e) => {
                tracing::debug!(target = %self.target.url, error = %e, "scrape failed");
                let batch = self.prev.drain().map(|x| (x, tick, stale_nan())).collect();
                (batch, 0.0, 0, 0, 0)
            }
        };
        for (name, v) in
            REPORT_NAMES
                .iter()
                .zip([up, dur, scraped as f64, post as f64, added as f64])
        {
            batch.push((self.report_series(name), tick, v));
        }
        self.last_tick = Some(tick);
        if let Err(e) = self.appender.append(&batch) {
            tracing::error!(target = %self.target.url, error = %e, "appending scraped samples failed");
        }
        up == 1.0
    }

    fn report_series(&self, name: &str) -> Series {
        let mut l = self.target.labels.clone();
        l.push(("__name__".into(), name.into()));
        l.sort();
        l
    }

    /// Turns a body into samples with final labels; a limit exceeded fails the scrape.
    fn samples(&self, body: &str, om: bool, tick: i64) -> Result<Scraped, Error> {
        let fams = if om {
            expo::parse_openmetrics(body)
        } else {
            expo::parse(body)
        };
        let fams = fams.map_err(|e| Error::Scrape(e.to_string()))?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut tracked = HashSet::new();
        let mut scraped = 0;
        for f in &fams {
            for s in &f.samples {
                scraped += 1;
                let mut ls: LabelSet = s.labels.iter().cloned().collect();
                ls.insert("__name__".into(), format!("{}{}", f.name, s.suffix));
                let ls = mutate(ls, &self.target.labels, self.opts.honor_labels);
                let Some(ls) = process(ls, &self.opts.metric_rules) else {
                    continue;
                };
                if ls.get("__name__").is_none_or(|n| n.is_empty()) {
                    return Err(Error::Scrape(
                        "__name__ label is missing after metric relabeling".into(),
                    ));
                }
                self.check_limits(&ls)?;
                let series: Series = ls.into_iter().collect();
                if !seen.insert(series.clone()) {
                    continue;
                }
                let ts = match s.timestamp {
                    Some(t) if self.opts.honor_timestamps => t,
                    _ => {
                        tracked.insert(series.clone());
                        tick
                    }
                };
                out.push((series, ts, s.value));
            }
        }
        if self.opts.sample_limit > 0 && out.len() as u64 > self.opts.sample_limit {
            return Err(Error::Scrape(format!(
                "sample limit exceeded ({} > {})",
                out.len(),
                self.opts.sample_limit
            )));
        }
        let post = out.len();
        Ok(Scraped {
            samples: out,
            tracked,
            scraped,
            post,
        })
    }

    fn check_limits(&self, ls: &LabelSet) -> Result<(), Error> {
        let o = &self.opts;
        if o.label_limit > 0 && ls.len() as u64 > o.label_limit {
            return Err(Error::Scrape(format!(
                "label_limit exceeded ({} > {})",
                ls.len(),
                o.label_limit
            )));
        }
        for (n, v) in ls {
            if o.label_name_length_limit > 0 && n.len() as u64 > o.label_name_length_limit {
                return Err(Error::Scrape(format!(
                    "label_name_length_limit exceeded by {n:?}"
                )));
            }
            if o.label_value_length_limit > 0 && v.len() as u64 > o.label_value_length_limit {
                return Err(Error::Scrape(format!(
                    "label_value_length_limit exceeded by label {n:?}"
                )));
            }
        }
        Ok(())
    }
}

struct Scraped {
    samples: Vec<Sample>,
    /// Series stamped with the tick (staleness applies to them only).
    tracked: HashSet<Series>,
    scraped: usize,
    post: usize,
}

const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Adds the target's labels to a sample's: with `honor_labels` the sample's win; without,
/// a clashing exposed label is kept as `exported_<name>` (prefixed again while taken).
pub fn mutate(mut ls: LabelSet, target: &[(String, String)], honor: bool) -> LabelSet {
    if honor {
        for (n, v) in target {
            if ls.get(n).is_none_or(|x| x.is_empty()) {
                ls.insert(n.clone(), v.clone());
            }
        }
        return ls;
    }
    let mut conflicts: Vec<(String, String)> = Vec::new();
    for (n, v) in target {
        if let Some(old) = ls.insert(n.clone(), v.clone()) {
            if !old.is_empty() {
                conflicts.push((n.clone(), old));
            }
        }
    }
    conflicts.sort_by_key(|(n, _)| n.len());
    for (n, v) in conflicts {
        let mut name = n;
        loop {
            name = format!("exported_{name}");
            if ls.get(&name).is_none_or(|x| x.is_empty()) {
                ls.insert(name, v);
                break;
            }
        }
    }
    ls
}

#[cfg(test)]
pub(crate) mod tests;
