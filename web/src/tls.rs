//! rustls server configuration from `tls_server_config`; the certificate and key are
//! re-read when their files change (checked at most once a second, on new connections).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

use crate::config::{ClientAuth, TlsSettings, TlsVersion};
use crate::Error;

fn tls_err(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Tls(format!("{}: {msg}", path.display()))
}

/// Loads a PEM certificate chain.
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_err(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err(path, e))?;
    if certs.is_empty() {
        return Err(tls_err(path, "no certificate found"));
    }
    Ok(certs)
}

/// Loads the certificate and key into a signing-ready pair.
fn load_key_pair(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, Error> {
    let certs = load_certs(cert)?;
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_err(key, e))?;
    let signer = provider::sign::any_supported_type(&der).map_err(|e| tls_err(key, e))?;
    let ck = CertifiedKey::new(certs, signer);
    ck.keys_match().map_err(|e| tls_err(key, e))?;
    Ok(Arc::new(ck))
}

fn mtimes(a: &Path, b: &Path) -> (Option<SystemTime>, Option<SystemTime>) {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (m(a), m(b))
}

/// Serves the current certificate, re-reading the files when their modification times change.
#[derive(Debug)]
struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    state: Mutex<ReloadState>,
}

#[derive(Debug)]
struct ReloadState {
    current: Arc<CertifiedKey>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut st = self.state.lock();
        if st.checked.elapsed() >= Duration::from_secs(1) {
            st.checked = Instant::now();
            let stamps = mtimes(&self.cert, &self.key);
            if stamps != st.stamps {
                match load_key_pair(&self.cert, &self.key) {
                    Ok(ck) => {
                        tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                        st.current = ck;
                        st.stamps = stamps;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS certificate changed but does not load; keeping the old one")
                    }
                }
            }
        }
        Some(st.current.clone())
    }
}

/// The rustls server configuration for `t`.
pub fn server_config(t: &TlsSettings) -> Result<Arc<rustls::ServerConfig>, Error> {
    let prov = Arc::new(provider::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = match t.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = rustls::ServerConfig::builder_with_provider(prov.clone())
        .with_protocol_versions(versions)
        .map_err(|e| Error::Tls(e.to_string()))?;
    let builder = match (&t.client_ca_file, t.client_auth) {
        (Some(ca), ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in load_certs(ca)? {
                roots.add(c).map_err(|e| tls_err(ca, e))?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), prov);
            let v = if t.client_auth == ClientAuth::VerifyIfGiven {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(v.build().map_err(|e| tls_err(ca, e))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let resolver = Reloading {
        state: Mutex::new(ReloadState {
            current: load_key_pair(&t.cert_file, &t.key_file)?,
            stamps: mtimes(&t.cert_file, &t.key_file),
            checked: Instant::now(),
        }),
        cert: t.cert_file.clone(),
        key: t.key_file.clone(),
    };
    let mut cfg = builder.with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = if t.http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(cfg))
}
