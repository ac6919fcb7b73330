//! kube-state-metrics' selection flags: `--resources`, `--namespaces`,
//! `--namespaces-denylist`, `--metric-labels-allowlist`, `--metric-annotations-allowlist`,
//! `--metric-allowlist` and `--metric-denylist`.

use std::collections::BTreeMap;

use crate::Error;

/// The resources this crate watches, by kube-state-metrics' plural names.
pub const RESOURCES: [&str; 15] = [
    "cronjobs",
    "daemonsets",
    "deployments",
    "horizontalpodautoscalers",
    "jobs",
    "namespaces",
    "nodes",
    "persistentvolumeclaims",
    "persistentvolumes",
    "poddisruptionbudgets",
    "pods",
    "replicasets",
    "resourcequotas",
    "services",
    "statefulsets",
];

/// kube-state-metrics' resources that this crate does not watch: accepted in `--resources`
/// (with a warning), so that a kube-state-metrics command line works unchanged.
const UNSUPPORTED: &[&str] = &[
    "certificatesigningrequests",
    "configmaps",
    "endpoints",
    "endpointslices",
    "ingressclasses",
    "ingresses",
    "leases",
    "limitranges",
    "mutatingwebhookconfigurations",
    "networkpolicies",
    "replicationcontrollers",
    "secrets",
    "serviceaccounts",
    "storageclasses",
    "validatingwebhookconfigurations",
    "volumeattachments",
    "clusterroles",
    "clusterrolebindings",
    "roles",
    "rolebindings",
];

/// Label or annotation keys allowed per resource (`pods=[app,team],namespaces=[*]`).
pub type AllowList = BTreeMap<String, Vec<String>>;

/// Which resources are watched, which metrics are kept and which Kubernetes labels and
/// annotations become `label_*` / `annotation_*` labels.
#[derive(Clone, Debug)]
pub struct Options {
    /// Enabled resources (a subset of [`RESOURCES`]).
    pub resources: Vec<&'static str>,
    /// Label keys per enabled resource for `kube_<resource>_labels`.
    pub labels: AllowList,
    /// Annotation keys per enabled resource for `kube_<resource>_annotations`.
    pub annotations: AllowList,
    /// Metric name filter.
    pub metrics: MetricFilter,
    /// The zone of cron schedules without one (kube-state-metrics' `time.Local`).
    pub local_tz: jiff::tz::TimeZone,
    /// Namespaces whose namespaced objects are watched, one watch each (empty: all).
    pub namespaces: Vec<String>,
    /// Namespaces left out of the all-namespaces watches (a field selector).
    pub namespaces_denylist: Vec<String>,
}

impl Default for Options {
    /// Every resource, no labels or annotations metrics, every metric.
    fn default() -> Options {
        Options {
            resources: RESOURCES.to_vec(),
            labels: AllowList::new(),
            annotations: AllowList::new(),
            metrics: MetricFilter::default(),
            local_tz: jiff::tz::TimeZone::system(),
            namespaces: Vec::new(),
            namespaces_denylist: Vec::new(),
        }
    }
}

/// The flag values as given on the command line (empty: not given).
#[derive(Clone, Debug, Default)]
pub struct Flags {
    /// `--resources`: comma-separated plural resource names (empty: all).
    pub resources: String,
    /// `--metric-labels-allowlist`.
    pub labels_allowlist: String,
    /// `--metric-annotations-allowlist`.
    pub annotations_allowlist: String,
    /// `--metric-allowlist`: comma-separated regular expressions.
    pub metric_allowlist: String,
    /// `--metric-denylist`: comma-separated regular expressions.
    pub metric_denylist: String,
    /// `--namespaces`: comma-separated namespaces to watch (empty: all).
    pub namespaces: String,
    /// `--namespaces-denylist`: comma-separated namespaces not to watch.
    pub namespaces_denylist: String,
}

impl Options {
    /// Validates `flags` as kube-state-metrics does: unknown resources, malformed lists,
    /// both an allow- and a denylist, and a bad regular expression are errors; a `*`
    /// resource in an allowlist stands for every enabled resource.
    pub fn from_flags(flags: &Flags) -> Result<Options, Error> {
        let mut resources = Vec::new();
        for r in split_list(&flags.resources) {
            match RESOURCES.iter().find(|k| **k == r) {
                Some(k) if !resources.contains(k) => resources.push(*k),
                Some(_) => {}
                None if UNSUPPORTED.contains(&r) => {
                    tracing::warn!(resource = r, "resource not supported by vitals; ignored")
                }
                None => return Err(Error::UnknownResource(r.to_string())),
            }
        }
        if resources.is_empty() {
            resources = RESOURCES.to_vec();
        }
        resources.sort_unstable();
        let labels = expand(parse_allowlist(&flags.labels_allowlist)?, &resources)?;
        let annotations = expand(parse_allowlist(&flags.annotations_allowlist)?, &resources)?;
        let metrics = MetricFilter::new(&flags.metric_allowlist, &flags.metric_denylist)?;
        let mut namespaces_denylist: Vec<String> = split_list(&flags.namespaces_denylist)
            .map(String::from)
            .collect();
        namespaces_denylist.sort();
        namespaces_denylist.dedup();
        let mut namespaces: Vec<String> = split_list(&flags.namespaces).map(String::from).collect();
        namespaces.sort();
        namespaces.dedup();
        // Both given: the listed namespaces without the denied ones (kube-state-metrics).
        if !namespaces.is_empty() {
            namespaces.retain(|n| !namespaces_denylist.contains(n));
            if namespaces.is_empty() {
                return Err(Error::NoNamespaces);
            }
            namespaces_denylist.clear();
        }
        Ok(Options {
            resources,
            labels,
            annotations,
            metrics,
            namespaces,
            namespaces_denylist,
            ..Options::default()
        })
    }

    /// Whether `resource` is watched.
    pub fn enabled(&self, resource: &str) -> bool {
        self.resources.contains(&resource)
    }
}

/// The non-empty, trimmed items of a comma-separated list.
fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

/// Checks the resources of `list` and replaces a `*` resource by every enabled one (it
/// takes precedence over the others, as in kube-state-metrics).
fn expand(list: AllowList, enabled: &[&str]) -> Result<AllowList, Error> {
    for r in list.keys() {
        if r != "*" && !RESOURCES.contains(&r.as_str()) && !UNSUPPORTED.contains(&r.as_str()) {
            return Err(Error::UnknownResource(r.clone()));
        }
    }
    match list.get("*") {
        Some(keys) => Ok(enabled
            .iter()
            .map(|r| (r.to_string(), keys.clone()))
            .collect()),
        None => Ok(list),
    }
}

/// Parses `resource=[key,key],resource=[key]` exactly as kube-state-metrics'
/// `LabelsAllowList.Set`: `=` must follow a name and precede `[`, `]` must end the value
/// or precede `,`, no empty items; each key holds at most one `*`.
pub fn parse_allowlist(value: &str) -> Result<AllowList, Error> {
    let bad = || Error::AllowListFormat(value.to_string());
    let chars: Vec<char> = value.chars().collect();
    let text = |a: usize, b: usize| chars[a..b].iter().collect::<String>().trim().to_string();
    let mut m = AllowList::new();
    let (mut first, mut name) = (0usize, String::new());
    for (i, &v) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let prev = if i > 0 { chars[i - 1] } else { v };
        match v {
            '=' => {
                if prev == ',' || next != Some('[') {
                    return Err(bad());
                }
                name = text(first, i);
                m.insert(name.clone(), Vec::new());
                first = i + 1;
            }
            '[' => {
                if prev != '=' {
                    return Err(bad());
                }
                first = i + 1;
            }
            ']' => {
                if next.is_some() && next != Some(',') {
                    return Err(bad());
                }
                if prev != '[' {
                    m.entry(name.clone()).or_default().push(text(first, i));
                }
                first = i + 1;
            }
            ',' => {
                if prev == v || next.is_none() || next == Some(']') {
                    return Err(bad());
                }
                if prev != ']' {
                    m.entry(name.clone()).or_default().push(text(first, i));
                }
                first = i + 1;
            }
            _ => {}
        }
    }
    if m.values().flatten().any(|k| k.matches('*').count() > 1) {
        return Err(Error::AllowListWildcards(value.to_string()));
    }
    Ok(m)
}

/// `--metric-allowlist` / `--metric-denylist`: regular expressions matched anywhere in a
/// metric name (as kube-state-metrics' unanchored `MatchString`); at most one list.
#[derive(Clone, Debug, Default)]
pub struct MetricFilter {
    patterns: Vec<regex::Regex>,
    allow: bool,
}

impl MetricFilter {
    /// A filter from the comma-separated lists `allow` and `deny` (both empty: keep all).
    pub fn new(allow: &str, deny: &str) -> Result<MetricFilter, Error> {
        let (a, d): (Vec<_>, Vec<_>) = (split_list(allow).collect(), split_list(deny).collect());
        if !a.is_empty() && !d.is_empty() {
            return Err(Error::AllowAndDeny);
        }
        let allow = !a.is_empty();
        let mut patterns = Vec::new();
        for p in if allow { a } else { d } {
            patterns.push(regex::Regex::new(p).map_err(|e| Error::MetricRegex(e.to_string()))?);
        }
        patterns.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        patterns.dedup_by(|x, y| x.as_str() == y.as_str());
        Ok(MetricFilter { patterns, allow })
    }

    /// Whether the family `name` is exposed.
    pub fn includes(&self, name: &str) -> bool {
        let matched = self.patterns.iter().any(|r| r.is_match(name));
        if self.allow {
            matched
        } else {
            !matched
        }
    }

    /// Whether every family is exposed.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &[&str])]) -> AllowList {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn allowlists_parse_as_kube_state_metrics() {
        assert_eq!(
            parse_allowlist("pods=[app,team],namespaces=[*]").unwrap(),
            list(&[("pods", &["app", "team"]), ("namespaces", &["*"])])
        );
        assert_eq!(
            parse_allowlist("pods=[app.kubernetes.io/name, k8s-app ]").unwrap(),
            list(&[("pods", &["app.kubernetes.io/name", "k8s-app"])])
        );
        assert_eq!(parse_allowlist("pods=[]").unwrap(), list(&[("pods", &[])]));
        assert_eq!(parse_allowlist("").unwrap(), AllowList::new());
        for bad in [
            "pods=app",
            "pods=[a]x",
            "pods=[a,]",
            "pods=[a,,b]",
            ",pods=[a]",
            "pods=[a],",
            "pods[a]",
        ] {
            assert!(parse_allowlist(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_allowlist("pods=[*a*]"),
            Err(Error::AllowListWildcards(_))
        ));
        assert!(parse_allowlist("pods=[team-*]").is_ok());
    }

    #[test]
    fn options_validate_and_expand() {
        let o = Options::from_flags(&Flags {
            resources: "pods, nodes,configmaps".into(),
            labels_allowlist: "*=[app]".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(o.resources, ["nodes", "pods"]);
        assert_eq!(o.labels, list(&[("nodes", &["app"]), ("pods", &["app"])]));
        assert!(o.enabled("pods") && !o.enabled("jobs"));
        assert!(matches!(
            Options::from_flags(&Flags {
                resources: "pods,widgets".into(),
                ..Default::default()
            }),
            Err(Error::UnknownResource(r)) if r == "widgets"
        ));
        assert!(matches!(
            Options::from_flags(&Flags {
                labels_allowlist: "widgets=[a]".into(),
                ..Default::default()
            }),
            Err(Error::UnknownResource(_))
        ));
        assert_eq!(
            Options::from_flags(&Flags::default())
                .unwrap()
                .resources
                .len(),
            15
        );
    }

    #[test]
    fn metric_filters() {
        let all = MetricFilter::new("", "").unwrap();
        assert!(all.includes("kube_pod_info") && all.is_empty());
        let deny = MetricFilter::new("", "kube_pod_container_.*, kube_node_info").unwrap();
        assert!(!deny.includes("kube_pod_container_info"));
        assert!(!deny.includes("kube_node_info"));
        assert!(deny.includes("kube_pod_info"));
        let allow = MetricFilter::new("^kube_pod_info$", "").unwrap();
        assert!(allow.includes("kube_pod_info") && !allow.includes("kube_pod_info_x"));
        // Unanchored, as kube-state-metrics matches.
        let allow = MetricFilter::new("pod_info", "").unwrap();
        assert!(allow.includes("kube_pod_info"));
        assert!(matches!(
            MetricFilter::new("a", "b"),
            Err(Error::AllowAndDeny)
        ));
        assert!(matches!(
            MetricFilter::new("(", ""),
            Err(Error::MetricRegex(_))
        ));
    }
}
