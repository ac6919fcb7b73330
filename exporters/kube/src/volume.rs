//! kubelet's `kubelet_volume_stats_*` of the persistent volume claims mounted by this
//! node's pods: statfs of each claim's mount under the kubelet directory.

use std::path::{Path, PathBuf};

use expo::{MetricSet, MetricType};

use crate::{s, Objects};

/// One mounted claim: its namespace, name and mount directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimMount {
    /// Namespace of the claim.
    pub namespace: String,
    /// Claim name.
    pub claim: String,
    /// The mounted directory.
    pub path: PathBuf,
}

/// statfs figures of one file system.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FsStats {
    /// Total bytes.
    pub capacity: f64,
    /// Bytes available to unprivileged users.
    pub available: f64,
    /// Bytes in use (total − free).
    pub used: f64,
    /// Total inodes.
    pub inodes: f64,
    /// Free inodes.
    pub inodes_free: f64,
}

/// The mounts of claims used by pods scheduled on `node`, found under
/// `<kubelet_root>/pods/<pod uid>/volumes/<plugin>/<volume>` (CSI volumes: `…/mount`),
/// where the volume directory is named after the bound PersistentVolume or, for in-tree
/// plugins, after the pod's volume.
pub fn claim_mounts(objs: &Objects, node: &str, kubelet_root: &Path) -> Vec<ClaimMount> {
    let mut out = Vec::new();
    for pod in &objs.pods {
        let Some(spec) = &pod.spec else { continue };
        if spec.node_name.as_deref() != Some(node) {
            continue;
        }
        let (ns, uid) = (s(&pod.metadata.namespace), s(&pod.metadata.uid));
        let volumes_dir = kubelet_root.join("pods").join(uid).join("volumes");
        let Ok(plugins) = std::fs::read_dir(&volumes_dir) else {
            continue;
        };
        let plugins: Vec<PathBuf> = plugins.flatten().map(|e| e.path()).collect();
        for v in spec.volumes.iter().flatten() {
            let Some(claim) = &v.persistent_volume_claim else {
                continue;
            };
            let pv = objs
                .pvcs
                .iter()
                .find(|c| s(&c.metadata.namespace) == ns && s(&c.metadata.name) == claim.claim_name)
                .and_then(|c| c.spec.as_ref())
                .and_then(|sp| sp.volume_name.clone());
            let names = pv.iter().map(String::as_str).chain([v.name.as_str()]);
            let found = names
                .flat_map(|n| plugins.iter().map(move |p| p.join(n)))
                .map(|d| {
                    if d.join("mount").is_dir() {
                        d.join("mount")
                    } else {
                        d
                    }
                })
                .find(|d| d.is_dir());
            if let Some(path) = found {
                out.push(ClaimMount {
                    namespace: ns.to_string(),
                    claim: claim.claim_name.clone(),
                    path,
                });
            }
        }
    }
    out
}

/// statfs(2) of `path`; `None` when it fails.
pub fn statfs(path: &Path) -> Option<FsStats> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let bsize = st.f_frsize as f64;
    Some(FsStats {
        capacity: st.f_blocks as f64 * bsize,
        available: st.f_bavail as f64 * bsize,
        used: (st.f_blocks as f64 - st.f_bfree as f64) * bsize,
        inodes: st.f_files as f64,
        inodes_free: st.f_ffree as f64,
    })
}

/// Renders `kubelet_volume_stats_*{namespace,persistentvolumeclaim}` of `mounts`, each
/// measured by `stat` (mounts it cannot measure are left out).
pub fn render_volume_stats(
    mounts: &[ClaimMount],
    stat: impl Fn(&Path) -> Option<FsStats>,
    set: &mut MetricSet,
) {
    type Field = fn(&FsStats) -> f64;
    const FAMILIES: [(&str, &str, Field); 6] = [
        (
            "kubelet_volume_stats_capacity_bytes",
            "[ALPHA] Capacity in bytes of the volume",
            |s| s.capacity,
        ),
        (
            "kubelet_volume_stats_available_bytes",
            "[ALPHA] Number of available bytes in the volume",
            |s| s.available,
        ),
        (
            "kubelet_volume_stats_used_bytes",
            "[ALPHA] Number of used bytes in the volume",
            |s| s.used,
        ),
        (
            "kubelet_volume_stats_inodes",
            "[ALPHA] Maximum number of inodes in the volume",
            |s| s.inodes,
        ),
        (
            "kubelet_volume_stats_inodes_free",
            "[ALPHA] Number of free inodes in the volume",
            |s| s.inodes_free,
        ),
        (
            "kubelet_volume_stats_inodes_used",
            "[ALPHA] Number of used inodes in the volume",
            |s| s.inodes - s.inodes_free,
        ),
    ];
    for m in mounts {
        let Some(st) = stat(&m.path) else { continue };
        let labels = [
            ("namespace", m.namespace.as_str()),
            ("persistentvolumeclaim", m.claim.as_str()),
        ];
        for (name, help, field) in FAMILIES {
            set.family(name, help, MetricType::Gauge)
                .add(&labels, field(&st));
        }
    }
}
