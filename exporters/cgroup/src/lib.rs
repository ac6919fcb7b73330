//! Container metrics from cgroup v2 and v1, named as cAdvisor names them and labelled as
//! kubelet's `/metrics/cadvisor` labels them (`id`, `container`, `pod`, `namespace`,
//! `image`, `name`).

pub mod fs;
pub mod kube;
mod layout;
pub mod net;
mod read;
mod render;
pub mod stats;
pub mod tasks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// The procfs mount point (network statistics by process, task states, mounts).
    pub procfs: PathBuf,
    /// Where the host's `/` is mounted (filesystems of the root cgroup are measured there).
    pub rootfs: PathBuf,
    /// Most cgroups reported per collection (the rest are left out with a warning).
    pub max_cgroups: usize,
    /// Count tasks by state (`container_tasks_state`): one procfs read per thread.
    pub task_states: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            sysfs: PathBuf::from("/sys"),
            procfs: PathBuf::from("/proc"),
            rootfs: PathBuf::from("/"),
            max_cgroups: 10_000,
            task_states: true,
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

/// Names of `k`. A container the pod does not list (its sandbox, or one not yet in the
/// pod's status) is labelled as kubelet labels a containerd sandbox: the pod's `namespace`
/// and `pod`, `container=""`, `name` = its ID.
fn resolve(names: &dyn PodResolver, k: &kube::KubePath) -> Option<ContainerMeta> {
    names.resolve(&k.pod_uid, &k.container_id).or_else(|| {
        let mut meta = names.resolve(&k.pod_uid, "")?;
        meta.name.clone_from(&k.container_id);
        Some(meta)
    })
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
    /// Interfaces of the network namespace: on the root cgroup (the host's, seen by pid 1)
    /// and on each pod's cgroup (the pod's sandbox namespace), as cAdvisor reports them
    /// once per pod.
    pub network: Option<Arc<[net::Iface]>>,
    /// Filesystems (the root cgroup only, as cAdvisor).
    pub filesystems: Vec<fs::FsStat>,
}

/// Reads every cgroup of the host on each call.
pub struct CgroupCollector {
    opts: Options,
    reader: read::Reader,
    devices: HashMap<(u32, u32), String>,
    net: net::NetReader,
    tids: Vec<u32>,
}

impl CgroupCollector {
    /// A collector reading under `opts`.
    pub fn new(opts: Options) -> CgroupCollector {
        CgroupCollector {
            net: net::NetReader::new(&opts.procfs),
            opts,
            reader: read::Reader::default(),
            devices: HashMap::new(),
            tids: Vec::new(),
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
        let mut pods = Vec::with_capacity(paths.len());
        for id in paths {
            let mut stats = stats::read(&layout, &id, &mut self.reader);
            if self.opts.task_states {
                stats.tasks = layout.threads_file(&id).and_then(|f| {
                    tasks::read(&f, &self.opts.procfs, &mut self.reader, &mut self.tids)
                });
            }
            let k = kube::parse(&id);
            let meta = k
                .as_ref()
                .and_then(|k| resolve(names, k))
                .unwrap_or_default();
            pods.push(k);
            out.push(Container {
                id,
                meta,
                stats,
                network: None,
                filesystems: Vec::new(),
            });
        }
        self.attach_network(&mut out, &pods);
        if let Some(root) = out.iter_mut().find(|c| c.id == "/") {
            root.filesystems = self.filesystems();
        }
        Ok(out)
    }

    /// Network statistics for the root cgroup (pid 1's namespace) and each pod's cgroup (the
    /// namespace of the first process of its first container that has one). cAdvisor
    /// reports a pod's network on its sandbox container only (containerd: `container=""`,
    /// CRI-O: `POD`); the pod cgroup carries the same namespace once per pod with the same
    /// `namespace` and `pod` labels, without needing to tell the sandbox apart.
    fn attach_network(&mut self, out: &mut [Container], pods: &[Option<kube::KubePath>]) {
        self.net.clear();
        let mut pod_pid: HashMap<&str, u32> = HashMap::new();
        for (c, k) in out.iter().zip(pods) {
            if let (Some(k), Some(pid)) = (k, c.stats.first_pid) {
                if !k.container_id.is_empty() {
                    pod_pid.entry(k.pod_uid.as_str()).or_insert(pid);
                }
            }
        }
        for (c, k) in out.iter_mut().zip(pods) {
            let pid = match k {
                _ if c.id == "/" => Some(1),
                Some(k) if k.container_id.is_empty() => pod_pid.get(k.pod_uid.as_str()).copied(),
                _ => None,
            };
            c.network = pid.and_then(|pid| self.net.read(pid));
        }
    }

    /// The host's filesystems as the root cgroup reports them (mounts of pid 1, else of
    /// this process, measured under `rootfs`).
    fn filesystems(&mut self) -> Vec<fs::FsStat> {
        let procfs = &self.opts.procfs;
        let text = self
            .reader
            .read(&procfs.join("1/mountinfo"))
            .map(str::to_string)
            .or_else(|| {
                self.reader
                    .read(&procfs.join("self/mountinfo"))
                    .map(str::to_string)
            });
        let Some(text) = text else {
            return Vec::new();
        };
        let parts = fs::partitions(&text);
        let disks = self
            .reader
            .read(&procfs.join("diskstats"))
            .map(fs::parse_diskstats)
            .unwrap_or_default();
        fs::measure(&parts, &self.opts.rootfs, &disks)
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
