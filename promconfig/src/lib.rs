//! Building blocks of Prometheus configuration files shared by the store, the rules
//! notifier and the agent: durations, and HTTP clients (`basic_auth`, `authorization`,
//! `bearer_token(_file)`, `tls_config`) with secrets that never print.

mod auth;
mod http;
mod secret;
mod tls;

pub use auth::{Authorization, BasicAuth};
pub use http::HttpClientConfig;
pub use secret::Secret;
pub use tls::TlsConfig;

/// Why an HTTP client could not be configured or authenticate; never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A credentials or TLS file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A TLS file or setting is invalid.
    #[error("tls_config: {0}")]
    Tls(String),
    /// The settings contradict each other.
    #[error("{0}")]
    Config(String),
}

/// Milliseconds in one duration unit (`ms`, `s`, `m`, `h`, `d`, `w`, `y`).
fn unit_ms(u: &str) -> Option<i64> {
    Some(match u {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        "y" => 365 * 86_400_000,
        _ => return None,
    })
}

/// Parses a Prometheus duration (`1h30m`, `5m`, `100ms`, `0`) into milliseconds; units
/// must come in decreasing order, each once, as Prometheus requires.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    if s == "0" {
        return Some(0);
    }
    let mut i = 0;
    let mut total: i64 = 0;
    let mut last_unit = i64::MAX;
    while i < b.len() {
        let ns = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if ns == i {
            return None;
        }
        let n: i64 = s[ns..i].parse().ok()?;
        let us = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        // "ms" vs "m" followed by another number: units are maximal alphabetic runs.
        let u = unit_ms(&s[us..i])?;
        if u >= last_unit {
            return None;
        }
        last_unit = u;
        total = total.checked_add(n.checked_mul(u)?)?;
    }
    Some(total)
}

/// Formats milliseconds as a Prometheus duration, largest units first (`1h30m`, `500ms`,
/// `0s`; negative with a leading `-`).
pub fn format_duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms.unsigned_abs();
    if ms < 0 {
        out.push('-');
    }
    for (u, n) in [
        ("y", 365 * 86_400_000u64),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if rest >= n {
            out.push_str(&format!("{}{}", rest / n, u));
            rest %= n;
        }
    }
    out
}

/// [`parse_duration_ms`] as a `Duration` (negative durations cannot be written).
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    parse_duration_ms(s).map(|ms| std::time::Duration::from_millis(ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms("100ms"), Some(100));
        assert_eq!(parse_duration_ms("0"), Some(0));
        assert_eq!(parse_duration_ms("1m1h"), None);
        assert_eq!(parse_duration_ms("5"), None);
        assert_eq!(format_duration_ms(5_400_000), "1h30m");
        assert_eq!(format_duration_ms(-90_500), "-1m30s500ms");
        assert_eq!(format_duration_ms(0), "0s");
        assert_eq!(parse_duration_ms(""), None);
    }
}
