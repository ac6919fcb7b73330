//! Golden tests: the objects in `tests/fixtures/<resource>.json` (Kubernetes List JSON)
//! rendered as kube-state-metrics text, one golden file per resource. `UPDATE_GOLDEN=1`
//! rewrites the expected files.

mod common;

use std::path::Path;

use cgroup_collector::PodResolver;
use common::load;
use expo::{Format, MetricSet};
use kube_collector::{Flags, Objects, Options, PodNames};

/// Options with zone-less cron schedules read in UTC.
fn utc() -> Options {
    Options {
        local_tz: jiff::tz::TimeZone::UTC,
        ..Options::default()
    }
}

/// Renders `objs` sorted as text 0.0.4.
fn text(objs: &Objects) -> String {
    text_with(objs, &utc())
}

/// Renders `objs` with `opts`, sorted as text 0.0.4.
fn text_with(objs: &Objects, opts: &Options) -> String {
    let mut set = MetricSet::new();
    kube_collector::render_with(objs, opts, &mut set);
    set.sort();
    let mut out = String::new();
    expo::render(&set, Format::Text, &mut out);
    out
}

/// Compares `text` with `tests/golden/<name>.prom`.
fn check(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.prom"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text == want, "{name} differs; got:\n{text}");
}

macro_rules! golden {
    ($($test:ident: $field:ident from $fixture:literal;)*) => {$(
        #[test]
        fn $test() {
            let objs = Objects { $field: load($fixture), ..Default::default() };
            check($fixture, &text(&objs));
        }
    )*};
}

golden! {
    pods: pods from "pods";
    nodes: nodes from "nodes";
    deployments: deployments from "deployments";
    daemonsets: daemonsets from "daemonsets";
    statefulsets: statefulsets from "statefulsets";
    replicasets: replicasets from "replicasets";
    jobs: jobs from "jobs";
    cronjobs: cronjobs from "cronjobs";
    namespaces: namespaces from "namespaces";
    pvcs: pvcs from "persistentvolumeclaims";
    pvs: pvs from "persistentvolumes";
    services: services from "services";
    hpas: hpas from "horizontalpodautoscalers";
    pdbs: pdbs from "poddisruptionbudgets";
    quotas: quotas from "resourcequotas";
}

#[test]
fn pod_names_resolve_containers_by_runtime_id() {
    let names = PodNames::new(&load("pods"));
    let uid = "0f0e6a4d-0000-4e2b-9a8c-000000000001";
    let c = names.resolve(uid, "bbb222").unwrap();
    assert_eq!(
        (c.namespace.as_str(), c.pod.as_str(), c.container.as_str()),
        ("shop", "web-7d9f8-abcde", "sidecar")
    );
    assert_eq!(c.image, "docker.io/envoyproxy/envoy:1.31");
    assert_eq!(c.name, "bbb222");
    let pod = names.resolve(uid, "").unwrap();
    assert_eq!(
        (pod.pod.as_str(), pod.container.as_str()),
        ("web-7d9f8-abcde", "")
    );
    assert!(names.resolve(uid, "unknown").is_none());
    assert!(names.resolve("no-such-uid", "").is_none());
}

/// Every resource's objects from the fixtures.
fn all() -> Objects {
    Objects {
        pods: load("pods"),
        nodes: load("nodes"),
        deployments: load("deployments"),
        daemonsets: load("daemonsets"),
        statefulsets: load("statefulsets"),
        replicasets: load("replicasets"),
        jobs: load("jobs"),
        cronjobs: load("cronjobs"),
        namespaces: load("namespaces"),
        pvcs: load("persistentvolumeclaims"),
        pvs: load("persistentvolumes"),
        services: load("services"),
        hpas: load("horizontalpodautoscalers"),
        pdbs: load("poddisruptionbudgets"),
        quotas: load("resourcequotas"),
    }
}

/// Options from kube-state-metrics flags, cron schedules in UTC.
fn flags(f: Flags) -> Options {
    Options {
        local_tz: jiff::tz::TimeZone::UTC,
        ..Options::from_flags(&f).unwrap()
    }
}

#[test]
fn labels_and_annotations_allowlists() {
    let opts = flags(Flags {
        labels_allowlist: "pods=[app,app.kubernetes.io/*,missing],cronjobs=[*],namespaces=[]"
            .into(),
        annotations_allowlist: "pods=[prometheus.io/scrape],cronjobs=[owner]".into(),
        metric_allowlist: "_labels$,_annotations$".into(),
        ..Default::default()
    });
    check("allowlists", &text_with(&all(), &opts));
}

#[test]
fn no_labels_metrics_by_default() {
    let out = text(&all());
    assert!(!out.contains("_labels{"), "labels metric without allowlist");
    assert!(
        !out.contains("_annotations{"),
        "annotations metric without allowlist"
    );
}

#[test]
fn wildcard_resource_allowlist_covers_enabled_resources() {
    let opts = flags(Flags {
        resources: "namespaces,nodes".into(),
        labels_allowlist: "*=[*]".into(),
        ..Default::default()
    });
    let out = text_with(&all(), &opts);
    assert!(out.contains("kube_namespace_labels{"));
    assert!(out.contains("kube_node_labels{"));
    // Only the enabled resources render.
    assert!(!out.contains("kube_pod_"), "{out}");
    assert!(!out.contains("kube_deployment_"));
}

#[test]
fn metric_denylist_drops_families() {
    let opts = flags(Flags {
        metric_denylist: "kube_pod_container_.*,^kube_pod_init_container_info$".into(),
        ..Default::default()
    });
    let out = text_with(
        &Objects {
            pods: load("pods"),
            ..Default::default()
        },
        &opts,
    );
    assert!(!out.contains("kube_pod_container_"));
    assert!(!out.contains("kube_pod_init_container_info"));
    assert!(out.contains("kube_pod_init_container_status_running{"));
    assert!(out.contains("kube_pod_info{"));
}
