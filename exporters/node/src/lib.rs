//! Host metrics with node_exporter's names, labels, types and HELP texts, read by hand
//! from /proc and /sys (paths configurable as node_exporter's `--path.*` flags).

pub mod collectors;
mod util;

use std::path::{Path, PathBuf};
use std::time::Instant;

use expo::{MetricSet, MetricType};

pub use collectors::default_collectors;

/// Errors of a collector run; any of them makes `node_scrape_collector_success` 0.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file's content did not parse.
    #[error("{path}: {msg}")]
    Parse {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The collector has nothing to report on this system (node_exporter's `ErrNoData`).
    #[error("no data: {0}")]
    NoData(String),
    /// A system call failed.
    #[error("{call}: {source}")]
    Syscall {
        /// The call.
        call: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// A configuration value (e.g. a regular expression) is invalid.
    #[error("config {name}: {msg}")]
    Config {
        /// The flag.
        name: &'static str,
        /// What is wrong.
        msg: String,
    },
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn parse(path: &Path, msg: impl Into<String>) -> Error {
        Error::Parse {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    /// True when a file or directory was missing.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Paths and filters (node_exporter's flags and their defaults).
#[derive(Clone, Debug)]
pub struct Config {
    /// `--path.procfs` (default `/proc`).
    pub procfs: PathBuf,
    /// `--path.sysfs` (default `/sys`).
    pub sysfs: PathBuf,
    /// `--path.rootfs` (default `/`).
    pub rootfs: PathBuf,
    /// `--path.udev.data` (default `/run/udev/data`).
    pub udev_data: PathBuf,
    /// `--collector.textfile.directory` (none: the textfile collector reads nothing).
    pub textfile_dir: Option<PathBuf>,
    /// `--collector.filesystem.mount-points-exclude`.
    pub fs_mount_points_exclude: String,
    /// `--collector.filesystem.fs-types-exclude`.
    pub fs_types_exclude: String,
    /// `--collector.diskstats.device-exclude`.
    pub diskstats_device_exclude: String,
    /// `--collector.netdev.device-exclude` (empty: all devices).
    pub netdev_device_exclude: String,
    /// `--collector.netclass.ignored-devices`.
    pub netclass_ignored_devices: String,
    /// `--collector.vmstat.fields`.
    pub vmstat_fields: String,
    /// `--collector.netstat.fields`.
    pub netstat_fields: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            udev_data: "/run/udev/data".into(),
            textfile_dir: None,
            fs_mount_points_exclude: collectors::filesystem::DEFAULT_MOUNT_POINTS_EXCLUDE.into(),
            fs_types_exclude: collectors::filesystem::DEFAULT_FS_TYPES_EXCLUDE.into(),
            diskstats_device_exclude: collectors::diskstats::DEFAULT_DEVICE_EXCLUDE.into(),
            netdev_device_exclude: String::new(),
            netclass_ignored_devices: "^$".into(),
            vmstat_fields: collectors::vmstat::DEFAULT_FIELDS.into(),
            netstat_fields: collectors::netstat::DEFAULT_FIELDS.into(),
        }
    }
}

impl Config {
    /// A path under procfs.
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }

    /// A path under sysfs.
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }

    /// A path under rootfs (`rel` may start with `/`).
    pub fn root(&self, rel: &str) -> PathBuf {
        self.rootfs.join(rel.trim_start_matches('/'))
    }
}

/// One node_exporter collector (e.g. `cpu`, `meminfo`).
pub trait Collector: Send {
    /// The collector's name, the `collector` label of `node_scrape_collector_*`.
    fn name(&self) -> &'static str;
    /// Adds this collector's samples to `out`; an error marks the collector failed
    /// (samples already added stay, as in node_exporter).
    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error>;
}

/// All collectors plus the reusable metric set they write into.
pub struct NodeCollector {
    cfg: Config,
    collectors: Vec<Box<dyn Collector>>,
    set: MetricSet,
    /// The last error of each collector (for logging by the caller).
    errors: Vec<(&'static str, String)>,
}

impl NodeCollector {
    /// The default collectors with `cfg`; fails on an invalid filter regex.
    pub fn new(cfg: Config) -> Result<NodeCollector, Error> {
        let collectors = default_collectors(&cfg)?;
        Ok(NodeCollector::with_collectors(cfg, collectors))
    }

    /// A collector running exactly `collectors`.
    pub fn with_collectors(cfg: Config, collectors: Vec<Box<dyn Collector>>) -> NodeCollector {
        NodeCollector {
            cfg,
            collectors,
            set: MetricSet::new(),
            errors: Vec::new(),
        }
    }

    /// Runs every collector and returns the sorted result, including
    /// `node_scrape_collector_duration_seconds` and `node_scrape_collector_success`.
    pub fn collect(&mut self) -> &MetricSet {
        self.set.clear();
        self.errors.clear();
        for c in self.collectors.iter_mut() {
            let start = Instant::now();
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                c.update(&self.cfg, &mut self.set)
            }));
            let ok = match res {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    self.errors.push((c.name(), e.to_string()));
                    false
                }
                Err(_) => {
                    self.errors
                        .push((c.name(), "BUG: collector panicked".to_string()));
                    false
                }
            };
            let secs = start.elapsed().as_secs_f64();
            let labels = [("collector", c.name())];
            self.set
                .family(
                    "node_scrape_collector_duration_seconds",
                    "node_exporter: Duration of a collector scrape.",
                    MetricType::Gauge,
                )
                .add(&labels, secs);
            self.set
                .family(
                    "node_scrape_collector_success",
                    "node_exporter: Whether a collector succeeded.",
                    MetricType::Gauge,
                )
                .add(&labels, if ok { 1.0 } else { 0.0 });
        }
        self.set.sort();
        &self.set
    }

    /// Errors of the last [`collect`](Self::collect), by collector.
    pub fn errors(&self) -> &[(&'static str, String)] {
        &self.errors
    }

    /// The result of the last [`collect`](Self::collect).
    pub fn metrics(&self) -> &MetricSet {
        &self.set
    }
}
