//! Checks of `deploy/`: the manifests are well-formed, the kustomization lists files that
//! exist, generated copies match their sources, the agent stays in its budget with
//! read-only host mounts, the store's config and RBAC, and `kubectl kustomize` builds the
//! base and the overlay (when kubectl is on PATH). Dashboards: tests/dashboards.rs; schema:
//! tests/deploy_schema.rs.

mod common;

use common::manifests::{self, docs, files_with, kustomize, read, root, DASHBOARDS};
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

// ---------------------------------------------------------------- manifests

fn kube_dir() -> PathBuf {
    root().join("deploy/kubernetes")
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_str().unwrap_or("")
}

fn seq(v: &Value) -> Vec<Value> {
    v.as_sequence().cloned().unwrap_or_default()
}

/// Every kustomization under deploy/: the files it names exist.
fn kustomizations() -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    files_with(&root().join("deploy"), &["yaml"], &mut files);
    files
        .into_iter()
        .filter(|p| p.file_name().unwrap() == "kustomization.yaml")
        .map(|p| {
            let v: Value =
                serde_yaml::from_str(&read(&p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, v)
        })
        .collect()
}

/// Manifests the base kustomization names, parsed.
fn base_manifests() -> Vec<Value> {
    let k: Value = serde_yaml::from_str(&read(&kube_dir().join("kustomization.yaml"))).unwrap();
    let mut out = Vec::new();
    for r in seq(&k["resources"]) {
        let p = kube_dir().join(r.as_str().unwrap());
        out.extend(docs(&read(&p), &p.display().to_string()));
    }
    out
}

#[test]
fn kustomizations_name_existing_files() {
    let ks = kustomizations();
    assert!(ks.len() >= 4, "base, two components, one overlay: {ks:?}");
    for (p, k) in &ks {
        let dir = p.parent().unwrap();
        let kind = s(k, &["kind"]);
        assert!(
            kind == "Kustomization" || kind == "Component",
            "{}: kind {kind}",
            p.display()
        );
        let mut named = Vec::new();
        for key in ["resources", "components"] {
            named.extend(seq(&k[key]).iter().map(|v| v.as_str().unwrap().to_string()));
        }
        for g in seq(&k["configMapGenerator"])
            .iter()
            .chain(seq(&k["secretGenerator"]).iter())
        {
            for f in seq(&g["files"]) {
                let f = f.as_str().unwrap();
                named.push(f.rsplit_once('=').map_or(f, |(_, path)| path).to_string());
            }
        }
        for patch in seq(&k["patches"]) {
            if let Some(path) = patch["path"].as_str() {
                named.push(path.to_string());
            }
        }
        assert!(
            !named.is_empty() || !seq(&k["patches"]).is_empty(),
            "{}: does nothing",
            p.display()
        );
        for n in named {
            assert!(dir.join(&n).exists(), "{}: {n} does not exist", p.display());
        }
    }
    // Every manifest file in the base is listed (nothing forgotten).
    let base = &ks
        .iter()
        .find(|(p, _)| p.parent().unwrap() == kube_dir())
        .expect("base")
        .1;
    let listed: BTreeSet<String> = seq(&base["resources"])
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    for sub in [".", "store", "agent", "grafana"] {
        let mut files = Vec::new();
        for e in std::fs::read_dir(kube_dir().join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().and_then(|e| e.to_str()) == Some("yaml")
                && p.file_name().unwrap() != "kustomization.yaml"
            {
                files.push(p);
            }
        }
        for f in files {
            let rel = f
                .strip_prefix(kube_dir())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(listed.contains(&rel), "{rel} is not in kustomization.yaml");
        }
    }
}

#[test]
fn generated_copies_match_their_sources() {
    let gen = kube_dir().join("generated");
    let stale = "stale copy: run scripts/sync-deploy.sh";
    assert!(
        read(&gen.join("vitals.rules.yml")) == read(&root().join("rules/vitals.rules.yml")),
        "{stale}"
    );
    let mut copies = Vec::new();
    files_with(&gen.join("dashboards"), &["json"], &mut copies);
    assert_eq!(copies.len(), DASHBOARDS.len(), "{stale}");
    for d in DASHBOARDS {
        assert!(
            read(&gen.join("dashboards").join(d)) == read(&root().join("dashboards").join(d)),
            "{d}: {stale}"
        );
    }
}

#[test]
fn manifests_are_named_kubernetes_objects_in_monitoring() {
    let mut files = Vec::new();
    files_with(&root().join("deploy"), &["yaml"], &mut files);
    let mut seen = 0;
    for f in files
        .iter()
        .filter(|p| p.file_name().unwrap() != "kustomization.yaml")
    {
        for d in docs(&read(f), &f.display().to_string()) {
            let at = f.display();
            assert!(!s(&d, &["apiVersion"]).is_empty(), "{at}: apiVersion");
            let kind = s(&d, &["kind"]);
            assert!(!kind.is_empty(), "{at}: kind");
            assert!(
                !s(&d, &["metadata", "name"]).is_empty(),
                "{at}: metadata.name"
            );
            let cluster_scoped = matches!(kind, "Namespace" | "ClusterRole" | "ClusterRoleBinding");
            assert_eq!(
                s(&d, &["metadata", "namespace"]),
                if cluster_scoped { "" } else { "monitoring" },
                "{at}: {kind} namespace"
            );
            seen += 1;
        }
    }
    assert!(seen >= 15, "{seen} objects");
}

fn find<'a>(ms: &'a [Value], kind: &str, name: &str) -> &'a Value {
    ms.iter()
        .find(|m| s(m, &["kind"]) == kind && s(m, &["metadata", "name"]) == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn container<'a>(workload: &'a Value, name: &str) -> &'a Value {
    workload["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| s(c, &["name"]) == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn args(c: &Value) -> Vec<String> {
    seq(&c["args"])
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The container runs `vitals <subcommand>` with every flag of `want`.
fn assert_args(c: &Value, subcommand: &str, want: &[&str]) {
    let a = args(c);
    assert_eq!(a[0], subcommand);
    for w in want {
        assert!(
            a.iter().any(|x| x == w),
            "{subcommand} flag {w} missing: {a:?}"
        );
    }
}

/// Memory quantity in bytes (`64Mi`, `512Mi`, `1Gi`).
fn mem_bytes(q: &str) -> u64 {
    for (suffix, mult) in [("Ki", 1u64 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30)] {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<u64>().unwrap() * mult;
        }
    }
    q.parse().unwrap_or_else(|_| panic!("memory quantity {q}"))
}

/// Host paths mounted into a container: mount path → (host path, read-only).
fn host_mounts(workload: &Value, c: &Value) -> Vec<(String, String, bool)> {
    let vols = seq(&workload["spec"]["template"]["spec"]["volumes"]);
    seq(&c["volumeMounts"])
        .iter()
        .filter_map(|m| {
            let v = vols
                .iter()
                .find(|v| v["name"] == m["name"])
                .expect("mount without volume");
            v["hostPath"]["path"].as_str().map(|hp| {
                (
                    s(m, &["mountPath"]).to_string(),
                    hp.to_string(),
                    m["readOnly"].as_bool() == Some(true),
                )
            })
        })
        .collect()
}

fn check_agent(ds: &Value, mem_limit: &str) {
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(spec["hostPID"].as_bool(), Some(true), "hostPID");
    assert_eq!(spec["hostNetwork"].as_bool(), Some(true), "hostNetwork");
    assert_eq!(s(spec, &["dnsPolicy"]), "ClusterFirstWithHostNet");
    assert!(
        seq(&spec["tolerations"])
            .iter()
            .any(|t| s(t, &["operator"]) == "Exists" && t["key"].is_null()),
        "tolerates every taint"
    );
    let c = container(ds, "agent");
    assert_eq!(s(c, &["resources", "limits", "memory"]), mem_limit);
    assert!(
        !s(c, &["resources", "limits", "cpu"]).is_empty(),
        "CPU limit"
    );
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    assert_eq!(
        c["securityContext"]["allowPrivilegeEscalation"].as_bool(),
        Some(false)
    );
    let mounts = host_mounts(ds, c);
    for (at, host) in [
        ("/host", "/"),
        ("/host/proc", "/proc"),
        ("/host/sys", "/sys"),
    ] {
        assert!(
            mounts.iter().any(|(m, h, ro)| m == at && h == host && *ro),
            "{host} must be mounted read-only at {at}: {mounts:?}"
        );
    }
    for (m, h, ro) in &mounts {
        assert!(
            *ro || h == "/var/lib/vitals-agent",
            "{h} at {m} is writable"
        );
    }
    assert_args(
        c,
        "agent",
        &[
            "--remote-write.url=http://vitals-store.monitoring.svc:9090/api/v1/write",
            "--remote-write.bearer-token-file=/etc/vitals/token/token",
            "--node-name=$(NODE_NAME)",
            "--path.procfs=/host/proc",
            "--path.sysfs=/host/sys",
            "--path.rootfs=/host",
            "--storage.agent.path=/var/lib/vitals-agent",
            "--storage.agent.max-bytes=256MiB",
            "--collect.interval=15s",
            "--web.listen-address=0.0.0.0:9101",
        ],
    );
    assert!(
        seq(&c["env"]).iter().any(|e| s(e, &["name"]) == "NODE_NAME"
            && s(e, &["valueFrom", "fieldRef", "fieldPath"]) == "spec.nodeName"),
        "NODE_NAME from the downward API"
    );
    // The token flag points into the mounted Secret's `agent` key.
    let tm = seq(&c["volumeMounts"])
        .into_iter()
        .find(|m| s(m, &["mountPath"]) == "/etc/vitals/token")
        .expect("token mount");
    let vol = seq(&spec["volumes"])
        .into_iter()
        .find(|v| v["name"] == tm["name"])
        .unwrap();
    assert_eq!(s(&vol, &["secret", "secretName"]), "vitals-tokens");
    assert!(seq(&vol["secret"]["items"])
        .iter()
        .any(|i| s(i, &["key"]) == "agent" && s(i, &["path"]) == "token"));
    assert_eq!(
        spec["automountServiceAccountToken"].as_bool(),
        Some(false),
        "the agent needs no API token"
    );
}

#[test]
fn agent_daemonset_fits_the_node_exporter_budget() {
    let ms = base_manifests();
    let ds = find(&ms, "DaemonSet", "vitals-agent");
    check_agent(ds, "64Mi");
    assert!(
        mem_bytes(s(
            container(ds, "agent"),
            &["resources", "limits", "memory"]
        )) <= 64 << 20
    );
    let sc = &ds["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(sc["runAsUser"].as_u64(), Some(65534));
    // The GPU variant: same flags plus --gpu, only on GPU nodes, pod-resources mounted.
    let gpu = docs(
        &read(&kube_dir().join("components/gpu/daemonset-gpu.yaml")),
        "gpu",
    );
    let gds = find(&gpu, "DaemonSet", "vitals-agent-gpu");
    check_agent(gds, "128Mi");
    assert!(args(container(gds, "agent")).contains(&"--gpu".to_string()));
    assert_eq!(
        s(
            &gds["spec"]["template"]["spec"],
            &["nodeSelector", "nvidia.com/gpu.present"]
        ),
        "true"
    );
    assert!(host_mounts(gds, container(gds, "agent"))
        .iter()
        .any(|(m, h, ro)| m == "/var/lib/kubelet/pod-resources" && h == m && *ro));
}

#[test]
fn store_statefulset_config_and_rbac() {
    let ms = base_manifests();
    let st = find(&ms, "StatefulSet", "vitals-store");
    let c = container(st, "store");
    assert_args(
        c,
        "store",
        &[
            "--storage.tsdb.path=/data",
            "--web.listen-address=0.0.0.0:9090",
            "--storage.tsdb.retention.time=7d",
            "--storage.tsdb.retention.size=8GB",
            "--config.file=/etc/vitals/prometheus.yml",
            "--web.config.file=/etc/vitals/web.yml",
            "--kube.scrape-interval=15s",
        ],
    );
    assert!(
        mem_bytes(s(c, &["resources", "limits", "memory"])) <= 512 << 20,
        "seed budget"
    );
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    let claims = seq(&st["spec"]["volumeClaimTemplates"]);
    assert!(
        claims.iter().any(|p| s(p, &["metadata", "name"]) == "data"),
        "PVC data"
    );
    assert!(seq(&c["volumeMounts"])
        .iter()
        .any(|m| s(m, &["name"]) == "data" && s(m, &["mountPath"]) == "/data"));
    assert_eq!(s(&st["spec"], &["serviceName"]), "vitals-store-headless");
    find(&ms, "Service", "vitals-store-headless");
    let svc = find(&ms, "Service", "vitals-store");
    assert!(seq(&svc["spec"]["ports"])
        .iter()
        .any(|p| p["port"].as_u64() == Some(9090)));

    // /etc/vitals is one projected volume: config files, rules, tokens.
    let vols = seq(&st["spec"]["template"]["spec"]["volumes"]);
    let cfg = vols
        .iter()
        .find(|v| s(v, &["name"]) == "config")
        .expect("config volume");
    let mut paths = BTreeSet::new();
    for src in seq(&cfg["projected"]["sources"]) {
        for (kind, items) in [("configMap", &src["configMap"]), ("secret", &src["secret"])] {
            if items.is_null() {
                continue;
            }
            let name = s(items, &["name"]);
            if items["items"].is_null() {
                assert_eq!(name, "vitals-store-config", "{kind}");
                paths.extend(["prometheus.yml".to_string(), "web.yml".to_string()]);
            }
            for i in seq(&items["items"]) {
                paths.insert(s(&i, &["path"]).to_string());
            }
        }
    }
    let web: Value = serde_yaml::from_str(&read(&kube_dir().join("store/web.yml"))).unwrap();
    let tokens = seq(&web["vitals"]["bearer_tokens"]);
    let mut rights = BTreeSet::new();
    for t in &tokens {
        let file = s(t, &["token_file"]);
        let rel = file
            .strip_prefix("/etc/vitals/")
            .unwrap_or_else(|| panic!("{file} outside /etc/vitals"));
        assert!(
            paths.contains(rel),
            "token file {file} is not mounted ({paths:?})"
        );
        for r in seq(&t["rights"]) {
            let r = r.as_str().unwrap().to_string();
            assert!(
                ["read", "write", "admin"].contains(&r.as_str()),
                "right {r}"
            );
            rights.insert((s(t, &["name"]).to_string(), r));
        }
    }
    assert_eq!(
        rights,
        [("agent", "write"), ("grafana", "read")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .into(),
        "agent writes, Grafana reads, nothing more"
    );
    assert!(paths.contains("rules/vitals.rules.yml"));

    // The Prometheus config loads with our own loaders.
    let prom = kube_dir().join("store/prometheus.yml");
    let loaded = agent::load(&prom).unwrap_or_else(|e| panic!("{e}"));
    let ignored: Vec<_> = loaded
        .ignored
        .iter()
        .filter(|k| !["rule_files", "alerting"].iter().any(|p| k.starts_with(p)))
        .collect();
    assert!(ignored.is_empty(), "ignored keys {ignored:?}");
    let jobs: Vec<_> = loaded
        .config
        .scrape_configs
        .iter()
        .map(|j| j.job_name.clone())
        .collect();
    assert_eq!(jobs, ["vitals", "vitals-agent"]);
    let rc = rules::manager::load_config(&prom).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rc.rule_files, ["/etc/vitals/rules/*.yml"]);
    assert!(rc.global.external_labels.contains_key("cluster"));
    rules::load_file(&root().join("rules/vitals.rules.yml")).unwrap_or_else(|e| panic!("{e}"));

    // RBAC: the store reads (list/watch) and holds one Lease; nothing else, no wildcards.
    let cr = find(&ms, "ClusterRole", "vitals-store");
    let mut resources = BTreeSet::new();
    for r in seq(&cr["rules"]) {
        let verbs: Vec<_> = seq(&r["verbs"])
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(verbs, ["list", "watch"], "read-only ClusterRole");
        for x in seq(&r["resources"]) {
            resources.insert(x.as_str().unwrap().to_string());
        }
    }
    for want in [
        "pods",
        "nodes",
        "deployments",
        "daemonsets",
        "statefulsets",
        "replicasets",
        "jobs",
        "cronjobs",
        "namespaces",
        "persistentvolumeclaims",
        "persistentvolumes",
        "services",
        "horizontalpodautoscalers",
        "poddisruptionbudgets",
        "resourcequotas",
    ] {
        assert!(resources.contains(want), "ClusterRole lacks {want}");
    }
    let lease = find(&ms, "Role", "vitals-store-lease");
    assert_eq!(seq(&lease["rules"]).len(), 1);
    assert_eq!(s(&seq(&lease["rules"])[0]["resources"][0], &[]), "leases");
    for m in &ms {
        let text = serde_yaml::to_string(m).unwrap();
        assert!(
            !text.contains("'*'") && !text.contains("\"*\""),
            "wildcard in {}",
            s(m, &["metadata", "name"])
        );
    }
    let crb = find(&ms, "ClusterRoleBinding", "vitals-store");
    assert_eq!(s(&crb["subjects"][0], &["name"]), "vitals-store");
    assert_eq!(
        s(&st["spec"]["template"]["spec"], &["serviceAccountName"]),
        "vitals-store"
    );
}

#[test]
fn grafana_provisioning_points_at_the_store() {
    let ms = base_manifests();
    let cm = find(&ms, "ConfigMap", "vitals-grafana-datasource");
    let ds: Value = serde_yaml::from_str(s(cm, &["data", "datasources.yaml"])).unwrap();
    let list = seq(&ds["datasources"]);
    assert_eq!(list.len(), 1);
    assert_eq!(s(&list[0], &["type"]), "prometheus");
    assert_eq!(
        s(&list[0], &["url"]),
        "http://vitals-store.monitoring.svc:9090"
    );
    assert_eq!(
        s(&list[0], &["jsonData", "httpHeaderName1"]),
        "Authorization"
    );
    let prov = find(&ms, "ConfigMap", "vitals-grafana-dashboard-provider");
    let p: Value = serde_yaml::from_str(s(prov, &["data", "dashboards.yaml"])).unwrap();
    assert_eq!(s(&seq(&p["providers"])[0], &["type"]), "file");
    // The dashboards ConfigMap generator lists every dashboard.
    let k: Value = serde_yaml::from_str(&read(&kube_dir().join("kustomization.yaml"))).unwrap();
    let g = seq(&k["configMapGenerator"])
        .into_iter()
        .find(|g| s(g, &["name"]) == "vitals-grafana-dashboards")
        .unwrap();
    let files: BTreeSet<String> = seq(&g["files"])
        .iter()
        .map(|f| f.as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(files, DASHBOARDS.iter().map(|d| d.to_string()).collect());
}

// ---------------------------------------------------------------- kubectl

#[test]
fn kubectl_kustomize_builds_base_and_overlay() {
    let Some(kubectl) = manifests::kubectl() else {
        return;
    };
    let base = kustomize(&kubectl, &root(), "deploy/kubernetes");
    for m in &base {
        let kind = s(m, &["kind"]);
        if !matches!(kind, "Namespace" | "ClusterRole" | "ClusterRoleBinding") {
            assert_eq!(
                s(m, &["metadata", "namespace"]),
                "monitoring",
                "{kind} {}",
                s(m, &["metadata", "name"])
            );
        }
        assert_eq!(
            s(m, &["metadata", "labels", "app.kubernetes.io/part-of"]),
            "vitals"
        );
    }
    let kinds: BTreeSet<&str> = base.iter().map(|m| s(m, &["kind"])).collect();
    for k in [
        "Namespace",
        "DaemonSet",
        "StatefulSet",
        "Service",
        "ServiceAccount",
        "ClusterRole",
        "Role",
        "Secret",
        "ConfigMap",
    ] {
        assert!(kinds.contains(k), "no {k} in the build");
    }
    // The generated rules ConfigMap carries the repository's rule file, and the store's
    // projected volume refers to it by its hashed name.
    let rules = base
        .iter()
        .find(|m| {
            s(m, &["kind"]) == "ConfigMap"
                && s(m, &["metadata", "name"]).starts_with("vitals-rules-")
        })
        .expect("hashed vitals-rules ConfigMap");
    assert_eq!(
        s(rules, &["data", "vitals.rules.yml"]),
        read(&root().join("rules/vitals.rules.yml"))
    );
    let st = base
        .iter()
        .find(|m| s(m, &["kind"]) == "StatefulSet")
        .unwrap();
    let text = serde_yaml::to_string(st).unwrap();
    assert!(
        text.contains(s(rules, &["metadata", "name"])),
        "StatefulSet does not use the generated name"
    );
    let image = s(container(st, "store"), &["image"]);
    assert!(
        image.starts_with("ghcr.io/") && image.contains(':'),
        "image {image}"
    );
    let dash = base
        .iter()
        .find(|m| s(m, &["metadata", "name"]) == "vitals-grafana-dashboards")
        .unwrap();
    assert_eq!(dash["data"].as_mapping().unwrap().len(), DASHBOARDS.len());

    let ov = kustomize(&kubectl, &root(), "deploy/overlays/nodeport-gpu");
    let svc = ov
        .iter()
        .find(|m| s(m, &["kind"]) == "Service" && s(m, &["metadata", "name"]) == "vitals-store")
        .unwrap();
    assert_eq!(s(svc, &["spec", "type"]), "NodePort");
    assert_eq!(svc["spec"]["ports"][0]["nodePort"].as_u64(), Some(30090));
    let gpu = ov
        .iter()
        .find(|m| s(m, &["metadata", "name"]) == "vitals-agent-gpu")
        .expect("GPU agent");
    assert!(s(container(gpu, "agent"), &["image"]).ends_with("-gnu"));
    let plain = ov
        .iter()
        .find(|m| s(m, &["kind"]) == "DaemonSet" && s(m, &["metadata", "name"]) == "vitals-agent")
        .unwrap();
    let aff = serde_yaml::to_string(&plain["spec"]["template"]["spec"]["affinity"]).unwrap();
    assert!(
        aff.contains("nvidia.com/gpu.present") && aff.contains("NotIn"),
        "plain agent stays off GPU nodes"
    );
}

// ---------------------------------------------------------------- image and scripts

#[test]
fn dockerfile_builds_the_images_the_manifests_use() {
    let text = read(&root().join("Dockerfile"));
    // (base image, stage name) of every FROM line.
    let stages: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            assert!(
                w.len() == 3 && w[1].eq_ignore_ascii_case("AS"),
                "FROM {l}: name every stage"
            );
            (w[0].to_string(), w[2].to_string())
        })
        .collect();
    let base = |name: &str| {
        &stages
            .iter()
            .find(|s| s.1 == name)
            .unwrap_or_else(|| panic!("no stage {name}"))
            .0
    };
    assert!(
        base("build-musl").starts_with("rust:"),
        "official Rust image"
    );
    assert!(
        base("build-gnu").starts_with("rust:"),
        "official Rust image"
    );
    assert!(base("static").starts_with("gcr.io/distroless/static"));
    assert!(base("gnu").starts_with("debian:") && base("gnu").ends_with("-slim"));
    assert_eq!(
        stages.last().unwrap().1,
        "static",
        "the default target is the static image"
    );
    // Runtime stages: the binary at /usr/bin/vitals, run as the user the manifests expect.
    for stage in ["static", "gnu"] {
        let body: String = text
            .split("\nFROM ")
            .find(|b| b.lines().next().unwrap().ends_with(&format!(" AS {stage}")))
            .unwrap()
            .to_string();
        assert!(body.contains("/usr/bin/vitals"), "{stage}: binary path");
        assert!(body.contains("USER 65534:65534"), "{stage}: runs as nobody");
        assert!(
            body.contains("ENTRYPOINT [\"/usr/bin/vitals\"]"),
            "{stage}: entrypoint"
        );
    }
    assert!(
        text.contains("unknown-linux-musl"),
        "static stage builds for musl"
    );
    let ignore = read(&root().join(".dockerignore"));
    assert!(
        ignore.lines().any(|l| l == "target"),
        "build context without target/"
    );
}

#[test]
fn scripts_are_valid_bash() {
    for s in ["scripts/cross-arm64.sh", "scripts/sync-deploy.sh"] {
        let out = std::process::Command::new("bash")
            .args(["-n", s])
            .current_dir(root())
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{s}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cross = read(&root().join("scripts/cross-arm64.sh"));
    for want in [
        "aarch64-unknown-linux-musl",
        "aarch64-unknown-linux-gnu",
        "gcc-aarch64-linux-gnu",
        "qemu-user-static",
        "musl-tools",
        "qemu-aarch64-static",
        "/-/ready",
        "/api/v1/query?query=1%2B1",
    ] {
        assert!(cross.contains(want), "cross-arm64.sh lacks {want}");
    }
}
