//! A throw-away PKI for TLS tests (rcgen), TLS-capable `ureq` agents, and a `vitals store`
//! started with `--web.config.file`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};

use super::Server;

/// Files of a CA, a server certificate for localhost/127.0.0.1 and a client certificate.
pub struct Pki {
    /// Directory holding `ca.crt`, `server.{crt,key}`, `client.{crt,key}`.
    pub dir: PathBuf,
}

impl Pki {
    /// Generates the PKI into `dir`.
    pub fn generate(dir: &Path) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        for (name, sans, usage) in [
            (
                "server",
                vec!["localhost".to_string(), "127.0.0.1".to_string()],
                ExtendedKeyUsagePurpose::ServerAuth,
            ),
            (
                "client",
                vec!["client.test".to_string()],
                ExtendedKeyUsagePurpose::ClientAuth,
            ),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(sans).unwrap();
            p.extended_key_usages = vec![usage];
            let cert = p.signed_by(&key, &ca, &ca_key).unwrap();
            std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        }
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    /// A path inside the PKI directory.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// An agent trusting the CA (`trust`), presenting the client certificate (`client_cert`).
    pub fn agent(&self, trust: bool, client_cert: bool) -> ureq::Agent {
        let pem = |name: &str| std::fs::read(self.dir.join(name)).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        if trust {
            for c in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem("ca.crt")[..]) {
                roots.add(c.unwrap()).unwrap();
            }
        }
        let b = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let cfg = if client_cert {
            use rustls::pki_types::pem::PemObject;
            let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&pem("client.crt"))
                .map(|c| c.unwrap())
                .collect();
            let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(&pem("client.key")).unwrap();
            b.with_client_auth_cert(certs, key).unwrap()
        } else {
            b.with_no_client_auth()
        };
        ureq::AgentBuilder::new()
            .tls_config(Arc::new(cfg))
            .timeout(Duration::from_secs(30))
            .build()
    }
}

/// Writes `dir/web.yml`, a `--web.config.file` serving TLS with the generated server
/// certificate (in `dir`) and one basic-auth user; returns its path.
pub fn write_tls_basic_auth_web_config(dir: &Path, user: &str, password: &str) -> PathBuf {
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  {user}: {}\n",
            bcrypt_hash(password)
        ),
    )
    .unwrap();
    web
}

/// A bcrypt hash of `password` (low cost: tests only).
pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// `Authorization` value for basic auth.
pub fn basic(user: &str, password: &str) -> String {
    use std::io::Write;
    let mut raw = Vec::new();
    write!(raw, "{user}:{password}").unwrap();
    format!("Basic {}", base64_encode(&raw))
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Starts `vitals store` with `extra` flags, `url` being how `agent` reaches it; waits until
/// `/-/ready` answers (any status: it may need credentials).
pub fn start(dir: &Path, port: u16, url: &str, agent: &ureq::Agent, extra: &[&str]) -> Server {
    let child = Server::spawn(dir, port, extra);
    let s = Server {
        child,
        url: url.to_string(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match agent.get(&format!("{url}/-/ready")).call() {
            Ok(_) | Err(ureq::Error::Status(..)) => return s,
            Err(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "vitals did not become ready within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
