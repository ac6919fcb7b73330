//! Filesystem usage of the root cgroup (`id="/"`): the host's mounts chosen as cAdvisor's
//! `GetGlobalFsInfo` chooses them, each measured with statfs(2).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One filesystem as cAdvisor reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FsStat {
    /// `device` label: the mount source (`/dev/sda1`), the mount point for tmpfs,
    /// `overlay_<major>-<minor>` for overlay mounts.
    pub device: String,
    /// Size, bytes (`container_fs_limit_bytes`).
    pub capacity: f64,
    /// Size minus free space, bytes (`container_fs_usage_bytes`).
    pub usage: f64,
    /// Inodes (`container_fs_inodes_total`).
    pub inodes: f64,
    /// Free inodes (`container_fs_inodes_free`).
    pub inodes_free: f64,
    /// The device's `/proc/diskstats` counters (reads, reads merged, sectors read, read ms,
    /// writes, writes merged, sectors written, write ms, I/Os in progress, I/O ms, weighted
    /// I/O ms); zeros where cAdvisor finds none.
    pub disk: [f64; 11],
}

/// A mount chosen for reporting: its `device` label and where it is mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// `device` label.
    pub device: String,
    /// Mount point in the host's namespace.
    pub mountpoint: String,
    /// Filesystem type.
    pub fstype: String,
    /// `major:minor` of the mount.
    pub dev: (u32, u32),
}

/// Filesystem types cAdvisor's plugins measure (ext* by prefix). NFS is left out: statfs of
/// a dead server blocks, and a scrape must not.
fn measured(fstype: &str) -> bool {
    fstype.starts_with("ext")
        || matches!(
            fstype,
            "xfs"
                | "squashfs"
                | "f2fs"
                | "jfs"
                | "reiserfs"
                | "hfs"
                | "hfsplus"
                | "ntfs"
                | "vfat"
                | "fat"
                | "msdos"
                | "exfat"
                | "udf"
                | "iso9660"
                | "tmpfs"
                | "overlay"
                | "btrfs"
                | "zfs"
        )
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c));
        if b[i] == b'\\' && octal {
            let v = b[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
            if let Ok(c) = u8::try_from(v) {
                out.push(c);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Chooses the partitions of a `mountinfo` text as cAdvisor does: measured types only; a
/// source seen before is skipped (except tmpfs, keyed by mount point); overlay sources get
/// `_<major>-<minor>`; the `/` mount is always reported under its own source. Sorted by
/// device.
pub fn partitions(mountinfo: &str) -> Vec<Partition> {
    let mut parts: BTreeMap<String, Partition> = BTreeMap::new();
    let mut root = None;
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let mut post = post.split(' ');
        let (Some(fstype), Some(source)) = (post.next(), post.next()) else {
            continue;
        };
        if pre.len() < 5 {
            continue;
        }
        let (dev, mountpoint) = (pre[2], unescape(pre[4]));
        let source = unescape(source);
        let numbers = dev
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .unwrap_or((0, 0));
        if mountpoint == "/" {
            root = Some(Partition {
                device: source.clone(),
                mountpoint: mountpoint.clone(),
                fstype: fstype.to_string(),
                dev: numbers,
            });
        }
        if !measured(fstype) || (fstype != "tmpfs" && parts.contains_key(&source)) {
            continue;
        }
        let device = match fstype {
            "tmpfs" => mountpoint.clone(),
            "overlay" => format!("{source}_{}", dev.replace(':', "-")),
            _ => source,
        };
        parts.insert(
            device.clone(),
            Partition {
                device,
                mountpoint,
                fstype: fstype.to_string(),
                dev: numbers,
            },
        );
    }
    if let Some(r) = root {
        parts.insert(r.device.clone(), r);
    }
    parts.into_values().collect()
}

/// statfs(2) of `path` as cAdvisor reads it (fragment size × blocks).
pub fn statfs(path: &Path) -> Option<[f64; 4]> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path; `st` is a plain C struct written by the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    let frsize = st.f_frsize as f64;
    Some([
        st.f_blocks as f64 * frsize,
        st.f_bfree as f64 * frsize,
        st.f_files as f64,
        st.f_ffree as f64,
    ])
}

/// Counters of one `/proc/diskstats` line: device numbers and the first 11 fields.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskLine {
    /// `/dev/<name>`.
    pub device: String,
    /// `major:minor`.
    pub dev: (u32, u32),
    /// The 11 classic counters.
    pub stats: [f64; 11],
}

/// True for the names cAdvisor keeps from `/proc/diskstats`: `sd*`, `vd*`, `xvd*` (with
/// an optional partition number) and `dm-N`. NVMe and MMC devices are not among them, so
/// their filesystems report zeros, as in cAdvisor.
fn kept_disk(name: &str) -> bool {
    if let Some(n) = name.strip_prefix("dm-") {
        return !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    }
    let rest = ["xvd", "sd", "vd"]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or("");
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    letters > 0 && rest[letters..].bytes().all(|b| b.is_ascii_digit())
}

/// Parses `/proc/diskstats`, keeping the devices cAdvisor keeps; lines with fewer than 11
/// counters or non-numbers are skipped.
pub fn parse_diskstats(text: &str) -> Vec<DiskLine> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_ascii_whitespace();
        let (Some(major), Some(minor), Some(name)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if !kept_disk(name) {
            continue;
        }
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        let mut stats = [0.0; 11];
        let mut n = 0;
        for (slot, v) in stats.iter_mut().zip(it.by_ref()) {
            let Ok(v) = v.parse::<u64>() else { break };
            *slot = v as f64;
            n += 1;
        }
        if n == stats.len() {
            out.push(DiskLine {
                device: format!("/dev/{name}"),
                dev: (major, minor),
                stats,
            });
        }
    }
    out
}

/// Measures `parts`, mounted under `rootfs` (the host's `/` as this process sees it), with
/// each one's disk counters from `disks` (by device name, else by `major:minor`).
pub fn measure(parts: &[Partition], rootfs: &Path, disks: &[DiskLine]) -> Vec<FsStat> {
    parts
        .iter()
        .filter_map(|p| {
            let path = rootfs.join(p.mountpoint.trim_start_matches('/'));
            let [capacity, free, inodes, inodes_free] = statfs(&path)?;
            let disk = disks
                .iter()
                .find(|d| d.device == p.device)
                .or_else(|| disks.iter().find(|d| d.dev == p.dev))
                .map_or([0.0; 11], |d| d.stats);
            Some(FsStat {
                device: p.device.clone(),
                capacity,
                usage: capacity - free,
                inodes,
                inodes_free,
                disk,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid - proc proc rw
24 22 0:22 / /run rw,nosuid shared:5 - tmpfs tmpfs rw,size=812m
25 24 0:23 / /run/lock rw,nosuid shared:6 - tmpfs tmpfs rw,size=5120k
26 22 8:1 /var/lib/kubelet /var/lib/kubelet rw,relatime shared:1 - ext4 /dev/sda1 rw
27 22 8:16 / /mnt/data\\040disk rw,relatime shared:7 - xfs /dev/sdb rw
28 22 0:45 / /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs rw - overlay overlay rw,lowerdir=/a,upperdir=/b
29 22 0:46 / /srv/nfs rw - nfs4 server:/export rw
30 22 0:24 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
";

    #[test]
    fn chooses_partitions_as_cadvisor() {
        let got: Vec<(String, String)> = partitions(MOUNTINFO)
            .into_iter()
            .map(|p| (p.device, p.mountpoint))
            .collect();
        let want = [
            ("/dev/sda1", "/"),
            ("/dev/sdb", "/mnt/data disk"),
            ("/run", "/run"),
            ("/run/lock", "/run/lock"),
            (
                "overlay_0-45",
                "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs",
            ),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn diskstats_as_cadvisor_keeps_them() {
        let text = "\
   8       0 sda 100 2 800 50 200 3 1600 70 0 90 120 0 0 0 0
   8       1 sda1 90 1 700 40 190 2 1500 60 1 80 100
 259       0 nvme0n1 5 0 40 1 6 0 48 2 0 3 3
 253       0 dm-0 7 0 56 1 8 0 64 2 0 3 3
   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0
 202       1 xvda1 1 2 3
";
        let d = parse_diskstats(text);
        let names: Vec<&str> = d.iter().map(|l| l.device.as_str()).collect();
        assert_eq!(names, ["/dev/sda", "/dev/sda1", "/dev/dm-0"]);
        assert_eq!(d[1].dev, (8, 1));
        assert_eq!(d[1].stats[0], 90.0);
        assert_eq!(d[1].stats[10], 100.0);
        assert!(kept_disk("xvdb") && kept_disk("vda2") && !kept_disk("sd") && !kept_disk("dm-"));
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("/a\\040b\\011c"), "/a b\tc");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/trailing\\04"), "/trailing\\04");
    }

    #[test]
    fn statfs_of_this_machine_root() {
        let [cap, free, inodes, ifree] = statfs(Path::new("/")).expect("statfs /");
        assert!(cap > 0.0 && free <= cap && ifree <= inodes, "{cap} {free}");
    }
}
