//! The scrape manager: per job, runs the discovery providers, turns their groups into
//! targets, and keeps one scrape loop per target (a removed target gets staleness markers).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::config::{Config, GlobalConfig, ScrapeConfig};
use crate::discovery::{static_groups, FileSd, Stop};
use crate::http::Client;
use crate::relabel::{compile_all, Rule};
use crate::scrape::{Loop, Options};
use crate::target::{targets, Target, TargetGroup};
use crate::{Appender, Error};

/// Active targets by job name.
pub type Active = Arc<Mutex<BTreeMap<String, Vec<Target>>>>;

/// Runs every scrape job of a configuration until [`Manager::stop`]; [`Manager::apply`]
/// reloads.
pub struct Manager {
    jobs: BTreeMap<String, Running>,
    appender: Arc<dyn Appender>,
    active: Active,
}

/// One running job: what it was started from and how to stop it.
struct Running {
    /// The job's config and the global config, serialised: a reload keeps the job when equal.
    fingerprint: String,
    stop: Stop,
    /// Write staleness markers for every target when stopping (the job went away).
    stale: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    sender: Sender<(usize, Vec<TargetGroup>)>,
}

impl Running {
    fn stop(self, stale: bool) {
        self.stale.store(stale, Ordering::SeqCst);
        self.stop.stop();
        drop(self.sender);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

struct Job {
    sc: ScrapeConfig,
    global: GlobalConfig,
    rules: Vec<Rule>,
    opts: Options,
    client: Client,
    appender: Arc<dyn Appender>,
}

struct LoopHandle {
    stop: Stop,
    stale: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

fn fingerprint(sc: &ScrapeConfig, g: &GlobalConfig) -> String {
    // Secrets serialize as `<secret>`: their digest makes a changed password a change.
    let digest = sc.http.secrets_digest();
    format!(
        "{}{digest:x}",
        serde_yaml::to_string(&(sc, g)).unwrap_or_default()
    )
}

impl Manager {
    /// Starts all jobs; fails on what the configuration alone cannot tell (unreadable TLS files).
    pub fn start(cfg: &Config, appender: Arc<dyn Appender>) -> Result<Manager, Error> {
        let mut m = Manager {
            jobs: BTreeMap::new(),
            appender,
            active: Active::default(),
        };
        m.apply(cfg)?;
        Ok(m)
    }

    /// Reloads: jobs whose config is unchanged keep running untouched; removed jobs stop
    /// with staleness markers; new and changed jobs (re)start. Nothing changes on error.
    pub fn apply(&mut self, cfg: &Config) -> Result<(), Error> {
        let mut fresh = Vec::new();
        for sc in &cfg.scrape_configs {
            let fp = fingerprint(sc, &cfg.global);
            if self
                .jobs
                .get(&sc.job_name)
                .is_some_and(|r| r.fingerprint == fp)
            {
                continue;
            }
            fresh.push((self.job(sc, &cfg.global)?, fp));
        }
        let keep: Vec<&str> = cfg
            .scrape_configs
            .iter()
            .map(|s| s.job_name.as_str())
            .collect();
        let changed: Vec<String> = self
            .jobs
            .keys()
            .filter(|n| {
                !keep.contains(&n.as_str()) || fresh.iter().any(|(j, _)| &j.sc.job_name == *n)
            })
            .cloned()
            .collect();
        for name in changed {
            if let Some(r) = self.jobs.remove(&name) {
                r.stop(true);
                self.active.lock().remove(&name);
            }
        }
        for (job, fp) in fresh {
            let name = job.sc.job_name.clone();
            let r = self.start_job(job, fp)?;
            self.jobs.insert(name, r);
        }
        Ok(())
    }

    fn job(&self, sc: &ScrapeConfig, g: &GlobalConfig) -> Result<Job, Error> {
        Ok(Job {
            rules: compile_all(&sc.relabel_configs)?,
            opts: Options {
                honor_labels: sc.honor_labels,
                honor_timestamps: sc.honor_timestamps,
                sample_limit: sc.sample_limit,
                label_limit: sc.label_limit,
                label_name_length_limit: sc.label_name_length_limit,
                label_value_length_limit: sc.label_value_length_limit,
                metric_rules: Arc::new(compile_all(&sc.metric_relabel_configs)?),
            },
            client: Client::new(&sc.http, sc.timeout(g))?,
            sc: sc.clone(),
            global: g.clone(),
            appender: self.appender.clone(),
        })
    }

    fn start_job(&mut self, job: Job, fingerprint: String) -> Result<Running, Error> {
        let (tx, rx) = channel::<(usize, Vec<TargetGroup>)>();
        let stop = Stop::new();
        let mut threads = Vec::new();
        let mut provider = 0;
        if !job.sc.static_configs.is_empty() {
            let _ = tx.send((provider, static_groups(&job.sc.static_configs)));
            provider += 1;
        }
        let mut k8s = Vec::new();
        for k in &job.sc.kubernetes_sd_configs {
            k8s.push(crate::kubernetes::Discovery::new(k.clone())?);
        }
        for f in &job.sc.file_sd_configs {
            let (tx, stop, sd, id) = (tx.clone(), stop.clone(), FileSd::new(f.clone()), provider);
            threads.push(spawn("file-sd", move || {
                sd.run(&move |g| drop(tx.send((id, g))), &stop)
            })?);
            provider += 1;
        }
        for sd in k8s {
            let (tx, stop, id) = (tx.clone(), stop.clone(), provider);
            let send: crate::kubernetes::Send = Arc::new(move |g| drop(tx.send((id, g))));
            // Not joined on stop: a watch may block until its server-side timeout.
            spawn("kubernetes-sd", move || sd.run(send, &stop))?;
            provider += 1;
        }
        let stale = Arc::new(AtomicBool::new(false));
        self.active
            .lock()
            .insert(job.sc.job_name.clone(), Vec::new());
        let (active, stop2, stale2) = (self.active.clone(), stop.clone(), stale.clone());
        threads.push(spawn("scrape-job", move || {
            let mut groups: BTreeMap<usize, Vec<TargetGroup>> = BTreeMap::new();
            let mut loops: BTreeMap<Target, LoopHandle> = BTreeMap::new();
            while !stop2.stopped() {
                let (id, g) = match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                };
                groups.insert(id, g);
                let all: Vec<TargetGroup> = groups.values().flatten().cloned().collect();
                let want = targets(&job.sc, &job.global, &job.rules, &all);
                job.sync(&mut loops, &want);
                active.lock().insert(job.sc.job_name.clone(), want);
            }
            let stale = stale2.load(Ordering::SeqCst);
            for (_, h) in std::mem::take(&mut loops) {
                h.stale.store(stale, Ordering::SeqCst);
                h.stop.stop();
                let _ = h.thread.join();
            }
        })?);
        Ok(Running {
            fingerprint,
            stop,
            stale,
            threads,
            sender: tx,
        })
    }

    /// The targets being scraped, by job.
    pub fn active(&self) -> BTreeMap<String, Vec<Target>> {
        self.active.lock().clone()
    }

    /// Stops every loop and provider (no staleness markers: the targets did not go away).
    pub fn stop(mut self) {
        for (_, r) in std::mem::take(&mut self.jobs) {
            r.stop(false);
        }
    }
}

impl Job {
    /// Starts loops for new targets and stops (with staleness markers) removed ones.
    fn sync(&self, loops: &mut BTreeMap<Target, LoopHandle>, want: &[Target]) {
        loops.retain(|t, h| {
            let keep = want.binary_search(t).is_ok();
            if !keep {
                h.stale.store(true, Ordering::SeqCst);
                h.stop.stop();
            }
            keep
        });
        for t in want {
            if loops.contains_key(t) {
                continue;
            }
            let (stop, stale) = (Stop::new(), Arc::new(AtomicBool::new(false)));
            let l = Loop::new(
                t.clone(),
                self.opts.clone(),
                self.client.clone(),
                self.appender.clone(),
            );
            let (s2, st2) = (stop.clone(), stale.clone());
            match spawn("scrape", move || l.run(&s2, &st2)) {
                Ok(thread) => {
                    loops.insert(
                        t.clone(),
                        LoopHandle {
                            stop,
                            stale,
                            thread,
                        },
                    );
                }
                Err(e) => tracing::error!(error = %e, "starting a scrape loop failed"),
            }
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, Error> {
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(1 << 20)
        .spawn(f)
        .map_err(|source| Error::Io {
            path: format!("thread {name}"),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::tests::{serve, Rec};

    #[test]
    fn removed_targets_get_staleness_markers() {
        let (addr, _) = serve(vec![(200, "m 1\n")]);
        let dir = tempfile::tempdir().unwrap();
        let sd = dir.path().join("t.json");
        std::fs::write(&sd, format!(r#"[{{"targets": ["{addr}"]}}]"#)).unwrap();
        let yaml = format!(
            "scrape_configs:\n- job_name: f\n  scrape_interval: 100ms\n  file_sd_configs: [{{files: ['{}'], refresh_interval: 50ms}}]\n  relabel_configs: [{{target_label: team, replacement: a}}]\n",
            sd.display()
        );
        let cfg = crate::config::parse(&yaml, "t").unwrap().config;
        let rec = Arc::new(Rec::default());
        let m = Manager::start(&cfg, rec.clone()).unwrap();
        let wait = |f: &dyn Fn(&[Vec<crate::Sample>]) -> bool| {
            for _ in 0..200 {
                if f(&rec.0.lock().unwrap()) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            panic!("condition not reached");
        };
        let up = |s: &crate::Sample| s.0.iter().any(|l| l.0 == "__name__" && l.1 == "up");
        wait(&|b| {
            b.iter()
                .flatten()
                .any(|s| up(s) && s.2 == 1.0 && s.0.contains(&("team".into(), "a".into())))
        });
        assert_eq!(m.active()["f"].len(), 1);
        std::fs::write(&sd, "[]").unwrap();
        wait(&|b| {
            b.iter()
                .flatten()
                .any(|s| up(s) && s.2.to_bits() == crate::STALE_NAN_BITS)
        });
        let n = rec.0.lock().unwrap().len();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(rec.0.lock().unwrap().len(), n, "no scrapes after removal");
        assert!(m.active()["f"].is_empty());
        m.stop();
    }

    #[test]
    fn apply_keeps_unchanged_jobs_and_stales_removed_ones() {
        let (addr, _) = serve(vec![(200, "m 1\n")]);
        let job = |name: &str, extra: &str| {
            format!("- job_name: {name}\n  scrape_interval: 100ms\n  static_configs: [{{targets: ['{addr}']}}]\n{extra}")
        };
        let cfg = |jobs: &[String]| {
            crate::config::parse(&format!("scrape_configs:\n{}", jobs.concat()), "t")
                .unwrap()
                .config
        };
        let rec = Arc::new(Rec::default());
        let mut m = Manager::start(&cfg(&[job("a", ""), job("b", "")]), rec.clone()).unwrap();
        let has = |job: &str, stale: bool| {
            rec.0.lock().unwrap().iter().flatten().any(|s| {
                s.0.contains(&("job".into(), job.into()))
                    && s.0.contains(&("__name__".into(), "up".into()))
                    && (s.2.to_bits() == crate::STALE_NAN_BITS) == stale
            })
        };
        for _ in 0..200 {
            if has("a", false) && has("b", false) {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        assert!(has("a", false) && has("b", false));
        m.apply(&cfg(&[job("a", ""), job("c", "  honor_labels: true\n")]))
            .unwrap();
        assert!(
            has("b", true),
            "removed job's series are marked stale on reload"
        );
        assert!(!has("a", true), "unchanged job keeps running");
        for _ in 0..200 {
            if m.active().len() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        assert_eq!(m.active().keys().collect::<Vec<_>>(), ["a", "c"]);
        // A changed job restarts.
        m.apply(&cfg(&[
            job("a", "  sample_limit: 5\n"),
            job("c", "  honor_labels: true\n"),
        ]))
        .unwrap();
        assert!(has("a", true));
        // An invalid reload changes nothing.
        let mut bad = cfg(&[job("d", "")]);
        bad.scrape_configs[0].http.tls_config.ca_file = Some("/nonexistent/ca.crt".into());
        assert!(m.apply(&bad).is_err());
        assert_eq!(m.active().keys().collect::<Vec<_>>(), ["a", "c"]);
        m.stop();
    }
}
