//! Targets: discovered groups turned into scrape targets by target relabeling, as
//! Prometheus' `PopulateLabels` does.

use std::time::Duration;

use crate::config::{format_duration, parse_duration, GlobalConfig, ScrapeConfig};
use crate::relabel::{process, LabelSet, Rule};

/// A group of discovered targets sharing labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetGroup {
    /// Identifies the group within its provider (a later group with the same source replaces it).
    pub source: String,
    /// One label set per target, each with `__address__`.
    pub targets: Vec<LabelSet>,
    /// Labels of every target (a target's own labels win).
    pub labels: LabelSet,
}

/// A target ready to scrape.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// The public labels (no `__` prefix), `instance` and `job` included.
    pub labels: Vec<(String, String)>,
    /// The URL scraped.
    pub url: String,
    /// Scrape interval.
    pub interval: Duration,
    /// Scrape timeout.
    pub timeout: Duration,
}

/// Builds the targets of one scrape config from discovered groups; targets dropped by
/// relabeling or without an address are left out (the latter logged).
pub fn targets(
    sc: &ScrapeConfig,
    g: &GlobalConfig,
    rules: &[Rule],
    groups: &[TargetGroup],
) -> Vec<Target> {
    let mut out = Vec::new();
    for grp in groups {
        for t in &grp.targets {
            let mut ls = grp.labels.clone();
            ls.extend(t.iter().map(|(n, v)| (n.clone(), v.clone())));
            match populate(sc, g, rules, ls) {
                Ok(Some(t)) => out.push(t),
                Ok(None) => {}
                Err(e) => tracing::warn!(job = %sc.job_name, error = %e, "target dropped"),
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Applies defaults and relabeling to one discovered label set.
pub fn populate(
    sc: &ScrapeConfig,
    g: &GlobalConfig,
    rules: &[Rule],
    mut ls: LabelSet,
) -> Result<Option<Target>, String> {
    let defaults = [
        ("job", sc.job_name.clone()),
        ("__scheme__", sc.scheme.clone()),
        ("__metrics_path__", sc.metrics_path.clone()),
        ("__scrape_interval__", format_duration(sc.interval(g))),
        ("__scrape_timeout__", format_duration(sc.timeout(g))),
    ];
    for (n, v) in defaults {
        ls.entry(n.to_string()).or_insert(v);
    }
    for (k, vs) in &sc.params {
        if let Some(v) = vs.first() {
            ls.entry(format!("__param_{k}"))
                .or_insert_with(|| v.clone());
        }
    }
    let Some(mut ls) = process(ls, rules) else {
        return Ok(None);
    };
    let addr = ls.get("__address__").cloned().unwrap_or_default();
    if addr.is_empty() {
        return Err("no address".into());
    }
    let scheme = ls.get("__scheme__").cloned().unwrap_or_default();
    let addr = with_port(&addr, &scheme)?;
    ls.insert("__address__".into(), addr.clone());
    let dur = |name: &str| -> Result<Duration, String> {
        let v = ls.get(name).map(String::as_str).unwrap_or("");
        parse_duration(v).ok_or_else(|| format!("error parsing {name} {v:?}"))
    };
    let interval = dur("__scrape_interval__")?;
    let timeout = dur("__scrape_timeout__")?;
    if interval.is_zero() || timeout > interval {
        return Err(format!(
            "scrape timeout {timeout:?} greater than interval {interval:?}"
        ));
    }
    ls.retain(|n, _| !n.starts_with("__meta_"));
    if ls.get("instance").is_none_or(|v| v.is_empty()) {
        ls.insert("instance".into(), addr.clone());
    }
    let path = ls.get("__metrics_path__").cloned().unwrap_or_default();
    let mut query: Vec<(String, String)> = Vec::new();
    for (k, vs) in &sc.params {
        let first = ls.get(&format!("__param_{k}")).cloned();
        for (i, v) in vs.iter().enumerate() {
            let v = if i == 0 {
                first.clone().unwrap_or_else(|| v.clone())
            } else {
                v.clone()
            };
            query.push((k.clone(), v));
        }
    }
    for (n, v) in &ls {
        if let Some(k) = n.strip_prefix("__param_") {
            if !sc.params.contains_key(k) {
                query.push((k.to_string(), v.clone()));
            }
        }
    }
    let mut url = format!("{scheme}://{addr}{path}");
    if !query.is_empty() {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect();
        url.push(if path.contains('?') { '&' } else { '?' });
        url.push_str(&q.join("&"));
    }
    let labels = ls
        .into_iter()
        .filter(|(n, v)| !n.starts_with("__") && !v.is_empty())
        .collect();
    Ok(Some(Target {
        labels,
        url,
        interval,
        timeout,
    }))
}

/// Adds the scheme's default port when the address has none (Prometheus 2.x).
fn with_port(addr: &str, scheme: &str) -> Result<String, String> {
    if addr.contains('/') || addr.contains('@') {
        return Err(format!("{addr:?} is not a valid hostname"));
    }
    let has_port = if addr.starts_with('[') {
        addr.contains("]:")
    } else {
        addr.contains(':')
    };
    if has_port {
        return Ok(addr.to_string());
    }
    match scheme {
        "http" | "" => Ok(format!("{addr}:80")),
        "https" => Ok(format!("{addr}:443")),
        s => Err(format!("invalid scheme {s:?}")),
    }
}

/// Percent-encodes a query component.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use crate::relabel::compile_all;

    fn one(yaml: &str, target: &[(&str, &str)]) -> Result<Option<Target>, String> {
        let l = parse(yaml, "t").unwrap();
        let sc = &l.config.scrape_configs[0];
        let rules = compile_all(&sc.relabel_configs).unwrap();
        let ls = target
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        populate(sc, &l.config.global, &rules, ls)
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_url() {
        let t = one(
            "scrape_configs: [{job_name: j, params: {module: [a, b]}}]",
            &[("__address__", "h"), ("__meta_x", "y"), ("zone", "z")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            t.labels,
            labels(&[("instance", "h:80"), ("job", "j"), ("zone", "z")])
        );
        assert_eq!(t.url, "http://h:80/metrics?module=a&module=b");
        assert_eq!(t.interval, Duration::from_secs(60));
    }

    #[test]
    fn relabeling_controls_the_target() {
        let yaml = "scrape_configs:
- job_name: k
  relabel_configs:
  - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], regex: 'true', action: keep}
  - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path], regex: '(.+)', target_label: __metrics_path__}
  - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scheme], regex: '(https?)', target_label: __scheme__}
  - {source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port], regex: '([^:]+)(?::\\d+)?;(\\d+)', replacement: '$1:$2', target_label: __address__}
  - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
  - {target_label: __param_target, replacement: 'x y'}
  - {target_label: __scrape_interval__, replacement: 15s}
";
        let pod = [
            ("__address__", "10.1.2.3:8080"),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "true",
            ),
            ("__meta_kubernetes_pod_annotation_prometheus_io_path", "/m"),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_scheme",
                "https",
            ),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_port",
                "9000",
            ),
            ("__meta_kubernetes_pod_name", "web-1"),
        ];
        let t = one(yaml, &pod).unwrap().unwrap();
        assert_eq!(t.url, "https://10.1.2.3:9000/m?target=x%20y");
        assert_eq!(
            t.labels,
            labels(&[
                ("instance", "10.1.2.3:9000"),
                ("job", "k"),
                ("pod", "web-1")
            ])
        );
        assert_eq!(t.interval, Duration::from_secs(15));
        assert_eq!(one(yaml, &pod[..1]).unwrap(), None);
        assert!(one("scrape_configs: [{job_name: j}]", &[("a", "b")]).is_err());
        assert!(one("scrape_configs: [{job_name: j}]", &[("__address__", "h/x")]).is_err());
    }
}
