//! Maps kubepods cgroup paths to pod UIDs and container IDs (systemd and cgroupfs drivers;
//! containerd, CRI-O and Docker scopes).

/// What a cgroup path says about Kubernetes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubePath {
    /// The pod's UID (dashes restored from systemd's underscores).
    pub pod_uid: String,
    /// The container's runtime ID (64 hex digits), empty for the pod's own cgroup.
    pub container_id: String,
}

/// Parses `path` (a cgroup path like `/kubepods.slice/…/cri-containerd-<id>.scope` or
/// `/kubepods/burstable/pod<uid>/<id>`); `None` when it is not under a pod.
pub fn parse(path: &str) -> Option<KubePath> {
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    if !parts.next()?.starts_with("kubepods") {
        return None;
    }
    let mut out = KubePath::default();
    for p in parts {
        if out.pod_uid.is_empty() {
            if let Some(uid) = pod_uid(p) {
                out.pod_uid = uid;
            }
            continue;
        }
        out.container_id = container_id(p)?.to_string();
        return Some(out);
    }
    (!out.pod_uid.is_empty()).then_some(out)
}

/// The pod UID in one path element: `pod<uid>` (cgroupfs) or `kubepods-…-pod<uid_>.slice`.
fn pod_uid(elem: &str) -> Option<String> {
    let e = elem.strip_suffix(".slice").unwrap_or(elem);
    let i = e.rfind("pod")?;
    if i > 0 && !e[..i].ends_with('-') {
        return None;
    }
    let uid = &e[i + 3..];
    let ok = uid.len() >= 32
        && uid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    ok.then(|| uid.replace('_', "-"))
}

/// The container ID in one path element: `<id>`, `cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, `docker-<id>.scope` (`crio-conmon-…` is not a container).
fn container_id(elem: &str) -> Option<&str> {
    let e = elem.strip_suffix(".scope").unwrap_or(elem);
    if e.contains("conmon") {
        return None;
    }
    let id = e.rsplit('-').next()?;
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "0f0e6a4d-93a4-4e2b-9a8c-5f2d1c3b4a59";
    const CID: &str = "3f2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a";

    #[test]
    fn drivers_and_runtimes() {
        let uid_ = UID.replace('-', "_");
        let cases = [
            (format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/cri-containerd-{CID}.scope"), true),
            (format!("/kubepods.slice/kubepods-pod{uid_}.slice/crio-{CID}.scope"), true),
            (format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/docker-{CID}.scope"), true),
            (format!("/kubepods/burstable/pod{UID}/{CID}"), true),
            (format!("/kubepods/pod{UID}/{CID}"), true),
            (format!("/kubepods/besteffort/pod{UID}"), false),
            (format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice"), false),
        ];
        for (path, has_container) in cases {
            let k = parse(&path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!(k.pod_uid, UID, "{path}");
            assert_eq!(
                k.container_id,
                if has_container { CID } else { "" },
                "{path}"
            );
        }
    }

    #[test]
    fn not_pods() {
        for p in [
            "/",
            "/system.slice/containerd.service",
            "/kubepods.slice",
            "/kubepods/burstable",
            "/user.slice/podman-1.scope",
        ] {
            assert_eq!(parse(p), None, "{p}");
        }
        let conmon = format!(
            "/kubepods.slice/kubepods-pod{}.slice/crio-conmon-{CID}.scope",
            UID.replace('-', "_")
        );
        assert_eq!(parse(&conmon), None);
    }
}
