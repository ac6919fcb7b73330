//! The seed's Kubernetes scrape configuration loads unchanged, and its relabeling turns
//! discovered objects into the targets Prometheus would scrape.

use std::path::Path;
use std::time::Duration;

use agent::config::Role;
use agent::relabel::{compile_all, LabelSet};
use agent::target::populate;

fn seed() -> agent::config::Loaded {
    agent::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-prometheus.yml"))
        .unwrap()
}

#[test]
fn seed_config_loads() {
    let l = seed();
    let c = &l.config;
    let jobs: Vec<&str> = c
        .scrape_configs
        .iter()
        .map(|s| s.job_name.as_str())
        .collect();
    assert_eq!(
        jobs,
        [
            "prometheus",
            "kubernetes-apiservers",
            "kubernetes-nodes",
            "kubernetes-cadvisor",
            "node-exporter",
            "kube-state-metrics",
            "kubernetes-service-endpoints",
            "kubernetes-pods"
        ]
    );
    assert_eq!(
        l.ignored,
        [
            "scrape_configs.6.enable_http2",
            "scrape_configs.6.follow_redirects"
        ]
    );
    assert_eq!(c.global.external_labels["cluster"], "seed");
    let api = &c.scrape_configs[1];
    assert_eq!(api.scheme, "https");
    assert_eq!(api.kubernetes_sd_configs[0].role, Role::Endpoints);
    assert_eq!(
        api.http.bearer_token_file.as_deref(),
        Some(Path::new(
            "/var/run/secrets/kubernetes.io/serviceaccount/token"
        ))
    );
    let cad = &c.scrape_configs[3];
    assert_eq!(cad.metrics_path, "/metrics/cadvisor");
    assert_eq!(cad.interval(&c.global), Duration::from_secs(15));
    assert_eq!(cad.metric_relabel_configs.len(), 2);
    assert_eq!(
        c.scrape_configs[4].kubernetes_sd_configs[0]
            .namespaces
            .names,
        ["monitoring"]
    );
    assert!(c.scrape_configs[5].honor_labels);
    assert_eq!(c.scrape_configs[5].sample_limit, 200_000);
    assert_eq!(
        c.scrape_configs[0].timeout(&c.global),
        Duration::from_secs(10)
    );
    let rw = &c.remote_write[0];
    assert_eq!(
        rw.url,
        "http://vitals-store.monitoring.svc:9090/api/v1/write"
    );
    assert_eq!(rw.queue_config.max_samples_per_send, Some(2000));
    assert_eq!(rw.write_relabel_configs.len(), 1);
    for sc in &c.scrape_configs {
        compile_all(&sc.relabel_configs).unwrap();
        compile_all(&sc.metric_relabel_configs).unwrap();
    }
}

fn ls(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn seed_relabeling_builds_kubernetes_targets() {
    let l = seed();
    let c = &l.config;
    let target = |job: usize, discovered: LabelSet| {
        let sc = &c.scrape_configs[job];
        populate(
            sc,
            &c.global,
            &compile_all(&sc.relabel_configs).unwrap(),
            discovered,
        )
        .unwrap()
    };
    let node = target(
        2,
        ls(&[
            ("__address__", "10.1.0.1:10250"),
            ("__meta_kubernetes_node_name", "n1"),
            ("__meta_kubernetes_node_label_kubernetes_io_arch", "amd64"),
        ]),
    )
    .unwrap();
    assert_eq!(
        node.url,
        "https://kubernetes.default.svc:443/api/v1/nodes/n1/proxy/metrics"
    );
    assert!(node
        .labels
        .contains(&("kubernetes_io_arch".into(), "amd64".into())));

    let pod = ls(&[
        ("__address__", "10.0.0.5:8080"),
        ("__meta_kubernetes_namespace", "apps"),
        ("__meta_kubernetes_pod_name", "web-1"),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_label_app", "web"),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
            "true",
        ),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_port",
            "9102",
        ),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_path",
            "/stats",
        ),
    ]);
    let t = target(7, pod.clone()).unwrap();
    assert_eq!(t.url, "http://10.0.0.5:9102/stats");
    let want: Vec<(String, String)> = [
        ("app", "web"),
        ("instance", "10.0.0.5:9102"),
        ("job", "kubernetes-pods"),
        ("namespace", "apps"),
        ("pod", "web-1"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    assert_eq!(t.labels, want);
    let mut pending = pod.clone();
    pending.insert("__meta_kubernetes_pod_phase".into(), "Pending".into());
    assert_eq!(target(7, pending), None);
    let mut unannotated = pod;
    unannotated.remove("__meta_kubernetes_pod_annotation_prometheus_io_scrape");
    assert_eq!(target(7, unannotated), None);

    let apiserver = ls(&[
        ("__address__", "172.18.0.2:6443"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", "kubernetes"),
        ("__meta_kubernetes_endpoint_port_name", "https"),
    ]);
    assert_eq!(
        target(1, apiserver).unwrap().url,
        "https://172.18.0.2:6443/metrics"
    );
}
