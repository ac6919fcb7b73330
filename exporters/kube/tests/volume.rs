//! `kubelet_volume_stats_*`: claim mounts found under a fake kubelet directory for this
//! node's pods (CSI `…/<pv>/mount`, in-tree `…/<volume name>`), rendered from given statfs
//! figures; statfs itself on a real directory.

mod common;

use std::path::Path;

use common::load;
use expo::{Format, MetricSet};
use kube_collector::volume::{claim_mounts, render_volume_stats, statfs, ClaimMount, FsStats};
use kube_collector::Objects;

#[test]
fn claims_of_this_nodes_pods_are_measured() {
    let root = tempfile::tempdir().unwrap();
    let pods = root.path().join("pods");
    let csi = pods.join("uid-db-0/volumes/kubernetes.io~csi/pvc-123/mount");
    let nfs =
        pods.join("0f0e6a4d-0000-4e2b-9a8c-000000000001/volumes/kubernetes.io~nfs/shared-vol");
    let empty = pods.join("uid-db-0/volumes/kubernetes.io~empty-dir/tmp");
    // The evicted pod is on node-b: not this node's.
    let other = pods.join("uid-evicted-pod/volumes/kubernetes.io~nfs/gone");
    for d in [&csi, &nfs, &empty, &other] {
        std::fs::create_dir_all(d).unwrap();
    }
    let objs = Objects {
        pods: load("pods"),
        pvcs: load("persistentvolumeclaims"),
        ..Default::default()
    };
    let mut mounts = claim_mounts(&objs, "node-a", root.path());
    mounts.sort_by(|a, b| a.claim.cmp(&b.claim));
    assert_eq!(
        mounts,
        vec![
            ClaimMount {
                namespace: "data".into(),
                claim: "data-db-0".into(),
                path: csi.clone()
            },
            ClaimMount {
                namespace: "shop".into(),
                claim: "shared".into(),
                path: nfs.clone()
            },
        ]
    );

    let fake = |p: &Path| {
        (p == csi).then_some(FsStats {
            capacity: 10e9,
            available: 4e9,
            used: 5e9,
            inodes: 1000.0,
            inodes_free: 400.0,
        })
    };
    let mut set = MetricSet::new();
    render_volume_stats(&mounts, fake, &mut set);
    set.sort();
    let mut text = String::new();
    expo::render(&set, Format::Text, &mut text);
    let want = r#"# HELP kubelet_volume_stats_available_bytes [ALPHA] Number of available bytes in the volume
# TYPE kubelet_volume_stats_available_bytes gauge
kubelet_volume_stats_available_bytes{namespace="data",persistentvolumeclaim="data-db-0"} 4e+09
# HELP kubelet_volume_stats_capacity_bytes [ALPHA] Capacity in bytes of the volume
# TYPE kubelet_volume_stats_capacity_bytes gauge
kubelet_volume_stats_capacity_bytes{namespace="data",persistentvolumeclaim="data-db-0"} 1e+10
# HELP kubelet_volume_stats_inodes [ALPHA] Maximum number of inodes in the volume
# TYPE kubelet_volume_stats_inodes gauge
kubelet_volume_stats_inodes{namespace="data",persistentvolumeclaim="data-db-0"} 1000
# HELP kubelet_volume_stats_inodes_free [ALPHA] Number of free inodes in the volume
# TYPE kubelet_volume_stats_inodes_free gauge
kubelet_volume_stats_inodes_free{namespace="data",persistentvolumeclaim="data-db-0"} 400
# HELP kubelet_volume_stats_inodes_used [ALPHA] Number of used inodes in the volume
# TYPE kubelet_volume_stats_inodes_used gauge
kubelet_volume_stats_inodes_used{namespace="data",persistentvolumeclaim="data-db-0"} 600
# HELP kubelet_volume_stats_used_bytes [ALPHA] Number of used bytes in the volume
# TYPE kubelet_volume_stats_used_bytes gauge
kubelet_volume_stats_used_bytes{namespace="data",persistentvolumeclaim="data-db-0"} 5e+09
"#;
    assert_eq!(text, want);
}

#[test]
fn statfs_of_a_real_directory() {
    let dir = tempfile::tempdir().unwrap();
    let st = statfs(dir.path()).unwrap();
    assert!(st.capacity > 0.0 && st.available <= st.capacity && st.used <= st.capacity);
    assert!(statfs(&dir.path().join("missing")).is_none());
}
