//! `filesystem`: statfs(2) of the mounts in /proc/1/mounts (or /proc/mounts), with
//! node_exporter's mount-point and fs-type excludes.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use expo::{MetricSet, MetricType};
use regex::Regex;

use crate::util::{read_into, regex};
use crate::{Collector, Config, Error};

/// node_exporter 1.5's default `--collector.filesystem.mount-points-exclude`.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter 1.5's default `--collector.filesystem.fs-types-exclude`.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

const GAUGES: [(&str, &str); 6] = [
    ("node_filesystem_size_bytes", "Filesystem size in bytes."),
    (
        "node_filesystem_free_bytes",
        "Filesystem free space in bytes.",
    ),
    (
        "node_filesystem_avail_bytes",
        "Filesystem space available to non-root users in bytes.",
    ),
    ("node_filesystem_files", "Filesystem total file nodes."),
    (
        "node_filesystem_files_free",
        "Filesystem total free file nodes.",
    ),
    ("node_filesystem_readonly", "Filesystem read-only status."),
];

/// How long a statfs may take before its mount is marked stuck (node_exporter's hidden
/// `--collector.filesystem.mount-timeout`).
const MOUNT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `filesystem` collector.
pub struct Filesystem {
    mount_points: Regex,
    fs_types: Regex,
    buf: String,
    /// Mount points whose statfs has not returned; reported as device errors (and not
    /// statted again) until the pending call comes back.
    stuck: Arc<Mutex<HashSet<String>>>,
}

impl Filesystem {
    /// With the excludes of `cfg`.
    pub fn new(cfg: &Config) -> Result<Filesystem, Error> {
        Ok(Filesystem {
            mount_points: regex(
                "collector.filesystem.mount-points-exclude",
                &cfg.fs_mount_points_exclude,
            )?,
            fs_types: regex(
                "collector.filesystem.fs-types-exclude",
                &cfg.fs_types_exclude,
            )?,
            buf: String::new(),
            stuck: Arc::default(),
        })
    }

    /// statfs in a helper thread, waiting at most [`MOUNT_TIMEOUT`]; a mount that times out
    /// is marked stuck until its call returns.
    fn statfs_with_timeout(&self, mount_point: &str, path: std::path::PathBuf) -> Option<[f64; 5]> {
        let lock =
            |m: &Mutex<HashSet<String>>| m.lock().map(|g| g.contains(mount_point)).unwrap_or(false);
        if lock(&self.stuck) {
            return None;
        }
        let (tx, rx) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let (stuck, done2, mp) = (self.stuck.clone(), done.clone(), mount_point.to_string());
        let spawned = std::thread::Builder::new()
            .name("statfs".into())
            .spawn(move || {
                let r = statfs(&path);
                // Under the lock, so the collector either sees `done` or its mark is undone.
                if let Ok(mut g) = stuck.lock() {
                    done2.store(true, Ordering::SeqCst);
                    g.remove(&mp);
                }
                let _ = tx.send(r);
            });
        if spawned.is_err() {
            return None;
        }
        match rx.recv_timeout(MOUNT_TIMEOUT) {
            Ok(r) => r,
            Err(_) => {
                if let Ok(mut g) = self.stuck.lock() {
                    if !done.load(Ordering::SeqCst) {
                        g.insert(mount_point.to_string());
                    }
                }
                None
            }
        }
    }
}

/// statfs(2) of `path`: size, free, avail (bytes), files, files free.
fn statfs(path: &Path) -> Option<[f64; 5]> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path; `st` is a plain C struct written by the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    let bsize = st.f_bsize as f64;
    Some([
        st.f_blocks as f64 * bsize,
        st.f_bfree as f64 * bsize,
        st.f_bavail as f64 * bsize,
        st.f_files as f64,
        st.f_ffree as f64,
    ])
}

/// Undoes fstab(5) escapes of spaces and tabs in a mount point.
fn unescape(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\\') {
        s.replace("\\040", " ").replace("\\011", "\t").into()
    } else {
        s.into()
    }
}

impl Collector for Filesystem {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let mut path = cfg.proc("1/mounts");
        if let Err(e) = read_into(&path, &mut self.buf) {
            if !e.is_not_found() {
                return Err(e);
            }
            path = cfg.proc("mounts");
            read_into(&path, &mut self.buf)?;
        }
        let rootfs = cfg.rootfs.to_string_lossy();
        let rootfs = rootfs.trim_end_matches('/');
        let mut seen = HashSet::new();
        for line in self.buf.lines() {
            let parts: Vec<&str> = line.split_ascii_whitespace().collect();
            if parts.len() < 4 {
                return Err(Error::parse(
                    &path,
                    format!("malformed mount point information: {line:?}"),
                ));
            }
            let (device, fstype, options) = (parts[0], parts[2], parts[3]);
            let raw = unescape(parts[1]);
            // Strip --path.rootfs from the mount point, as node_exporter does.
            let mount_point = if rootfs.is_empty() {
                raw.as_ref()
            } else {
                match raw.strip_prefix(rootfs) {
                    Some("") => "/",
                    Some(rest) if rest.starts_with('/') => rest,
                    _ => raw.as_ref(),
                }
            };
            if self.mount_points.is_match(mount_point) || self.fs_types.is_match(fstype) {
                continue;
            }
            if !seen.insert((device, mount_point.to_string(), fstype, options)) {
                continue;
            }
            let labels = [
                ("device", device),
                ("fstype", fstype),
                ("mountpoint", mount_point),
            ];
            let stats = self.statfs_with_timeout(mount_point, cfg.root(mount_point));
            out.family(
                "node_filesystem_device_error",
                "Whether an error occurred while getting statistics for the given device.",
                MetricType::Gauge,
            )
            .add(&labels, if stats.is_some() { 0.0 } else { 1.0 });
            let Some(s) = stats else { continue };
            let ro = if options.split(',').any(|o| o == "ro") {
                1.0
            } else {
                0.0
            };
            let vals = [s[0], s[1], s[2], s[3], s[4], ro];
            for ((name, help), v) in GAUGES.iter().zip(vals) {
                out.family(name, help, MetricType::Gauge).add(&labels, v);
            }
        }
        Ok(())
    }
}
