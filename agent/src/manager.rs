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

/// Runs every scrape job of a configuration until [`Manager::stop`].
pub struct Manager {
    stop: Stop,
    threads: Vec<JoinHandle<()>>,
    senders: Vec<Sender<(usize, Vec<TargetGroup>)>>,
    active: Active,
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

impl Manager {
    /// Starts all jobs; fails on what the configuration alone cannot tell (unreadable TLS files).
    pub fn start(cfg: &Config, appender: Arc<dyn Appender>) -> Result<Manager, Error> {
        let mut m = Manager {
            stop: Stop::new(),
            threads: Vec::new(),
            senders: Vec::new(),
            active: Active::default(),
        };
        let mut jobs = Vec::new();
        for sc in &cfg.scrape_configs {
            let timeout = sc.timeout(&cfg.global);
            jobs.push(Job {
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
                client: Client::new(&sc.http, timeout)?,
                sc: sc.clone(),
                global: cfg.global.clone(),
                appender: appender.clone(),
            });
        }
        for job in jobs {
            m.start_job(job)?;
        }
        Ok(m)
    }

    fn start_job(&mut self, job: Job) -> Result<(), Error> {
        let (tx, rx) = channel::<(usize, Vec<TargetGroup>)>();
        let mut provider = 0;
        if !job.sc.static_configs.is_empty() {
            let _ = tx.send((provider, static_groups(&job.sc.static_configs)));
            provider += 1;
        }
        for f in &job.sc.file_sd_configs {
            let (tx, stop, sd, id) = (
                tx.clone(),
                self.stop.clone(),
                FileSd::new(f.clone()),
                provider,
            );
            self.threads.push(spawn("file-sd", move || {
                sd.run(&move |g| drop(tx.send((id, g))), &stop)
            })?);
            provider += 1;
        }
        for k in &job.sc.kubernetes_sd_configs {
            let (tx, stop, id) = (tx.clone(), self.stop.clone(), provider);
            let sd = crate::kubernetes::Discovery::new(k.clone())?;
            let send: crate::kubernetes::Send = Arc::new(move |g| drop(tx.send((id, g))));
            // Not joined on stop: a watch may block until its server-side timeout.
            spawn("kubernetes-sd", move || sd.run(send, &stop))?;
            provider += 1;
        }
        self.senders.push(tx);
        let (active, stop) = (self.active.clone(), self.stop.clone());
        self.threads.push(spawn("scrape-job", move || {
            let mut groups: BTreeMap<usize, Vec<TargetGroup>> = BTreeMap::new();
            let mut loops: BTreeMap<Target, LoopHandle> = BTreeMap::new();
            while !stop.stopped() {
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
            for (_, h) in std::mem::take(&mut loops) {
                h.stop.stop();
                let _ = h.thread.join();
            }
        })?);
        Ok(())
    }

    /// The targets being scraped, by job.
    pub fn active(&self) -> BTreeMap<String, Vec<Target>> {
        self.active.lock().clone()
    }

    /// Stops every loop and provider (no staleness markers: the targets did not go away).
    pub fn stop(mut self) {
        self.stop.stop();
        self.senders.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
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
        .stack_size(256 << 10)
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
}
