//! The `vitals` binary: wires the TSDB and the HTTP API together behind a CLI.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

mod agent_cmd;
mod agent_mode;
mod cadvisor_cmd;
mod gpu_cmd;
mod kube_cmd;
mod limits_cmd;
mod local_collect;
mod node_cmd;
mod rules_cmd;
mod web_cmd;

/// One binary metrics stack: collectors, TSDB, PromQL, Prometheus HTTP API.
#[derive(Parser, Debug)]
#[command(name = "vitals", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// All-in-one mode only: evaluate the shipped default rules (rules/vitals.rules.yml).
    #[arg(long = "rules.builtin", default_value_t = true, action = clap::ArgAction::Set)]
    rules_builtin: bool,
    /// All-in-one mode only: address to serve on (loopback by default).
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the central store: remote-write in, Prometheus HTTP API out.
    Store(Box<StoreArgs>),
    /// Collect this node (and the config's scrape jobs) and push by remote-write to a store.
    Agent(Box<agent_mode::AgentArgs>),
    /// Serve node_exporter-compatible host metrics on /metrics.
    NodeExporter(node_cmd::NodeExporterArgs),
    /// Serve cAdvisor-compatible container metrics (cgroups) on /metrics.
    Cadvisor(cadvisor_cmd::CadvisorArgs),
    /// Serve dcgm-exporter-compatible GPU metrics (NVML) on /metrics.
    DcgmExporter(gpu_cmd::DcgmExporterArgs),
    /// Serve kube-state-metrics' kube_* metrics on /metrics.
    KubeStateMetrics(kube_cmd::KubeStateArgs),
    /// Inspect and maintain a TSDB directory.
    Tsdb {
        #[command(subcommand)]
        command: TsdbCommand,
    },
    /// Check rule files (promtool-compatible).
    Check {
        #[command(subcommand)]
        command: rules_cmd::CheckCommand,
    },
    /// Run rule unit tests (promtool-compatible).
    Test {
        #[command(subcommand)]
        command: rules_cmd::TestCommand,
    },
}

#[derive(Subcommand, Debug)]
enum TsdbCommand {
    /// Print blocks, series, chunks and sizes of a data directory.
    Inspect {
        /// The data directory (as given to --storage.tsdb.path).
        dir: PathBuf,
    },
}

/// Flags of the store (Prometheus' flag names where one exists).
#[derive(Args, Debug, Clone)]
struct StoreArgs {
    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data")]
    path: PathBuf,
    /// Address to listen on for the HTTP API and remote-write.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// How long to retain samples (e.g. 15d, 7d, 12h). 0 keeps everything.
    #[arg(long = "storage.tsdb.retention.time", default_value = "15d")]
    retention_time: String,
    /// Maximum bytes of storage (e.g. 512MB, 10GB; units are powers of 1024). 0 = no limit.
    #[arg(long = "storage.tsdb.retention.size", default_value = "0")]
    retention_size: String,
    /// How far behind a series' newest sample a sample may still be accepted (e.g. 10m). 0s disables.
    #[arg(long = "storage.tsdb.out-of-order-time-window", default_value = "0s")]
    ooo_window: String,
    /// Span of blocks cut from the head (advanced; for tests).
    #[arg(
        long = "storage.tsdb.min-block-duration",
        default_value = "2h",
        hide = true
    )]
    block_duration: String,
    /// Largest accepted compressed request body in bytes (413 above).
    #[arg(long = "web.max-request-bytes", default_value_t = 32 << 20)]
    max_request_bytes: usize,
    /// Interval between head cuts / compaction / retention runs (advanced; for tests).
    #[arg(
        long = "storage.tsdb.maintenance-interval",
        default_value = "1m",
        hide = true
    )]
    maintenance_interval: String,
    /// Maximum time a query may take before it is aborted.
    #[arg(long = "query.timeout", default_value = "2m")]
    query_timeout: String,
    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    query_max_samples: usize,
    /// Maximum number of queries executed concurrently; more wait.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    query_max_concurrency: usize,
    /// Interval of the built-in node collector writing into this store (0s: off; all-in-one: 15s).
    #[arg(long = "node.scrape-interval", default_value = "0s")]
    node_interval: String,
    /// Interval of the built-in cgroup (cAdvisor) collector writing into this store (0s: off; all-in-one: 15s).
    #[arg(long = "cadvisor.scrape-interval", default_value = "0s")]
    cadvisor_interval: String,
    /// Interval of the built-in GPU (dcgm-exporter names, NVML) collector writing into this store (0s: off; all-in-one: 15s when NVML loads).
    #[arg(long = "gpu.scrape-interval", default_value = "0s")]
    gpu_interval: String,
    /// The NVML library the GPU collector loads (default: the driver's libnvidia-ml.so.1).
    #[arg(long = "gpu.nvml-library")]
    gpu_nvml_library: Option<PathBuf>,
    #[command(flatten)]
    kube: kube_cmd::StoreKubeArgs,
    /// How far back an instant selector looks for a sample.
    #[arg(long = "query.lookback-delta", default_value = "5m")]
    query_lookback: String,
    /// Features to enable, as Prometheus' flag (repeatable, comma-separated):
    /// `promql-delayed-name-removal`; `promql-experimental-functions` is accepted and has no
    /// effect (those functions are always on). Unknown names are logged and ignored.
    #[arg(long = "enable-feature", value_delimiter = ',')]
    enable_feature: Vec<String>,
    #[command(flatten)]
    rules: rules_cmd::RuleFlags,
    #[command(flatten)]
    web: web_cmd::WebFlags,
    #[command(flatten)]
    limits: limits_cmd::LimitFlags,
}

impl Default for StoreArgs {
    fn default() -> Self {
        StoreArgs::parse_from_defaults()
    }
}

impl StoreArgs {
    fn parse_from_defaults() -> StoreArgs {
        #[derive(Parser)]
        struct W {
            #[command(flatten)]
            a: StoreArgs,
        }
        W::parse_from(["vitals"]).a
    }
}

/// Tunes glibc's malloc for a long-running store, unless the environment sets the same knobs
/// (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`):
/// - one arena: with an arena per thread (tokio workers, blocking remote-write handlers,
///   query readers) freed memory is scattered over many heaps and resident memory stays high
///   after a peak;
/// - a fixed 128 KiB mmap threshold: glibc otherwise raises the threshold to the largest
///   block freed so far (up to 32 MiB), after which a block cut's or a query's large buffers
///   come from the heap and leave it fragmented instead of being unmapped when freed.
///
/// Together they settled the full ingest benchmark 17 MiB lower.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (env, param, value) in [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, 1),
        ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, 128 * 1024),
    ] {
        if std::env::var_os(env).is_none() {
            // SAFETY: called first thing in main, before any other thread exists.
            unsafe {
                libc::mallopt(param, value);
            }
        }
    }
}

fn main() -> Result<()> {
    tune_malloc();
    let cli = Cli::parse();
    // `check`/`test` print promtool's reports only (template errors are not logged).
    let quiet = matches!(
        cli.command,
        Some(Command::Check { .. } | Command::Test { .. })
    );
    let default_level = if quiet { "error" } else { "info" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        None => {
            tracing::info!(address = %cli.listen, "all-in-one mode: storing in ./data");
            let mut args = StoreArgs {
                listen: cli.listen,
                node_interval: "15s".into(),
                cadvisor_interval: "15s".into(),
                gpu_interval: "15s".into(),
                ..StoreArgs::default()
            };
            args.rules.builtin = cli.rules_builtin;
            run_store(args)
        }
        Some(Command::Store(args)) => run_store(*args),
        Some(Command::Agent(args)) => agent_mode::run(*args),
        Some(Command::NodeExporter(args)) => node_cmd::run(args),
        Some(Command::Cadvisor(args)) => cadvisor_cmd::run(args),
        Some(Command::DcgmExporter(args)) => gpu_cmd::run(args),
        Some(Command::KubeStateMetrics(args)) => kube_cmd::run(args),
        Some(Command::Tsdb {
            command: TsdbCommand::Inspect { dir },
        }) => inspect(&dir),
        Some(Command::Check { command }) => std::process::exit(rules_cmd::check(command)),
        Some(Command::Test { command }) => std::process::exit(rules_cmd::test(command)),
    }
}

fn run_store(args: StoreArgs) -> Result<()> {
    let start_time = std::time::SystemTime::now();
    let opts = tsdb::Options {
        retention_time_ms: parse_duration_ms(&args.retention_time)
            .context("--storage.tsdb.retention.time")?,
        retention_size_bytes: parse_size(&args.retention_size)
            .context("--storage.tsdb.retention.size")?,
        block_duration_ms: parse_duration_ms(&args.block_duration)
            .context("--storage.tsdb.min-block-duration")?,
        out_of_order_window_ms: parse_duration_ms(&args.ooo_window)
            .context("--storage.tsdb.out-of-order-time-window")?,
        limits: args.limits.tsdb(),
        ..tsdb::Options::default()
    };
    let maint_every = Duration::from_millis(
        parse_duration_ms(&args.maintenance_interval)
            .context("--storage.tsdb.maintenance-interval")?
            .max(100) as u64,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let path = args.path.clone();
        let db = tokio::task::spawn_blocking(move || tsdb::Db::open(&path, opts))
            .await?
            .with_context(|| format!("opening TSDB in {}", args.path.display()))?;
        let db = Arc::new(db);
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let front = web_cmd::Front::load(&args.web, args.listen, args.max_request_bytes)?;
        tracing::info!(address = %args.listen, tls = front.is_tls(), "ready");
        let engine = query::promql::EngineOptions {
            timeout: Duration::from_millis(
                parse_duration_ms(&args.query_timeout)
                    .context("--query.timeout")?
                    .max(1) as u64,
            ),
            max_samples: args.query_max_samples,
            lookback_ms: parse_duration_ms(&args.query_lookback)
                .context("--query.lookback-delta")?
                .max(1),
            delayed_name_removal: enabled_features(&args.enable_feature)
                .contains(&"promql-delayed-name-removal"),
            ..Default::default()
        };
        let manager = rules_cmd::manager(db.clone(), &args.rules, args.listen, engine.clone())?;
        let api_opts = query::ApiOptions {
            max_request_bytes: args.max_request_bytes,
            max_series_per_request: args.limits.series_per_request,
            max_decompressed_bytes: args.limits.max_decompressed(),
            enable_admin: args.web.enable_admin_api,
            engine,
            max_concurrent_queries: args.query_max_concurrency,
            flags: store_flags(&args),
            start_time,
            extra_metrics: vec![query::MetricsHook({
                let m = manager.clone();
                Arc::new(move |out: &mut String| rules::metrics::render(&m, out))
            })],
            ..Default::default()
        };
        let router = query::router(db.clone(), api_opts).merge(rules::api::router(manager.clone()));
        let bg = tokio::spawn(background(db.clone(), maint_every));
        let node_ms = parse_duration_ms(&args.node_interval).context("--node.scrape-interval")?;
        let node = (node_ms > 0).then(|| {
            let every = Duration::from_millis(node_ms as u64);
            let instance = node_cmd::hostname();
            tokio::spawn(node_cmd::store_loop(
                db.clone(),
                Default::default(),
                every,
                instance,
            ))
        });
        let pods = kube_cmd::PodCache::default();
        let cadvisor_ms =
            parse_duration_ms(&args.cadvisor_interval).context("--cadvisor.scrape-interval")?;
        let cadvisor = (cadvisor_ms > 0).then(|| {
            let every = Duration::from_millis(cadvisor_ms as u64);
            let host = node_cmd::hostname();
            tokio::spawn(cadvisor_cmd::store_loop(
                db.clone(),
                every,
                host,
                pods.clone(),
            ))
        });
        let kube_ms = parse_duration_ms(&args.kube.interval).context("--kube.scrape-interval")?;
        parse_duration_ms(&args.kube.lease_duration)
            .context("--kube.leader-elect.lease-duration")?;
        let kube_opts = args.kube.options()?;
        let kube = (kube_ms > 0).then(|| {
            let every = Duration::from_millis(kube_ms as u64);
            let (kube, host) = (args.kube.clone(), node_cmd::hostname());
            tokio::spawn(kube_cmd::store_loop(
                db.clone(),
                kube,
                kube_opts,
                every,
                host,
                pods,
            ))
        });
        let gpu_ms = parse_duration_ms(&args.gpu_interval).context("--gpu.scrape-interval")?;
        let gpu = (gpu_ms > 0).then(|| {
            let every = Duration::from_millis(gpu_ms as u64);
            tokio::spawn(gpu_cmd::store_loop(
                db.clone(),
                every,
                args.gpu_nvml_library.clone(),
            ))
        });
        let rules_task = tokio::spawn(rules_cmd::run(manager.clone()));
        let scrape = agent_cmd::start(db.clone(), args.rules.config_file.as_deref())?;
        let admin = args.web.enable_admin_api;
        front
            .serve(listener, router, admin, shutdown_signal())
            .await?;
        rules_task.abort();
        if let Some(s) = scrape {
            s.stop().await;
        }
        let notifier = manager.notifier().clone();
        tokio::task::spawn_blocking(move || notifier.stop()).await?;
        bg.abort();
        for task in [node, cadvisor, gpu, kube].into_iter().flatten() {
            task.abort();
        }
        tracing::info!("shutting down: syncing the WAL, writing the head snapshot");
        let db2 = db.clone();
        tokio::task::spawn_blocking(move || db2.close()).await??;
        Ok(())
    })
}

/// The store's flags as `/api/v1/status/flags` shows them: long name without `--`, value.
fn store_flags(a: &StoreArgs) -> Vec<(String, String)> {
    [
        ("storage.tsdb.path", a.path.display().to_string()),
        ("web.listen-address", a.listen.to_string()),
        ("storage.tsdb.retention.time", a.retention_time.clone()),
        ("storage.tsdb.retention.size", a.retention_size.clone()),
        (
            "storage.tsdb.out-of-order-time-window",
            a.ooo_window.clone(),
        ),
        ("storage.tsdb.min-block-duration", a.block_duration.clone()),
        ("web.max-request-bytes", a.max_request_bytes.to_string()),
        (
            "storage.tsdb.maintenance-interval",
            a.maintenance_interval.clone(),
        ),
        ("query.timeout", a.query_timeout.clone()),
        ("query.max-samples", a.query_max_samples.to_string()),
        ("query.max-concurrency", a.query_max_concurrency.to_string()),
        ("query.lookback-delta", a.query_lookback.clone()),
        ("enable-feature", a.enable_feature.join(",")),
        ("node.scrape-interval", a.node_interval.clone()),
        ("cadvisor.scrape-interval", a.cadvisor_interval.clone()),
        ("gpu.scrape-interval", a.gpu_interval.clone()),
        (
            "gpu.nvml-library",
            a.gpu_nvml_library
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
    ]
    .into_iter()
    .chain(a.kube.status_flags())
    .chain(a.rules.status_flags())
    .chain(a.web.status_flags())
    .chain(a.limits.status_flags())
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The `--enable-feature` names Vitals knows; unknown ones are logged (as Prometheus does)
/// and left out.
fn enabled_features(flags: &[String]) -> Vec<&'static str> {
    const KNOWN: &[&str] = &[
        "promql-delayed-name-removal",
        // Always on in Vitals (`info`, `double_exponential_smoothing`, …); accepted so a
        // Prometheus command line carries over without a warning.
        "promql-experimental-functions",
    ];
    let mut out = Vec::new();
    for f in flags.iter().map(|f| f.trim()).filter(|f| !f.is_empty()) {
        match KNOWN.iter().find(|k| **k == f) {
            Some(k) => out.push(*k),
            None => tracing::warn!(option = f, "Unknown option for --enable-feature"),
        }
    }
    out
}

/// Periodic WAL fsync and maintenance (head cuts, compaction, retention).
async fn background(db: Arc<tsdb::Db>, maint_every: Duration) {
    let mut sync_tick = tokio::time::interval(Duration::from_secs(10));
    let mut maint_tick = tokio::time::interval(maint_every);
    loop {
        tokio::select! {
            _ = sync_tick.tick() => {
                query::release_idle_write_buffers(Duration::from_secs(5));
                let db = db.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || db.sync()).await {
                    tracing::error!(error = %e, "WAL sync failed");
                }
            }
            _ = maint_tick.tick() => {
                let db = db.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || db.maintenance()).await {
                    tracing::error!(error = %e, "TSDB maintenance failed");
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn inspect(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let db = tsdb::Db::open(
        dir,
        tsdb::Options {
            retention_time_ms: 0,
            ..Default::default()
        },
    )
    .with_context(|| format!("opening {}", dir.display()))?;
    let hs = db.head_stats();
    println!(
        "{:<28} {:>15} {:>15} {:>10} {:>10} {:>12} {:>12} {:>6}",
        "BLOCK", "MIN TIME", "MAX TIME", "SERIES", "CHUNKS", "SAMPLES", "BYTES", "LEVEL"
    );
    let (mut samples, mut bytes) = (0u64, 0u64);
    for b in db.blocks() {
        let m = b.meta();
        samples += m.num_samples;
        bytes += b.size_bytes();
        println!(
            "{:<28} {:>15} {:>15} {:>10} {:>10} {:>12} {:>12} {:>6}",
            m.ulid,
            m.min_time,
            m.max_time,
            m.num_series,
            m.num_chunks,
            m.num_samples,
            b.size_bytes(),
            m.level
        );
    }
    println!(
        "head: series {} chunks {} min_time {} max_time {}",
        hs.num_series,
        hs.num_chunks,
        if hs.min_time == i64::MAX {
            "-".to_string()
        } else {
            hs.min_time.to_string()
        },
        if hs.max_time == i64::MIN {
            "-".to_string()
        } else {
            hs.max_time.to_string()
        }
    );
    let total = db.storage_bytes();
    println!(
        "blocks: {} samples in {} bytes ({:.3} bytes/sample); storage total {} bytes",
        samples,
        bytes,
        if samples > 0 {
            bytes as f64 / samples as f64
        } else {
            0.0
        },
        total
    );
    // Opening consumed the head snapshot a clean shutdown left; leave one again.
    db.close().context("writing the head snapshot")?;
    Ok(())
}

/// Parses a Prometheus duration (`1y2w3d4h5m6s7ms`, or `0`) into milliseconds.
fn parse_duration_ms(s: &str) -> Result<i64> {
    let s = s.trim();
    if s == "0" {
        return Ok(0);
    }
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        bail!("empty duration");
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            bail!("invalid duration {s:?}: expected a number");
        }
        let n: i64 = rest[..digits]
            .parse()
            .with_context(|| format!("invalid duration {s:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            u => bail!("invalid duration {s:?}: unknown unit {u:?}"),
        };
        total = total
            .checked_add(n.checked_mul(mult).context("duration overflows")?)
            .context("duration overflows")?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Parses a byte size (`512MB`, `1GB`, `100KB`, `42B` or a plain number; powers of 1024).
fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        bail!("invalid size {s:?}");
    }
    let n: u64 = s[..digits].parse()?;
    let mult: u64 = match s[digits..].to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "K" | "KIB" => 1 << 10,
        "MB" | "M" | "MIB" => 1 << 20,
        "GB" | "G" | "GIB" => 1 << 30,
        "TB" | "T" | "TIB" => 1 << 40,
        "PB" | "P" | "PIB" => 1 << 50,
        u => bail!("invalid size {s:?}: unknown unit {u:?}"),
    };
    n.checked_mul(mult).context("size overflows")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration_ms("15d").unwrap(), 15 * 86_400_000);
        assert_eq!(parse_duration_ms("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration_ms("0").unwrap(), 0);
        assert_eq!(parse_duration_ms("250ms").unwrap(), 250);
        assert!(parse_duration_ms("5x").is_err());
        assert!(parse_duration_ms("h").is_err());
        assert_eq!(parse_size("512MB").unwrap(), 512 << 20);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert!(parse_size("1XB").is_err());
    }

    #[test]
    fn status_flags_name_every_store_flag() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let store = cli.find_subcommand("store").expect("store subcommand");
        let mut longs: Vec<String> = store
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .collect();
        longs.sort();
        let mut names: Vec<String> = store_flags(&StoreArgs::default())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        names.sort();
        assert_eq!(names, longs);
    }
}
