//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`) as numbers, and the `resource` /
//! `unit` labels kube-state-metrics gives each resource name.

/// The value of a quantity string, or `None` when it is not a valid quantity.
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse::<i32>().ok()?),
        _ => return None,
    };
    let v = num * mult;
    v.is_finite().then_some(v)
}

/// Cores of a CPU quantity, rounded up to the millicore as Kubernetes' `MilliValue`.
pub fn cores(q: &str) -> Option<f64> {
    parse(q).map(|v| (v * 1000.0 - 1e-9).ceil() / 1000.0)
}

/// The whole units of a quantity, rounded up as Kubernetes' `Value`.
pub fn whole(q: &str) -> Option<f64> {
    parse(q).map(|v| (v - 1e-9).ceil())
}

/// `(resource label, unit label, value)` of a container's or node's resource, as
/// kube-state-metrics names them: `cpu`/`core`, `memory`/`byte`, `pods`/`integer`,
/// `ephemeral_storage`/`byte`, huge pages and attachable volumes in bytes, extended
/// resources (`nvidia.com/gpu` → `nvidia_com_gpu`) as `integer`. `None` for resources it
/// does not report or invalid quantities.
pub fn resource(name: &str, q: &str) -> Option<(String, &'static str, f64)> {
    let (label, unit, v) = match name {
        "cpu" => ("cpu".to_string(), "core", cores(q)?),
        "memory" => ("memory".to_string(), "byte", whole(q)?),
        "storage" => ("storage".to_string(), "byte", whole(q)?),
        "ephemeral-storage" => ("ephemeral_storage".to_string(), "byte", whole(q)?),
        "pods" => ("pods".to_string(), "integer", whole(q)?),
        n if n.starts_with("hugepages-") || n.starts_with("attachable-volumes-") => {
            (sanitize(n), "byte", whole(q)?)
        }
        n if is_extended(n) => (sanitize(n), "integer", whole(q)?),
        _ => return None,
    };
    Some((label, unit, v))
}

/// A domain-qualified name outside `kubernetes.io` (and not a quota's `requests.` name).
fn is_extended(name: &str) -> bool {
    match name.split_once('/') {
        Some((domain, _)) => {
            !(domain == "kubernetes.io"
                || domain.ends_with(".kubernetes.io")
                || name.starts_with("requests."))
        }
        None => false,
    }
}

/// A valid Prometheus label value-like name: every character outside `[a-zA-Z0-9_]`
/// becomes `_`.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse("500m"), Some(0.5));
        assert_eq!(parse("1Gi"), Some(1073741824.0));
        assert_eq!(parse("128974848"), Some(128974848.0));
        assert_eq!(parse("129e6"), Some(129e6));
        assert_eq!(parse("1.5k"), Some(1500.0));
        assert_eq!(parse("12Zi"), None);
        assert_eq!(parse(""), None);
        assert_eq!(cores("250m"), Some(0.25));
        assert_eq!(cores("1n"), Some(0.001));
        assert_eq!(whole("1.5"), Some(2.0));
    }

    #[test]
    fn resource_names() {
        assert_eq!(resource("cpu", "2"), Some(("cpu".into(), "core", 2.0)));
        assert_eq!(
            resource("nvidia.com/gpu", "1"),
            Some(("nvidia_com_gpu".into(), "integer", 1.0))
        );
        assert_eq!(
            resource("hugepages-2Mi", "2Mi"),
            Some(("hugepages_2Mi".into(), "byte", 2097152.0))
        );
        assert_eq!(resource("example.kubernetes.io/x", "1"), None);
        assert_eq!(resource("cpu", "bogus"), None);
    }
}
