//! Container metrics from cgroup v2 and v1, named as cAdvisor names them and labelled as
//! kubelet's `/metrics/cadvisor` labels them (`id`, `container`, `pod`, `namespace`,
//! `image`, `name`).

pub mod kube;
mod layout;
mod read;
mod render;
pub mod stats;

use std::collections::HashMap;
use std::path::PathBuf;

pub use layout::Layout;
pub use render::render;

/// Why a collection failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No cgroup hierarchy under the configured root.
    #[error("no cgroup v1 or v2 hierarchy under {0}")]
    NoHierarchy(PathBuf),
}

/// Where to read from.
#[derive(Clone, Debug)]
pub struct Options {
    /// The cgroup mount point (`/sys/fs/cgroup`; `/host/sys/fs/cgroup` in a DaemonSet).
    pub cgroup_root: PathBuf,
    /// The sysfs mount point (block device names come from `dev/block/M:m/uevent`).
    pub sysfs: PathBuf,
    /// Most cgroups reported per collection (the rest are left out with a warning).
    pub max_cgroups: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            sysfs: PathBuf::from("/sys"),
            max_cgroups: 10_000,
        }
    }
}

/// Kubernetes names of a container, as kubelet labels its cAdvisor metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerMeta {
    /// Namespace of the pod.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name (`POD` for the sandbox, empty for the pod's own cgroup).
    pub container: String,
    /// Image reference.
    pub image: String,
    /// Runtime name of the container.
    pub name: String,
}

/// Looks up names for a pod UID and container ID (the kube collector provides one).
pub trait PodResolver {
    /// Names of `container_id` (empty: the pod's cgroup) in pod `pod_uid`, if known.
    fn resolve(&self, pod_uid: &str, container_id: &str) -> Option<ContainerMeta>;
}

/// A resolver that knows no names: metrics carry only `id`.
pub struct NoNames;

impl PodResolver for NoNames {
    fn resolve(&self, _: &str, _: &str) -> Option<ContainerMeta> {
        None
    }
}

/// One cgroup's path, statistics and names.
#[derive(Clone, Debug)]
pub struct Container {
    /// The cgroup path (`id` label).
    pub id: String,
    /// Kubernetes names, when resolved.
    pub meta: ContainerMeta,
    /// Statistics.
    pub stats: stats::Stats,
}

/// Reads every cgroup of the host on each call.
pub struct CgroupCollector {
    opts: Options,
    reader: read::Reader,
    devices: HashMap<(u32, u32), String>,
}

impl CgroupCollector {
    /// A collector reading under `opts`.
    pub fn new(opts: Options) -> CgroupCollector {
        CgroupCollector {
            opts,
            reader: read::Reader::default(),
            devices: HashMap::new(),
        }
    }

    /// Reads all cgroups now, naming pods' containers with `names`.
    pub fn collect(&mut self, names: &dyn PodResolver) -> Result<Vec<Container>, Error> {
        let layout = Layout::detect(&self.opts.cgroup_root)
            .ok_or_else(|| Error::NoHierarchy(self.opts.cgroup_root.clone()))?;
        let (paths, truncated) = layout.cgroups(self.opts.max_cgroups);
        if truncated {
            tracing::warn!(
                limit = self.opts.max_cgroups,
                "more cgroups than the limit: the rest are not reported"
            );
        }
        let mut out = Vec::with_capacity(paths.len());
        for id in paths {
            let stats = stats::read(&layout, &id, &mut self.reader);
            let meta = kube::parse(&id)
                .and_then(|k| names.resolve(&k.pod_uid, &k.container_id))
                .unwrap_or_default();
            out.push(Container { id, meta, stats });
        }
        Ok(out)
    }

    /// The `/dev/…` name of block device `major:minor` (cached), or `major:minor`.
    pub fn device_name(&mut self, major: u32, minor: u32) -> &str {
        let sysfs = &self.opts.sysfs;
        self.devices.entry((major, minor)).or_insert_with(|| {
            let uevent = sysfs.join(format!("dev/block/{major}:{minor}/uevent"));
            std::fs::read_to_string(uevent)
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("DEVNAME=").map(|d| format!("/dev/{d}")))
                })
                .unwrap_or_else(|| format!("{major}:{minor}"))
        })
    }
}
