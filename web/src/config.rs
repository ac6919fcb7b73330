//! The web configuration file: Prometheus' `--web.config.file` format plus a `vitals:` section.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Error;

/// What a credential may do; each route needs one right (health endpoints none by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Right {
    /// Query API, series/labels/metadata, remote-read, `/federate`, status, `/metrics`, rules.
    Read,
    /// Remote-write.
    Write,
    /// `/-/reload` and the TSDB admin endpoints.
    Admin,
}

/// A set of rights.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Rights(u8);

impl Rights {
    /// Read, write and admin.
    pub const ALL: Rights = Rights(0b111);

    /// The set of `rights`.
    pub fn of(rights: &[Right]) -> Rights {
        Rights(rights.iter().fold(0, |acc, r| acc | Rights::bit(*r)))
    }

    fn bit(r: Right) -> u8 {
        match r {
            Right::Read => 1,
            Right::Write => 2,
            Right::Admin => 4,
        }
    }

    /// Whether `r` is in the set.
    pub fn has(self, r: Right) -> bool {
        self.0 & Rights::bit(r) != 0
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (Right::Read, "read"),
            (Right::Write, "write"),
            (Right::Admin, "admin"),
        ]
        .iter()
        .filter(|(r, _)| self.has(*r))
        .map(|(_, n)| *n)
        .collect();
        write!(f, "[{}]", names.join(","))
    }
}

/// How the server treats client certificates (Go's `tls.ClientAuthType` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    #[default]
    NoClientCert,
    /// A client certificate is verified against the client CA when one is sent.
    VerifyIfGiven,
    /// A client certificate verified against the client CA is required.
    RequireAndVerify,
}

/// Lowest TLS version accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TlsVersion {
    /// TLS 1.2 (also what `TLS10`/`TLS11` give: rustls has nothing older).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// `tls_server_config`, paths resolved against the config file's directory.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsSettings {
    /// PEM certificate chain file.
    pub cert_file: PathBuf,
    /// PEM private key file.
    pub key_file: PathBuf,
    /// PEM CA bundle that client certificates are verified against.
    pub client_ca_file: Option<PathBuf>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
    /// Lowest accepted TLS version.
    pub min_version: TlsVersion,
    /// Whether HTTP/2 is offered by ALPN (`http_server_config.http2`, default true).
    pub http2: bool,
}

/// A bearer token and its rights.
#[derive(Clone, PartialEq)]
pub struct Token {
    /// Name used in logs and 403 messages.
    pub name: String,
    /// The token itself.
    pub secret: String,
    /// What it may do.
    pub rights: Rights,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Token {{ name: {:?}, secret: <secret>, rights: {:?} }}",
            self.name, self.rights
        )
    }
}

/// A basic-auth user: bcrypt hash and rights.
#[derive(Clone, PartialEq)]
pub struct User {
    /// User name.
    pub name: String,
    /// bcrypt hash of the password.
    pub hash: String,
    /// What the user may do (all rights unless `vitals.user_rights` says otherwise).
    pub rights: Rights,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "User {{ name: {:?}, hash: <secret>, rights: {:?} }}",
            self.name, self.rights
        )
    }
}

/// A loaded web configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebConfig {
    /// The file it came from.
    pub path: PathBuf,
    /// TLS settings when `tls_server_config` is set.
    pub tls: Option<TlsSettings>,
    /// Basic-auth users.
    pub users: Vec<User>,
    /// Bearer tokens.
    pub tokens: Vec<Token>,
    /// Whether `/-/healthy` and `/-/ready` need credentials too (`vitals.health_requires_auth`).
    pub health_requires_auth: bool,
    /// Headers added to every response (`http_server_config.headers`).
    pub headers: Vec<(String, String)>,
    /// Settings accepted for compatibility but not applied, to be logged at start-up.
    pub warnings: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    rate_limit: Option<serde_yaml::Value>,
    vitals: Option<RawVitals>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_ca: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVitals {
    #[serde(default)]
    user_rights: BTreeMap<String, Vec<Right>>,
    #[serde(default)]
    bearer_tokens: Vec<RawToken>,
    #[serde(default)]
    health_requires_auth: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: String,
    token: Option<String>,
    token_file: Option<String>,
    rights: Vec<Right>,
}

impl WebConfig {
    /// Reads and checks `path`; errors name the file and, where known, the line.
    pub fn load(path: &Path) -> Result<WebConfig, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        WebConfig::parse(&text, path, base)
    }

    /// Parses `text` (from `path`, for messages); relative file names are taken from `base`.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<WebConfig, Error> {
        let err = |line: usize, msg: String| Error::Config {
            path: path.to_path_buf(),
            line,
            msg,
        };
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| {
                let line = e.location().map_or(0, |l| l.line());
                err(line, redact_yaml_error(&e.to_string()))
            })?
        };
        let at = |key: &str| line_of(text, key);
        let mut cfg = WebConfig {
            path: path.to_path_buf(),
            ..WebConfig::default()
        };
        let vitals = raw.vitals.unwrap_or_default();
        cfg.health_requires_auth = vitals.health_requires_auth;
        for (name, hash) in raw.basic_auth_users.unwrap_or_default() {
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(err(
                    at(&format!("{name}:")),
                    format!("basic_auth_users: the password of {name:?} is not a bcrypt hash"),
                ));
            }
            let rights = vitals
                .user_rights
                .get(&name)
                .map_or(Rights::ALL, |r| Rights::of(r));
            cfg.users.push(User { name, hash, rights });
        }
        for name in vitals.user_rights.keys() {
            if !cfg.users.iter().any(|u| &u.name == name) {
                return Err(err(
                    at("user_rights:"),
                    format!("vitals.user_rights: {name:?} is not in basic_auth_users"),
                ));
            }
        }
        for t in vitals.bearer_tokens {
            let line = at(&format!("name: {}", t.name));
            let secret = match (t.token, t.token_file) {
                (Some(s), None) => s,
                (None, Some(f)) => {
                    let p = base.join(f);
                    let s = std::fs::read_to_string(&p)
                        .map_err(|e| err(line, format!("token_file {}: {e}", p.display())))?;
                    s.trim().to_string()
                }
                _ => {
                    return Err(err(
                        line,
                        format!(
                            "bearer token {:?}: set exactly one of token and token_file",
                            t.name
                        ),
                    ))
                }
            };
            if secret.is_empty() {
                return Err(err(line, format!("bearer token {:?} is empty", t.name)));
            }
            cfg.tokens.push(Token {
                name: t.name,
                secret,
                rights: Rights::of(&t.rights),
            });
        }
        let http = raw.http_server_config.unwrap_or_default();
        cfg.headers = http.headers.unwrap_or_default().into_iter().collect();
        if raw.rate_limit.is_some() {
            cfg.warnings.push("rate_limit is not applied".into());
        }
        if let Some(t) = raw.tls_server_config {
            cfg.tls = tls_settings(t, http.http2.unwrap_or(true), base, &mut cfg.warnings)
                .map_err(|(key, msg)| err(at(key), msg))?;
        }
        Ok(cfg)
    }

    /// Whether any credential is configured (otherwise every request is allowed).
    pub fn has_auth(&self) -> bool {
        !self.users.is_empty() || !self.tokens.is_empty()
    }
}

/// Checks `tls_server_config`; errors are (key to find the line by, message).
fn tls_settings(
    t: RawTls,
    http2: bool,
    base: &Path,
    warnings: &mut Vec<String>,
) -> Result<Option<TlsSettings>, (&'static str, String)> {
    if t.cert.is_some() || t.key.is_some() || t.client_ca.is_some() {
        return Err((
            "tls_server_config:",
            "tls_server_config: inline cert/key/client_ca are not supported; use cert_file, key_file, client_ca_file".into(),
        ));
    }
    let (cert, key) = match (t.cert_file, t.key_file) {
        (None, None) if t.client_ca_file.is_none() && t.client_auth_type.is_none() => {
            return Ok(None)
        }
        (Some(c), Some(k)) => (base.join(c), base.join(k)),
        _ => {
            return Err((
                "tls_server_config:",
                "tls_server_config: both cert_file and key_file are required".into(),
            ))
        }
    };
    for (p, key) in [(&cert, "cert_file:"), (&key, "key_file:")] {
        if !p.is_file() {
            return Err((key, format!("{}: no such file", p.display())));
        }
    }
    let client_auth = match t.client_auth_type.as_deref().unwrap_or("NoClientCert") {
        "" | "NoClientCert" => ClientAuth::NoClientCert,
        "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
        "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerify,
        other @ ("RequestClientCert" | "RequireAnyClientCert") => {
            return Err((
                "client_auth_type:",
                format!("client_auth_type {other}: unverified client certificates are not supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert"),
            ))
        }
        other => return Err(("client_auth_type:", format!("invalid client_auth_type {other:?}"))),
    };
    let client_ca_file = t.client_ca_file.map(|f| base.join(f));
    if client_auth != ClientAuth::NoClientCert && client_ca_file.is_none() {
        return Err((
            "client_auth_type:",
            "client_auth_type needs client_ca_file".into(),
        ));
    }
    if let Some(p) = &client_ca_file {
        if !p.is_file() {
            return Err(("client_ca_file:", format!("{}: no such file", p.display())));
        }
        if client_auth == ClientAuth::NoClientCert {
            warnings.push("client_ca_file is set but client_auth_type is NoClientCert".into());
        }
    }
    let min_version = match t.min_version.as_deref().unwrap_or("TLS12") {
        "TLS10" | "TLS11" => {
            warnings.push("min_version below TLS12: TLS 1.2 is the oldest version offered".into());
            TlsVersion::Tls12
        }
        "TLS12" => TlsVersion::Tls12,
        "TLS13" => TlsVersion::Tls13,
        other => return Err(("min_version:", format!("unknown TLS version {other:?}"))),
    };
    for (set, what) in [
        (t.cipher_suites.is_some(), "cipher_suites"),
        (t.curve_preferences.is_some(), "curve_preferences"),
        (t.max_version.is_some(), "max_version"),
        (
            t.prefer_server_cipher_suites.is_some(),
            "prefer_server_cipher_suites",
        ),
        (t.client_allowed_sans.is_some(), "client_allowed_sans"),
    ] {
        if set {
            warnings.push(format!(
                "tls_server_config.{what} is not applied (rustls defaults)"
            ));
        }
    }
    Ok(Some(TlsSettings {
        cert_file: cert,
        key_file: key,
        client_ca_file,
        client_auth,
        min_version,
        http2,
    }))
}

/// 1-based line of the first line containing `needle` (0 when absent).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

/// A YAML decoding error message with quoted string values (which may be passwords or
/// tokens in the wrong place) replaced by `<secret>`.
pub fn redact_yaml_error(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find("string \"") {
        out.push_str(&rest[..i + 7]);
        out.push_str("<secret>");
        let after = &rest[i + 8..];
        let mut escaped = false;
        let end = after.char_indices().find_map(|(j, c)| match c {
            _ if escaped => {
                escaped = false;
                None
            }
            '\\' => {
                escaped = true;
                None
            }
            '"' => Some(j + 1),
            _ => None,
        });
        rest = &after[end.unwrap_or(after.len())..];
    }
    out.push_str(rest);
    out
}
