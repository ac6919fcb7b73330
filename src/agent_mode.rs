//! `vitals agent`: this node's collectors (node, cgroup, optionally GPU) and the config
//! file's scrape jobs, pushed by remote-write through a disk-backed queue to a central store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::State;
use axum::routing::get;
use clap::Args;

use crate::local_collect::Sink;

/// Flags of `vitals agent`.
#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// Remote-write endpoint (e.g. http://vitals-store.monitoring.svc:9090/api/v1/write);
    /// added to the config file's `remote_write` entries.
    #[arg(long = "remote-write.url")]
    pub url: Option<String>,
    /// File holding the bearer token sent to `--remote-write.url`.
    #[arg(long = "remote-write.bearer-token-file")]
    pub bearer_token_file: Option<PathBuf>,
    /// A Prometheus configuration: `global.external_labels`, `scrape_configs`, `remote_write`.
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,
    /// This node's name: the `instance` (and `node`) label of its metrics.
    #[arg(long = "node-name", env = "NODE_NAME")]
    pub node_name: Option<String>,
    /// Where the host's procfs, sysfs (cgroups under `<sysfs>/fs/cgroup`) and `/` are mounted.
    #[command(flatten)]
    pub paths: crate::node_cmd::HostPaths,
    /// Interval of the node, cgroup and GPU collections.
    #[arg(long = "collect.interval", default_value = "15s")]
    pub interval: String,
    /// Directory of the remote-write disk queue.
    #[arg(long = "storage.agent.path", default_value = "data-agent")]
    pub storage: PathBuf,
    /// Most bytes the disk queue keeps (per remote-write endpoint); the oldest unsent data
    /// is dropped beyond it (e.g. 256MiB).
    #[arg(long = "storage.agent.max-bytes", default_value = "256MiB")]
    pub max_bytes: String,
    /// Collect NVIDIA GPU metrics through NVML (dcgm-exporter names).
    #[arg(long = "collector.gpu")]
    pub gpu: bool,
    /// Address of the agent's own `/metrics`, `/-/healthy` and `/-/ready`.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:9101")]
    pub listen: SocketAddr,
}

/// The `remote_write` entries of a config file, read with the client's own types.
#[derive(serde::Deserialize, Default)]
struct RemoteWriteSection {
    #[serde(default)]
    remote_write: Vec<rwclient::RemoteWriteConfig>,
}

/// One remote-write endpoint with its `write_relabel_configs`.
struct Endpoint {
    client: Arc<rwclient::Client>,
    relabel: Vec<agent::relabel::Rule>,
}

/// Every endpoint: each collection goes to all of them.
struct Fanout(Vec<Endpoint>);

impl Fanout {
    fn send(&self, rows: &[rwclient::Row]) -> Result<(), String> {
        for e in &self.0 {
            if e.relabel.is_empty() {
                e.client.append(rows).map_err(|e| e.to_string())?;
            } else {
                let kept: Vec<rwclient::Row> = rows
                    .iter()
                    .filter_map(|(l, t, v)| {
                        let ls: agent::LabelSet = l.iter().cloned().collect();
                        agent::relabel::process(ls, &e.relabel)
                            .map(|ls| (ls.into_iter().collect(), *t, *v))
                    })
                    .collect();
                e.client.append(&kept).map_err(|e| e.to_string())?;
            }
            e.client.flush().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl Sink for Fanout {
    fn write(&self, series: &[(Vec<(String, String)>, f64)], t: i64) -> Result<(), String> {
        let rows: Vec<rwclient::Row> = series.iter().map(|(l, v)| (l.clone(), t, *v)).collect();
        self.send(&rows)
    }
}

impl agent::Appender for Fanout {
    fn append(&self, batch: &[agent::Sample]) -> Result<(), String> {
        self.send(batch)
    }
}

/// Builds one client per remote-write endpoint (config file entries, then `--remote-write.url`).
fn endpoints(args: &AgentArgs, max_bytes: u64, external: &[(String, String)]) -> Result<Fanout> {
    let mut cfgs: Vec<(rwclient::RemoteWriteConfig, Vec<agent::relabel::Rule>)> = Vec::new();
    if let Some(path) = &args.config_file {
        let loaded = agent::load(path).with_context(|| format!("loading {}", path.display()))?;
        let text = std::fs::read_to_string(path)?;
        let section: RemoteWriteSection = serde_yaml::from_str(&text)
            .with_context(|| format!("{}: remote_write", path.display()))?;
        for (mut rw, own) in section
            .remote_write
            .into_iter()
            .zip(&loaded.config.remote_write)
        {
            let rules = agent::relabel::compile_all(&own.write_relabel_configs)
                .with_context(|| format!("{}: write_relabel_configs", path.display()))?;
            // The agent's own reading has file paths made relative to the config file.
            rw.http = own.http.clone();
            cfgs.push((rw, rules));
        }
    }
    if let Some(url) = &args.url {
        let mut cfg: rwclient::RemoteWriteConfig =
            serde_yaml::from_str(&format!("url: {url:?}")).context("--remote-write.url")?;
        cfg.http.bearer_token_file = args.bearer_token_file.clone();
        cfgs.push((cfg, Vec::new()));
    }
    if cfgs.is_empty() {
        bail!("no remote-write endpoint: give --remote-write.url or remote_write in --config.file");
    }
    let mut out = Vec::new();
    for (i, (cfg, relabel)) in cfgs.into_iter().enumerate() {
        let mut opts = rwclient::Options::new(args.storage.join(format!("rw-{i}")), max_bytes);
        opts.external_labels = external.to_vec();
        let url = cfg.url.clone();
        let client =
            rwclient::Client::start(cfg, opts).with_context(|| format!("remote-write to {url}"))?;
        tracing::info!(url = %url, "remote-write endpoint");
        out.push(Endpoint { client, relabel });
    }
    Ok(Fanout(out))
}

/// Runs the agent until interrupted.
pub fn run(args: AgentArgs) -> Result<()> {
    let interval = Duration::from_millis(
        crate::parse_duration_ms(&args.interval)
            .context("--collect.interval")?
            .max(100) as u64,
    );
    let max_bytes = crate::parse_size(&args.max_bytes).context("--storage.agent.max-bytes")?;
    let node = args
        .node_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(crate::node_cmd::hostname);
    let external: Vec<(String, String)> = match &args.config_file {
        Some(p) => agent::load(p)
            .with_context(|| format!("loading {}", p.display()))?
            .config
            .global
            .external_labels
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    let fanout = Arc::new(endpoints(&args, max_bytes, &external)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let res = rt.block_on(run_async(&args, node, interval, fanout.clone()));
    for e in &fanout.0 {
        if let Err(err) = e.client.stop() {
            tracing::error!(error = %err, "stopping remote-write");
        }
    }
    res
}

async fn run_async(
    args: &AgentArgs,
    node: String,
    interval: Duration,
    fanout: Arc<Fanout>,
) -> Result<()> {
    let node_cfg = node_collector::Config {
        procfs: args.paths.procfs.clone(),
        sysfs: args.paths.sysfs.clone(),
        rootfs: args.paths.rootfs.clone(),
        ..Default::default()
    };
    let mut tasks = vec![
        tokio::spawn(crate::node_cmd::store_loop(
            fanout.clone(),
            node_cfg,
            interval,
            node.clone(),
        )),
        tokio::spawn(crate::cadvisor_cmd::collect_into(
            fanout.clone(),
            args.paths.cgroup_options(),
            interval,
            node.clone(),
        )),
    ];
    if args.gpu {
        tasks.push(tokio::spawn(crate::gpu_cmd::store_loop(
            fanout.clone(),
            interval,
            None,
        )));
    }
    let scraping = match &args.config_file {
        Some(path) => {
            let loaded = agent::load(path)?;
            let jobs = loaded.config.scrape_configs.len();
            let m = agent::Manager::start(&loaded.config, fanout.clone())
                .context("starting scrape jobs")?;
            tracing::info!(jobs, "scraping");
            Some(m)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %args.listen, node = %node, "agent ready");
    let app = axum::Router::new()
        .route("/metrics", get(self_metrics))
        .route("/-/healthy", get(|| async { "Healthy.\n" }))
        .route("/-/ready", get(|| async { "Ready.\n" }))
        .with_state(fanout);
    axum::serve(listener, app)
        .with_graceful_shutdown(crate::shutdown_signal())
        .await?;
    for t in tasks {
        t.abort();
    }
    if let Some(m) = scraping {
        tokio::task::spawn_blocking(move || drop(m)).await?;
    }
    tracing::info!("agent stopping: unsent data stays in the disk queue");
    Ok(())
}

/// `GET /metrics`: the remote-write clients' self-metrics.
async fn self_metrics(State(f): State<Arc<Fanout>>) -> String {
    let mut out = String::new();
    for e in &f.0 {
        e.client.render_metrics(&mut out);
    }
    out
}
