//! Parsing the web configuration: Prometheus files load unchanged, errors name file and line.

use std::path::Path;

use web::{ClientAuth, Right, WebConfig};

const HASH: &str = "$2y$04$WjyJ9.kKSzbVgdDPYKOWs.n0kFs7qAMD2s9tDLjHsDU6DpONBaDHy";

fn parse(text: &str) -> Result<WebConfig, web::Error> {
    WebConfig::parse(text, Path::new("web.yml"), Path::new("/nonexistent"))
}

#[test]
fn prometheus_basic_auth_file_loads_and_users_get_every_right() {
    let cfg = parse(&format!(
        "basic_auth_users:\n  alice: {HASH}\nhttp_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n"
    ))
    .unwrap();
    assert_eq!(cfg.users.len(), 1);
    let r = cfg.users[0].rights;
    assert!(r.has(Right::Read) && r.has(Right::Write) && r.has(Right::Admin));
    assert_eq!(cfg.headers, vec![("X-Frame-Options".into(), "deny".into())]);
    assert!(cfg.has_auth() && cfg.tls.is_none());
    assert!(!format!("{cfg:?}").contains(HASH), "hash in Debug output");
}

#[test]
fn vitals_section_gives_rights_and_tokens_and_hides_secrets() {
    let cfg = parse(&format!(
        "basic_auth_users:\n  alice: {HASH}\n  bob: {HASH}\nvitals:\n  user_rights:\n    bob: [read]\n  bearer_tokens:\n    - name: agent\n      token: s3cr3t-token\n      rights: [write]\n"
    ))
    .unwrap();
    let bob = cfg.users.iter().find(|u| u.name == "bob").unwrap();
    assert!(bob.rights.has(Right::Read) && !bob.rights.has(Right::Write));
    assert!(cfg.tokens[0].rights.has(Right::Write) && !cfg.tokens[0].rights.has(Right::Read));
    let dbg = format!("{cfg:?}");
    assert!(!dbg.contains("s3cr3t") && dbg.contains("<secret>"), "{dbg}");
}

#[test]
fn errors_name_file_and_line() {
    let e = parse("basic_auth_users:\n  alice: x\n  bob: [1\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("web.yml:"), "{e}");
    let e = parse(&format!(
        "basic_auth_users:\n  alice: {HASH}\n  bob: plain\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("web.yml:3:") && e.contains("bcrypt"), "{e}");
    let e = parse("tls_server_config:\n  cert_file: a.pem\n  key_file: b.pem\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("web.yml:2:") && e.contains("a.pem"), "{e}");
    let e =
        parse("vitals:\n  bearer_tokens:\n    - name: x\n      token: t\n      rights: [root]\n")
            .unwrap_err()
            .to_string();
    assert!(e.starts_with("web.yml:5:") && e.contains("root"), "{e}");
    let e = parse("basic_auth_user:\n  a: b\n").unwrap_err().to_string();
    assert!(
        e.starts_with("web.yml:1:") && e.contains("unknown field"),
        "{e}"
    );
}

#[test]
fn tls_settings_resolve_relative_paths_and_client_auth() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["c.pem", "k.pem", "ca.pem"] {
        std::fs::write(dir.path().join(f), "x").unwrap();
    }
    let text = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS13\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n";
    let cfg = WebConfig::parse(text, Path::new("w.yml"), dir.path()).unwrap();
    let t = cfg.tls.unwrap();
    assert_eq!(t.cert_file, dir.path().join("c.pem"));
    assert_eq!(t.client_auth, ClientAuth::RequireAndVerify);
    assert_eq!(t.min_version, web::TlsVersion::Tls13);
    assert!(cfg.warnings.iter().any(|w| w.contains("cipher_suites")));
    let bad = text.replace("RequireAndVerifyClientCert", "RequireAnyClientCert");
    let e = WebConfig::parse(&bad, Path::new("w.yml"), dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("w.yml:5:"), "{e}");
}

#[test]
fn empty_file_means_no_auth_and_no_tls() {
    let cfg = parse("").unwrap();
    assert!(!cfg.has_auth() && cfg.tls.is_none());
}

#[test]
fn yaml_errors_do_not_echo_string_values() {
    let e = parse("basic_auth_users: \"alice:hunter2\"\n")
        .unwrap_err()
        .to_string();
    assert!(!e.contains("hunter2") && e.contains("<secret>"), "{e}");
    assert_eq!(
        web::redact_yaml_error(r#"invalid type: string "a\"b", expected x; string "c""#),
        "invalid type: string <secret>, expected x; string <secret>"
    );
}
