//! HTTPS targets: `tls_config.ca_file` verifies the server, an unknown CA fails, and
//! `insecure_skip_verify` skips verification; credentials travel over TLS. Certificates
//! come from the `openssl` command (the test skips loudly without it).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use agent::config::{HttpClientConfig, TlsConfig};
use agent::http::Client;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A CA and a server certificate for 127.0.0.1 signed by it; false without openssl.
fn make_certs(dir: &Path) -> bool {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca = [
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
        ],
    ]
    .concat();
    let csr = [
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat();
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let sign = [
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.crt",
        "-days",
        "2",
        "-extfile",
        "ext",
    ];
    openssl(dir, &ca) && openssl(dir, &csr) && openssl(dir, &sign)
}

/// Serves `m 1` over TLS; returns the address and the Authorization headers seen.
fn tls_server(dir: &Path) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("srv.crt"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("srv.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let cfg = Arc::new(cfg);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let auth = Arc::new(std::sync::Mutex::new(Vec::new()));
    let a2 = auth.clone();
    std::thread::spawn(move || {
        for tcp in l.incoming().flatten() {
            let (cfg, a2) = (cfg.clone(), a2.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(cfg).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut r = BufReader::new(&mut tls);
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    if let Some(v) = line.strip_prefix("Authorization: ") {
                        a2.lock().unwrap().push(v.trim().to_string());
                    }
                    line.clear();
                }
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nm 1\n"
                );
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (addr, auth)
}

fn get(cfg: &HttpClientConfig, url: &str) -> Result<String, String> {
    let c = Client::new(cfg, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let r = c
        .get(url)
        .map_err(|e| e.to_string())?
        .call()
        .map_err(|e| e.to_string())?;
    r.into_string().map_err(|e| e.to_string())
}

#[test]
fn https_targets_verify_with_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    if !make_certs(dir.path()) {
        if std::env::var("VITALS_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("openssl not usable and VITALS_REQUIRE_PEERS=1");
        }
        eprintln!("\n!!! SKIPPED: openssl not usable !!!\n");
        return;
    }
    let (addr, auth) = tls_server(dir.path());
    let url = format!("https://{addr}/metrics");
    let with_ca = HttpClientConfig {
        tls_config: TlsConfig {
            ca_file: Some(dir.path().join("ca.crt")),
            ..Default::default()
        },
        bearer_token: Some("tok".into()),
        ..Default::default()
    };
    assert_eq!(get(&with_ca, &url).unwrap(), "m 1\n");
    assert_eq!(auth.lock().unwrap().as_slice(), ["Bearer tok"]);
    let err = get(&HttpClientConfig::default(), &url).unwrap_err();
    assert!(
        err.contains("certificate") || err.contains("Certificate") || err.contains("issuer"),
        "{err}"
    );
    let insecure = HttpClientConfig {
        tls_config: TlsConfig {
            insecure_skip_verify: true,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(get(&insecure, &url).unwrap(), "m 1\n");
}
