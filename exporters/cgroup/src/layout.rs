//! Where a host's cgroups live: the unified v2 hierarchy, or v1 controller hierarchies; and
//! the list of cgroups in it.

use std::path::{Path, PathBuf};

/// The cgroup hierarchy of a host.
#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    /// cgroup v2: one hierarchy.
    V2 {
        /// Its mount point (`/sys/fs/cgroup`).
        root: PathBuf,
    },
    /// cgroup v1: one hierarchy per controller (absent ones are `None`).
    V1 {
        /// `cpu` (periods, quota, shares).
        cpu: Option<PathBuf>,
        /// `cpuacct` (usage).
        cpuacct: Option<PathBuf>,
        /// `memory`.
        memory: Option<PathBuf>,
        /// `blkio`.
        blkio: Option<PathBuf>,
        /// `pids`.
        pids: Option<PathBuf>,
    },
}

impl Layout {
    /// Detects the layout under `root` (the cgroup mount point, e.g. `/sys/fs/cgroup`).
    /// A v2 hierarchy wins only when it is the whole mount (not the hybrid `unified` one).
    pub fn detect(root: &Path) -> Option<Layout> {
        if root.join("cgroup.controllers").is_file() {
            return Some(Layout::V2 {
                root: root.to_path_buf(),
            });
        }
        let dir = |names: &[&str]| {
            names
                .iter()
                .map(|n| root.join(n))
                .find(|p| p.join("cgroup.procs").is_file())
        };
        let l = Layout::V1 {
            cpu: dir(&["cpu", "cpu,cpuacct", "cpuacct,cpu"]),
            cpuacct: dir(&["cpuacct", "cpu,cpuacct", "cpuacct,cpu"]),
            memory: dir(&["memory"]),
            blkio: dir(&["blkio"]),
            pids: dir(&["pids"]),
        };
        match &l {
            Layout::V1 {
                cpu: None,
                cpuacct: None,
                memory: None,
                ..
            } => None,
            _ => Some(l),
        }
    }

    /// The hierarchy whose directory tree names the cgroups (v1: memory, else cpu).
    fn tree(&self) -> Option<&Path> {
        match self {
            Layout::V2 { root } => Some(root),
            Layout::V1 {
                memory,
                cpu,
                cpuacct,
                ..
            } => memory.as_deref().or(cpu.as_deref()).or(cpuacct.as_deref()),
        }
    }

    /// The file listing the own threads of cgroup `rel`: v2 `cgroup.threads`, v1 `tasks`
    /// of the hierarchy that names the cgroups.
    pub fn threads_file(&self, rel: &str) -> Option<PathBuf> {
        let dir = self.tree()?.join(rel.trim_start_matches('/'));
        Some(match self {
            Layout::V2 { .. } => dir.join("cgroup.threads"),
            Layout::V1 { .. } => dir.join("tasks"),
        })
    }

    /// Every cgroup path (`/`, `/system.slice/x.service`, …), parents before children, at
    /// most `limit`; the second value is true when some were left out.
    pub fn cgroups(&self, limit: usize) -> (Vec<String>, bool) {
        let mut out = Vec::new();
        let Some(tree) = self.tree() else {
            return (out, false);
        };
        let mut stack = vec![String::from("/")];
        let mut truncated = false;
        while let Some(rel) = stack.pop() {
            if out.len() >= limit {
                truncated = true;
                break;
            }
            let dir = tree.join(rel.trim_start_matches('/'));
            if let Ok(rd) = std::fs::read_dir(&dir) {
                let mut kids: Vec<String> = rd
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                    .filter_map(|e| e.file_name().into_string().ok())
                    .map(|n| {
                        if rel == "/" {
                            format!("/{n}")
                        } else {
                            format!("{rel}/{n}")
                        }
                    })
                    .collect();
                kids.sort_unstable_by(|a, b| b.cmp(a));
                stack.extend(kids);
            }
            out.push(rel);
        }
        (out, truncated)
    }
}
