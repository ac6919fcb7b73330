//! `tls_config` of an HTTP client: a rustls client configuration (CA file, client
//! certificate, `server_name`, `insecure_skip_verify`, `min_version`). No OpenSSL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};

use crate::Error;

/// `tls_config` (Prometheus' keys).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct TlsConfig {
    /// CA certificates (PEM) that verify the server; the Mozilla roots when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Name the server certificate must carry (instead of the URL's host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Accept any server certificate (handshake signatures are still checked).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Oldest TLS version: `TLS12` or `TLS13` (`TLS10`/`TLS11` mean TLS 1.2, the oldest
    /// rustls speaks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn bad(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Tls(format!("{}: {e}", path.display()))
}

impl TlsConfig {
    /// Whether anything differs from the defaults (system behaviour then suffices).
    pub fn is_default(&self) -> bool {
        self == &TlsConfig::default()
    }

    /// Checks what can be checked without reading files.
    pub fn validate(&self) -> Result<(), Error> {
        self.versions()?;
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(Error::Tls(
                "cert_file and key_file must be set together".into(),
            ));
        }
        if let Some(n) = &self.server_name {
            ServerName::try_from(n.as_str())
                .map_err(|e| Error::Tls(format!("server_name {n:?}: {e}")))?;
        }
        Ok(())
    }

    fn versions(&self) -> Result<&'static [&'static rustls::SupportedProtocolVersion], Error> {
        static ALL: &[&rustls::SupportedProtocolVersion] =
            &[&rustls::version::TLS13, &rustls::version::TLS12];
        static V13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
        match self.min_version.as_deref() {
            None | Some("") | Some("TLS10") | Some("TLS11") | Some("TLS12") => Ok(ALL),
            Some("TLS13") => Ok(V13),
            Some(v) => Err(Error::Tls(format!(
                "unknown min_version {v:?} (TLS10, TLS11, TLS12 or TLS13)"
            ))),
        }
    }

    /// The rustls client configuration, reading the files now; `None` when every key has
    /// its default.
    pub fn client_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, Error> {
        if self.is_default() {
            return Ok(None);
        }
        self.validate()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(self.versions()?)
            .map_err(|e| Error::Tls(e.to_string()))?;
        let verifier = if self.insecure_skip_verify {
            Verifier {
                inner: None,
                name: None,
                provider,
            }
        } else {
            let mut roots = rustls::RootCertStore::empty();
            match &self.ca_file {
                Some(ca) => {
                    for c in CertificateDer::pem_slice_iter(&read(ca)?) {
                        roots
                            .add(c.map_err(|e| bad(ca, e))?)
                            .map_err(|e| bad(ca, e))?;
                    }
                    if roots.is_empty() {
                        return Err(bad(ca, "no certificate found"));
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            let inner =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| Error::Tls(e.to_string()))?;
            let name = match &self.server_name {
                Some(n) => Some(
                    ServerName::try_from(n.clone())
                        .map_err(|e| Error::Tls(format!("server_name {n:?}: {e}")))?,
                ),
                None => None,
            };
            Verifier {
                inner: Some(inner),
                name,
                provider,
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let cfg = match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => {
                let certs = CertificateDer::pem_slice_iter(&read(c)?)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(c, e))?;
                if certs.is_empty() {
                    return Err(bad(c, "no certificate found"));
                }
                let key = PrivateKeyDer::from_pem_slice(&read(k)?).map_err(|e| bad(k, e))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| bad(k, e))?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Some(Arc::new(cfg)))
    }
}

/// The server certificate check: WebPKI against `server_name` when one is configured
/// (else the URL's host), or none at all for `insecure_skip_verify` (`inner` unset).
/// Handshake signatures are always checked.
#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    name: Option<ServerName<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end: &CertificateDer<'_>,
        inter: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.inner {
            None => Ok(ServerCertVerified::assertion()),
            Some(v) => {
                let name = self.name.as_ref().unwrap_or(name);
                v.verify_server_cert(end, inter, name, ocsp, now)
            }
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(m, c, d, algs)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(m, c, d, algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
