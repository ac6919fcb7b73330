//! `HttpClientConfig`: the credentials and TLS keys every Prometheus HTTP client block
//! shares (scrape configs, Kubernetes SD, `remote_write`, `alerting.alertmanagers`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{Authorization, BasicAuth, Error, Secret, TlsConfig};

/// Credentials and TLS of one HTTP client block (flattened into its parent, as Prometheus'
/// `HTTPClientConfig`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct HttpClientConfig {
    /// `basic_auth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `authorization` (bearer by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// `bearer_token` (deprecated form of `authorization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    /// `bearer_token_file` (deprecated form of `authorization.credentials_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<PathBuf>,
    /// `tls_config`.
    #[serde(default, skip_serializing_if = "TlsConfig::is_default")]
    pub tls_config: TlsConfig,
}

fn read_secret(p: &Path) -> Result<String, Error> {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .map_err(|source| Error::Io {
            path: p.to_path_buf(),
            source,
        })
}

/// The file's content when a file is named, else the inline value, else empty.
fn pick(inline: &Option<Secret>, file: &Option<PathBuf>) -> Result<String, Error> {
    match (file, inline) {
        (Some(f), _) => read_secret(f),
        (None, Some(x)) => Ok(x.expose().to_string()),
        (None, None) => Ok(String::new()),
    }
}

impl HttpClientConfig {
    /// Checks the block as Prometheus does at load time (one way to authenticate, a valid
    /// `tls_config`); the message never contains a secret.
    pub fn validate(&self) -> Result<(), Error> {
        let ways = [
            self.basic_auth.is_some(),
            self.authorization.is_some(),
            self.bearer_token.is_some() || self.bearer_token_file.is_some(),
        ];
        if ways.iter().filter(|&&b| b).count() > 1 {
            return Err(Error::Config(
                "at most one of basic_auth, authorization and bearer_token(_file) must be configured"
                    .into(),
            ));
        }
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return Err(Error::Config(
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            ));
        }
        if let Some(b) = &self.basic_auth {
            if b.password.is_some() && b.password_file.is_some() {
                return Err(Error::Config(
                    "at most one of basic_auth password & password_file must be configured".into(),
                ));
            }
        }
        if let Some(a) = &self.authorization {
            if a.kind.eq_ignore_ascii_case("basic") {
                return Err(Error::Config(
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                        .into(),
                ));
            }
            if a.credentials.is_some() && a.credentials_file.is_some() {
                return Err(Error::Config(
                    "at most one of authorization credentials & credentials_file must be configured"
                        .into(),
                ));
            }
        }
        self.tls_config.validate()
    }

    /// The `Authorization` header value, reading secret files now (so rotated secrets are
    /// picked up); the error names the file, never a secret.
    pub fn header(&self) -> Result<Option<String>, Error> {
        if let Some(b) = &self.basic_auth {
            let pw = pick(&b.password, &b.password_file)?;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", b.username, pw));
            return Ok(Some(format!("Basic {token}")));
        }
        if let Some(a) = &self.authorization {
            let cred = pick(&a.credentials, &a.credentials_file)?;
            return Ok(Some(format!("{} {cred}", a.kind)));
        }
        match (&self.bearer_token_file, &self.bearer_token) {
            (None, None) => Ok(None),
            (f, t) => Ok(Some(format!("Bearer {}", pick(t, f)?))),
        }
    }

    /// A ureq agent builder with the TLS settings applied; `timeout` bounds each request.
    pub fn agent_builder(&self, timeout: Duration) -> Result<ureq::AgentBuilder, Error> {
        let mut b = ureq::AgentBuilder::new().timeout(timeout);
        if let Some(t) = self.tls_config.client_config()? {
            b = b.tls_config(t);
        }
        Ok(b)
    }

    /// Makes relative credential and TLS file paths relative to `base` (the config file's
    /// directory, as Prometheus).
    pub fn resolve_paths(&mut self, base: &Path) {
        for p in [
            self.bearer_token_file.as_mut(),
            self.tls_config.ca_file.as_mut(),
            self.tls_config.cert_file.as_mut(),
            self.tls_config.key_file.as_mut(),
            self.basic_auth
                .as_mut()
                .and_then(|b| b.password_file.as_mut()),
            self.authorization
                .as_mut()
                .and_then(|a| a.credentials_file.as_mut()),
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// A hash of the inline secrets, so a changed password is seen as a changed config
    /// although serialization shows `<secret>`.
    pub fn secrets_digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for s in [
            self.basic_auth.as_ref().and_then(|b| b.password.as_ref()),
            self.authorization
                .as_ref()
                .and_then(|a| a.credentials.as_ref()),
            self.bearer_token.as_ref(),
        ] {
            s.map(Secret::expose).hash(&mut h);
        }
        h.finish()
    }
}
