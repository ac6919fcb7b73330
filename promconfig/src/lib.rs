//! Building blocks of Prometheus configuration files shared by the store, the rules
//! notifier and the agent: durations, and the authentication of HTTP clients.

use base64::Engine as _;
use serde::Deserialize;

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

/// `basic_auth` of an HTTP client config.
#[derive(Clone, Deserialize)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password, inline.
    #[serde(default)]
    pub password: Option<String>,
    /// Password, read from this file at each request.
    #[serde(default)]
    pub password_file: Option<String>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<secret>")
            .finish()
    }
}

/// `authorization` of an HTTP client config.
#[derive(Clone, Deserialize)]
pub struct Authorization {
    /// Scheme, `Bearer` by default.
    #[serde(default = "bearer", rename = "type")]
    pub kind: String,
    /// Credentials, inline.
    #[serde(default)]
    pub credentials: Option<String>,
    /// Credentials, read from this file at each request.
    #[serde(default)]
    pub credentials_file: Option<String>,
}

fn bearer() -> String {
    "Bearer".into()
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("type", &self.kind)
            .field("credentials", &"<secret>")
            .finish()
    }
}

/// The ways an HTTP client config authenticates (at most one is set).
#[derive(Clone, Copy, Default)]
pub struct ClientAuth<'a> {
    /// `basic_auth`.
    pub basic: Option<&'a BasicAuth>,
    /// `authorization`.
    pub authorization: Option<&'a Authorization>,
    /// Legacy `bearer_token`.
    pub bearer_token: Option<&'a str>,
    /// Legacy `bearer_token_file`.
    pub bearer_token_file: Option<&'a str>,
}

impl ClientAuth<'_> {
    /// How many ways are set (a config may set at most one).
    pub fn count(&self) -> usize {
        [
            self.basic.is_some(),
            self.authorization.is_some(),
            self.bearer_token.is_some() || self.bearer_token_file.is_some(),
        ]
        .iter()
        .filter(|&&b| b)
        .count()
    }

    /// The `Authorization` header value, reading secret files now; the error names the
    /// file, never a secret.
    pub fn header(&self) -> Result<Option<String>, String> {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("reading {p}: {e}"))
        };
        let pick = |inline: &Option<String>, file: &Option<String>| match (file, inline) {
            (Some(f), _) => read(f),
            (None, Some(x)) => Ok(x.clone()),
            (None, None) => Ok(String::new()),
        };
        if let Some(b) = self.basic {
            let pw = pick(&b.password, &b.password_file)?;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", b.username, pw));
            return Ok(Some(format!("Basic {token}")));
        }
        if let Some(a) = self.authorization {
            let cred = pick(&a.credentials, &a.credentials_file)?;
            return Ok(Some(format!("{} {cred}", a.kind)));
        }
        match (self.bearer_token_file, self.bearer_token) {
            (Some(f), _) => Ok(Some(format!("Bearer {}", read(f)?))),
            (None, Some(t)) => Ok(Some(format!("Bearer {t}"))),
            (None, None) => Ok(None),
        }
    }
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

    #[test]
    fn headers() {
        let b = BasicAuth {
            username: "user".into(),
            password: Some("pass".into()),
            password_file: None,
        };
        let auth = ClientAuth {
            basic: Some(&b),
            ..Default::default()
        };
        assert_eq!(auth.header().unwrap().unwrap(), "Basic dXNlcjpwYXNz");
        let auth = ClientAuth {
            bearer_token: Some("t"),
            ..Default::default()
        };
        assert_eq!(auth.header().unwrap().unwrap(), "Bearer t");
        let a = Authorization {
            kind: "Bearer".into(),
            credentials: None,
            credentials_file: Some("/nonexistent/secret".into()),
        };
        let auth = ClientAuth {
            authorization: Some(&a),
            ..Default::default()
        };
        let e = auth.header().unwrap_err();
        assert!(e.starts_with("reading /nonexistent/secret"), "{e}");
        assert_eq!(ClientAuth::default().header().unwrap(), None);
    }
}
