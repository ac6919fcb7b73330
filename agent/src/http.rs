//! HTTP clients from `HttpClientConfig`: rustls TLS (CA file, client certificate,
//! `insecure_skip_verify`) and the `Authorization` header (files re-read per request).

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::{HttpClientConfig, TlsConfig};
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

fn read(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

fn tls(t: &TlsConfig) -> Result<Option<Arc<rustls::ClientConfig>>, Error> {
    if t.ca_file.is_none() && t.cert_file.is_none() && !t.insecure_skip_verify {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Http(e.to_string()))?;
    let builder = if t.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(ca) = &t.ca_file {
            let pem = read(ca)?;
            for c in CertificateDer::pem_slice_iter(&pem) {
                let c = c.map_err(|e| Error::Http(format!("{}: {e}", ca.display())))?;
                roots
                    .add(c)
                    .map_err(|e| Error::Http(format!("{}: {e}", ca.display())))?;
            }
        }
        builder.with_root_certificates(roots)
    };
    let cfg = match (&t.cert_file, &t.key_file) {
        (Some(c), Some(k)) => {
            let certs = CertificateDer::pem_slice_iter(&read(c)?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Http(format!("{}: {e}", c.display())))?;
            let key = PrivateKeyDer::from_pem_slice(&read(k)?)
                .map_err(|e| Error::Http(format!("{}: {e}", k.display())))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| Error::Http(e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(Error::Http(
                "tls_config needs both cert_file and key_file".into(),
            ))
        }
    };
    Ok(Some(Arc::new(cfg)))
}

impl Client {
    /// Builds a client; `timeout` bounds each whole request.
    pub fn new(cfg: &HttpClientConfig, timeout: Duration) -> Result<Client, Error> {
        let mut b = ureq::AgentBuilder::new().timeout(timeout).redirects(10);
        if let Some(t) = tls(&cfg.tls_config)? {
            b = b.tls_config(t);
        }
        Ok(Client {
            agent: b.build(),
            cfg: cfg.clone(),
        })
    }

    /// The `Authorization` header value, if any (files read now).
    pub fn authorization(&self) -> Result<Option<String>, Error> {
        let file = |p: &std::path::Path| -> Result<String, Error> {
            Ok(String::from_utf8_lossy(&read(p)?).trim().to_string())
        };
        let c = &self.cfg;
        if let Some(b) = &c.basic_auth {
            let pw = match (&b.password, &b.password_file) {
                (_, Some(f)) => file(f)?,
                (Some(p), None) => p.clone(),
                (None, None) => String::new(),
            };
            return Ok(Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{pw}", b.username))
            )));
        }
        if let Some(a) = &c.authorization {
            let kind = a.kind.clone().unwrap_or_else(|| "Bearer".into());
            let cred = match (&a.credentials, &a.credentials_file) {
                (_, Some(f)) => file(f)?,
                (Some(c), None) => c.clone(),
                (None, None) => String::new(),
            };
            return Ok(Some(format!("{kind} {cred}")));
        }
        if let Some(t) = &c.bearer_token {
            return Ok(Some(format!("Bearer {t}")));
        }
        if let Some(f) = &c.bearer_token_file {
            return Ok(Some(format!("Bearer {}", file(f)?)));
        }
        Ok(None)
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

/// `insecure_skip_verify`: accepts any certificate, still checks handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BasicAuth;

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
