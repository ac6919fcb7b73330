//! Kubeconform-style schema validation of `deploy/`: every manifest must deserialize into the
//! Kubernetes API type of its `apiVersion`/`kind` (k8s-openapi, generated from the
//! Kubernetes 1.33 OpenAPI schema) and serialize back to the same document, so a misspelt
//! or unknown field, a wrong type or a missing required field fails. `kubectl apply
//! --dry-run=client` cannot run here: it downloads the schema from an API server. Checked:
//! every file a kustomization lists under `resources`, and, when kubectl is on PATH, the
//! output of `kubectl kustomize` for the base and the overlay (generators and patches applied).

mod common;

use common::manifests::{docs, kubectl, kustomize, root};
use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, rbac::v1 as rbac};
use k8s_openapi::Resource;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// `doc` deserialized as `T` and serialized back.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    doc: &Json,
) -> Result<Json, String> {
    let typed: T = serde_json::from_value(doc.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

/// Round-trips `doc` through the API type its `apiVersion` and `kind` name.
fn typed_round_trip(doc: &Json) -> Result<Json, String> {
    let api = doc["apiVersion"].as_str().unwrap_or("");
    let kind = doc["kind"].as_str().unwrap_or("");
    macro_rules! by_kind {
        ($($t:ty),*) => {
            $(if api == <$t>::API_VERSION && kind == <$t>::KIND {
                return round_trip::<$t>(doc);
            })*
        };
    }
    by_kind!(
        core::Namespace,
        core::ConfigMap,
        core::Secret,
        core::Service,
        core::ServiceAccount,
        core::PersistentVolumeClaim,
        apps::DaemonSet,
        apps::StatefulSet,
        apps::Deployment,
        rbac::ClusterRole,
        rbac::ClusterRoleBinding,
        rbac::Role,
        rbac::RoleBinding
    );
    Err(format!("no schema for apiVersion {api:?} kind {kind:?}"))
}

/// The first place where `after` (the typed round trip) differs from `before`; a null in
/// `before` equals an absent field (YAML `key:` with no value).
fn first_difference(before: &Json, after: &Json, path: &str) -> Option<String> {
    match (before, after) {
        (Json::Object(b), Json::Object(a)) => {
            for (k, v) in b {
                let at = format!("{path}.{k}");
                match a.get(k) {
                    None if v.is_null() => {}
                    None => return Some(format!("{at}: not a field of this type")),
                    Some(w) => {
                        if let Some(d) = first_difference(v, w, &at) {
                            return Some(d);
                        }
                    }
                }
            }
            // Embedded resources (a StatefulSet's volumeClaimTemplates) come back with their
            // apiVersion and kind, which the API server accepts either way.
            a.keys()
                .find(|k| {
                    !b.contains_key(*k)
                        && (path.is_empty() || !matches!(k.as_str(), "apiVersion" | "kind"))
                })
                .map(|k| format!("{path}.{k}: required field missing (added by the type)"))
        }
        (Json::Array(b), Json::Array(a)) if b.len() == a.len() => b
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, &format!("{path}[{i}]"))),
        (Json::Number(b), Json::Number(a)) if b.as_f64() == a.as_f64() => None,
        _ if before == after => None,
        _ => Some(format!("{path}: {before} became {after}")),
    }
}

/// Problems of one manifest; empty when it is valid.
fn validate(doc: &serde_yaml::Value, at: &str) -> Vec<String> {
    let json: Json = match serde_json::to_value(doc) {
        Ok(j) => j,
        Err(e) => return vec![format!("{at}: not JSON-representable: {e}")],
    };
    let what = format!(
        "{at}: {} {}",
        json["kind"].as_str().unwrap_or("?"),
        json["metadata"]["name"].as_str().unwrap_or("?")
    );
    match typed_round_trip(&json) {
        Err(e) => vec![format!("{what}: {e}")],
        Ok(back) => first_difference(&json, &back, "")
            .map(|d| format!("{what}: {d}"))
            .into_iter()
            .collect(),
    }
}

/// Every file listed under `resources` of a kustomization below `dir` (directories are
/// other kustomizations, found on their own).
fn listed_resources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            listed_resources(&p, out);
        } else if p.file_name().unwrap() == "kustomization.yaml" {
            let k: serde_yaml::Value =
                serde_yaml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            for r in k["resources"].as_sequence().into_iter().flatten() {
                let f = dir.join(r.as_str().unwrap());
                if f.is_file() {
                    out.push(f);
                }
            }
        }
    }
    out.sort();
}

fn assert_valid(docs: &[(String, serde_yaml::Value)]) {
    let problems: Vec<String> = docs.iter().flat_map(|(at, d)| validate(d, at)).collect();
    assert!(
        problems.is_empty(),
        "schema problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn listed_manifests_match_the_kubernetes_schema() {
    let mut files = Vec::new();
    listed_resources(&root().join("deploy"), &mut files);
    let mut all = Vec::new();
    for f in &files {
        let at = f.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        all.extend(docs(&text, &at).into_iter().map(|d| (at.clone(), d)));
    }
    assert!(files.len() >= 10 && all.len() >= 14, "{files:?}");
    assert_valid(&all);
    eprintln!(
        "{} manifests in {} files match the schema",
        all.len(),
        files.len()
    );
}

#[test]
fn kustomize_builds_match_the_kubernetes_schema() {
    let Some(kubectl) = kubectl() else {
        return;
    };
    for dir in ["deploy/kubernetes", "deploy/overlays/nodeport-gpu"] {
        let built = kustomize(&kubectl, &root(), dir);
        assert!(built.len() >= 14, "{dir}: {} documents", built.len());
        let n = built.len();
        assert_valid(
            &built
                .into_iter()
                .map(|d| (dir.to_string(), d))
                .collect::<Vec<_>>(),
        );
        eprintln!("kubectl kustomize {dir}: {n} manifests match the schema");
    }
}

/// The check fails on what kubeconform rejects: a misspelt field, a wrong type, a missing
/// required field, an unknown kind.
#[test]
fn schema_check_rejects_broken_manifests() {
    let base = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: x}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
        - name: agent
          image: vitals
"#;
    let ok = docs(base, "ok").remove(0);
    assert!(validate(&ok, "ok").is_empty(), "{:?}", validate(&ok, "ok"));
    for (broken, want) in [
        (
            base.replace("image: vitals", "imag: vitals"),
            ".imag: not a field",
        ),
        (
            base.replace(
                "image: vitals",
                "image: vitals\n          ports: [{containerPort: \"web\"}]",
            ),
            "invalid type",
        ),
        (
            base.replace("        - name: agent\n", "        - \n"),
            "containers[0].name: required field missing",
        ),
        (
            base.replace("kind: DaemonSet", "kind: DaemonSett"),
            "no schema",
        ),
        (base.replace("apps/v1", "apps/v1beta2"), "no schema"),
    ] {
        let d = docs(&broken, "broken").remove(0);
        let problems = validate(&d, "broken");
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "{want:?} not in {problems:?}\n{broken}"
        );
    }
}
