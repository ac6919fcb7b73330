//! `kube_<resource>_labels` and `kube_<resource>_annotations`: allowlisted Kubernetes
//! labels and annotations as `label_<key>` / `annotation_<key>` Prometheus labels.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::{fam, gauge, gauge_exp, Metric, Out};

/// The labels and annotations families of one resource.
struct Families {
    resource: &'static str,
    labels: Metric,
    annotations: Metric,
}

const LABELS_HELP: &str = "Kubernetes labels converted to Prometheus labels.";
const ANNOTATIONS_HELP: &str = "Kubernetes annotations converted to Prometheus labels.";

/// A resource whose labels metric is STABLE and annotations metric experimental.
const fn stable(
    resource: &'static str,
    labels: &'static str,
    annotations: &'static str,
) -> Families {
    Families {
        resource,
        labels: gauge(labels, LABELS_HELP),
        annotations: gauge_exp(annotations, ANNOTATIONS_HELP),
    }
}

/// kube-state-metrics' registrations (statefulsets' annotations are STABLE, pod
/// disruption budgets' labels experimental).
const FAMILIES: [Families; 15] = [
    stable(
        "cronjobs",
        "kube_cronjob_labels",
        "kube_cronjob_annotations",
    ),
    stable(
        "daemonsets",
        "kube_daemonset_labels",
        "kube_daemonset_annotations",
    ),
    stable(
        "deployments",
        "kube_deployment_labels",
        "kube_deployment_annotations",
    ),
    stable(
        "horizontalpodautoscalers",
        "kube_horizontalpodautoscaler_labels",
        "kube_horizontalpodautoscaler_annotations",
    ),
    stable("jobs", "kube_job_labels", "kube_job_annotations"),
    stable(
        "namespaces",
        "kube_namespace_labels",
        "kube_namespace_annotations",
    ),
    stable("nodes", "kube_node_labels", "kube_node_annotations"),
    stable(
        "persistentvolumeclaims",
        "kube_persistentvolumeclaim_labels",
        "kube_persistentvolumeclaim_annotations",
    ),
    stable(
        "persistentvolumes",
        "kube_persistentvolume_labels",
        "kube_persistentvolume_annotations",
    ),
    Families {
        resource: "poddisruptionbudgets",
        labels: gauge_exp("kube_poddisruptionbudget_labels", LABELS_HELP),
        annotations: gauge_exp("kube_poddisruptionbudget_annotations", ANNOTATIONS_HELP),
    },
    stable("pods", "kube_pod_labels", "kube_pod_annotations"),
    stable(
        "replicasets",
        "kube_replicaset_labels",
        "kube_replicaset_annotations",
    ),
    stable(
        "resourcequotas",
        "kube_resourcequota_labels",
        "kube_resourcequota_annotations",
    ),
    stable(
        "services",
        "kube_service_labels",
        "kube_service_annotations",
    ),
    Families {
        resource: "statefulsets",
        labels: gauge("kube_statefulset_labels", LABELS_HELP),
        annotations: gauge("kube_statefulset_annotations", ANNOTATIONS_HELP),
    },
];

/// Adds `kube_<resource>_labels` / `_annotations` of one object with identifying labels
/// `base`, each only when its allowlist names keys for `resource` (kube-state-metrics ≥
/// 2.10 exposes neither by default).
pub(crate) fn render(out: &mut Out, resource: &str, base: &[(&str, &str)], m: &ObjectMeta) {
    let Some(fams) = FAMILIES.iter().find(|f| f.resource == resource) else {
        return;
    };
    let opts = out.options;
    for (metric, prefix, allow, map) in [
        (&fams.labels, "label", opts.labels.get(resource), &m.labels),
        (
            &fams.annotations,
            "annotation",
            opts.annotations.get(resource),
            &m.annotations,
        ),
    ] {
        let Some(allow) = allow.filter(|a| !a.is_empty()) else {
            continue;
        };
        let empty = BTreeMap::new();
        let pairs = prometheus_labels(prefix, allowed(map.as_ref().unwrap_or(&empty), allow));
        let mut l = base.to_vec();
        l.extend(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        fam(out, metric).add(&l, 1.0);
    }
}

/// The entries of `all` whose key `allow` admits: a leading `*` admits all, a later `*`
/// is ignored, a key with one `*` matches any text in its place, others match exactly.
pub fn allowed<'a>(
    all: &'a BTreeMap<String, String>,
    allow: &[String],
) -> BTreeMap<&'a str, &'a str> {
    let mut out = BTreeMap::new();
    for (i, pat) in allow.iter().enumerate() {
        if pat == "*" {
            if i == 0 {
                return all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            }
            continue;
        }
        for (k, v) in all {
            if wildcard_match(pat, k) {
                out.insert(k.as_str(), v.as_str());
            }
        }
    }
    out
}

/// `key` matches `pat` (at most one `*`, standing for any text).
fn wildcard_match(pat: &str, key: &str) -> bool {
    match pat.split_once('*') {
        None => pat == key,
        Some((pre, post)) => {
            key.len() >= pre.len() + post.len() && key.starts_with(pre) && key.ends_with(post)
        }
    }
}

/// Whether an annotation `key` of `resource` is kept in the cache for `allow`.
pub fn keep_key(allow: Option<&Vec<String>>, key: &str) -> bool {
    allow.is_some_and(|a| {
        a.first().is_some_and(|p| p == "*") || a.iter().any(|p| p != "*" && wildcard_match(p, key))
    })
}

/// Prometheus label pairs `<prefix>_<sanitized snake_case key>` for `kv` in key order;
/// names that collide get `_conflict<N>` suffixes (every holder of the name, numbered in
/// key order), as kube-state-metrics' `mapToPrometheusLabels`.
pub fn prometheus_labels(prefix: &str, kv: BTreeMap<&str, &str>) -> Vec<(String, String)> {
    let mut names: Vec<String> = Vec::with_capacity(kv.len());
    let mut values = Vec::with_capacity(kv.len());
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut conflicts: HashMap<String, usize> = HashMap::new();
    for (k, v) in kv {
        let base = format!("{prefix}_{}", snake_case(&sanitize(k)));
        let name = if let Some(count) = conflicts.get_mut(&base) {
            next_free(&base, count, &used)
        } else if let Some(&idx) = used.get(&base) {
            let mut count = 0;
            let renamed = next_free(&base, &mut count, &used);
            used.remove(&base);
            names[idx] = renamed.clone();
            used.insert(renamed, idx);
            let name = next_free(&base, &mut count, &used);
            conflicts.insert(base, count);
            name
        } else {
            base
        };
        used.insert(name.clone(), names.len());
        names.push(name);
        values.push(v.to_string());
    }
    names.into_iter().zip(values).collect()
}

/// `<base>_conflict<N>` for the next `N` not in `used`.
fn next_free(base: &str, count: &mut usize, used: &HashMap<String, usize>) -> String {
    loop {
        *count += 1;
        let name = format!("{base}_conflict{count}");
        if !used.contains_key(&name) {
            return name;
        }
    }
}

/// Every character outside `[a-zA-Z0-9_]` replaced by `_`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Go's `([a-z0-9])([A-Z])` → `${1}_${2}` (non-overlapping, left to right), lowercased.
fn snake_case(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 4);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if (c.is_ascii_lowercase() || c.is_ascii_digit())
            && b.get(i + 1).is_some_and(u8::is_ascii_uppercase)
        {
            out.push(c as char);
            out.push('_');
            out.push(b[i + 1].to_ascii_lowercase() as char);
            i += 2;
        } else {
            out.push(c.to_ascii_lowercase() as char);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn names(kv: &[(&str, &str)]) -> Vec<String> {
        let m = map(kv);
        let kv = m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        prometheus_labels("label", kv)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    #[test]
    fn names_are_sanitized_and_snake_cased() {
        assert_eq!(
            names(&[
                ("app.kubernetes.io/name", "x"),
                ("teamName", "y"),
                ("ABc", "z")
            ]),
            [
                "label_abc",
                "label_app_kubernetes_io_name",
                "label_team_name"
            ]
        );
        assert_eq!(snake_case("aBC"), "a_bc");
        assert_eq!(snake_case("a1B2cD"), "a1_b2c_d");
    }

    #[test]
    fn collisions_get_conflict_suffixes() {
        assert_eq!(
            names(&[("a-b", "1"), ("a.b", "2"), ("a/b", "3")]),
            [
                "label_a_b_conflict1",
                "label_a_b_conflict2",
                "label_a_b_conflict3"
            ]
        );
        // A generated name that another key already sanitized to is skipped.
        assert_eq!(
            names(&[("a-b", "1"), ("a-b_conflict1", "2"), ("a.b", "3")]),
            [
                "label_a_b_conflict2",
                "label_a_b_conflict1",
                "label_a_b_conflict3"
            ]
        );
    }

    #[test]
    fn allowlist_wildcards() {
        let all = map(&[
            ("app", "a"),
            ("team-x", "b"),
            ("team-y", "c"),
            ("tier", "d"),
        ]);
        let keys = |allow: &[&str]| -> Vec<String> {
            let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
            allowed(&all, &allow)
                .keys()
                .map(|k| k.to_string())
                .collect()
        };
        assert_eq!(keys(&["*"]), ["app", "team-x", "team-y", "tier"]);
        assert_eq!(keys(&["app", "*"]), ["app"]);
        assert_eq!(keys(&["team-*", "missing"]), ["team-x", "team-y"]);
        assert_eq!(keys(&["*er"]), ["tier"]);
        assert!(keep_key(Some(&vec!["team-*".into()]), "team-x"));
        assert!(!keep_key(Some(&vec!["app".into(), "*".into()]), "team-x"));
        assert!(!keep_key(None, "app"));
    }
}
