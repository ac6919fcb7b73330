//! HTTP clients of scrape configs and Kubernetes SD: the agent and `Authorization` header
//! come from `promconfig::HttpClientConfig` (rustls TLS, credential files re-read per
//! request), shared with remote-write and the rules notifier.

use std::time::Duration;

use crate::config::HttpClientConfig;
use crate::Error;

/// A configured client: an agent plus how to authorise each request.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    cfg: HttpClientConfig,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client (reading the TLS files now); `timeout` bounds each whole request.
    pub fn new(cfg: &HttpClientConfig, timeout: Duration) -> Result<Client, Error> {
        let b = cfg.agent_builder(timeout).map_err(Error::from)?;
        Ok(Client {
            agent: b.redirects(10).build(),
            cfg: cfg.clone(),
        })
    }

    /// The `Authorization` header value, if any (files read now).
    pub fn authorization(&self) -> Result<Option<String>, Error> {
        self.cfg.header().map_err(Error::from)
    }

    /// A GET request with authorisation set.
    pub fn get(&self, url: &str) -> Result<ureq::Request, Error> {
        let mut r = self.agent.get(url);
        if let Some(a) = self.authorization()? {
            r = r.set("Authorization", &a);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BasicAuth, TlsConfig};

    #[test]
    fn authorization_headers() {
        let dir = tempfile::tempdir().unwrap();
        let tok = dir.path().join("token");
        std::fs::write(&tok, "abc\n").unwrap();
        let mk = |cfg: HttpClientConfig| {
            Client::new(&cfg, Duration::from_secs(1))
                .unwrap()
                .authorization()
                .unwrap()
        };
        let basic = HttpClientConfig {
            basic_auth: Some(BasicAuth {
                username: "Aladdin".into(),
                password: Some("open sesame".into()),
                password_file: None,
            }),
            ..Default::default()
        };
        assert_eq!(mk(basic).unwrap(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        let file = HttpClientConfig {
            bearer_token_file: Some(tok),
            ..Default::default()
        };
        assert_eq!(mk(file).unwrap(), "Bearer abc");
        assert_eq!(mk(HttpClientConfig::default()), None);
        let missing = HttpClientConfig {
            tls_config: TlsConfig {
                ca_file: Some(dir.path().join("nope.crt")),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(Client::new(&missing, Duration::from_secs(1)).is_err());
    }
}
