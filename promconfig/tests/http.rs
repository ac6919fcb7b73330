//! HTTP client blocks: headers from every way of authenticating, secrets shown as
//! `<secret>` in Debug, serialization and errors, and load-time validation.

use promconfig::{HttpClientConfig, TlsConfig};

fn parse(y: &str) -> HttpClientConfig {
    serde_yaml::from_str(y).unwrap()
}

#[test]
fn headers() {
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("token");
    std::fs::write(&tok, "abc\n").unwrap();
    let basic = parse("basic_auth: {username: Aladdin, password: open sesame}");
    assert_eq!(
        basic.header().unwrap().unwrap(),
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
    let f = format!("authorization: {{credentials_file: {}}}", tok.display());
    assert_eq!(parse(&f).header().unwrap().unwrap(), "Bearer abc");
    let f = format!(
        "authorization: {{type: Token, credentials_file: {}}}",
        tok.display()
    );
    assert_eq!(parse(&f).header().unwrap().unwrap(), "Token abc");
    let f = format!("bearer_token_file: {}", tok.display());
    assert_eq!(parse(&f).header().unwrap().unwrap(), "Bearer abc");
    assert_eq!(
        parse("bearer_token: t").header().unwrap().unwrap(),
        "Bearer t"
    );
    let f = format!(
        "basic_auth: {{username: u, password_file: {}}}",
        tok.display()
    );
    assert_eq!(parse(&f).header().unwrap().unwrap(), "Basic dTphYmM=");
    assert_eq!(HttpClientConfig::default().header().unwrap(), None);
    let e = parse("authorization: {credentials_file: /nonexistent/secret}")
        .header()
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("reading /nonexistent/secret"), "{e}");
}

#[test]
fn secrets_never_print() {
    let c = parse(
        "basic_auth: {username: alice, password: hunter2}\ntls_config: {server_name: x.example}",
    );
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains("hunter2") && dbg.contains("<secret>"),
        "{dbg}"
    );
    let yaml = serde_yaml::to_string(&c).unwrap();
    assert!(
        !yaml.contains("hunter2") && yaml.contains("<secret>"),
        "{yaml}"
    );
    assert!(yaml.contains("username: alice"), "{yaml}");
    for y in [
        "authorization: {credentials: hunter2}",
        "bearer_token: hunter2",
    ] {
        let c = parse(y);
        let out = format!("{c:?}{}", serde_yaml::to_string(&c).unwrap());
        assert!(!out.contains("hunter2"), "{out}");
    }
    // A changed inline secret changes the digest (reload detection).
    assert_ne!(
        parse("bearer_token: a").secrets_digest(),
        parse("bearer_token: b").secrets_digest()
    );
}

#[test]
fn validation() {
    for (y, want) in [
        (
            "basic_auth: {username: u, password: p}\nbearer_token: t",
            "at most one of basic_auth",
        ),
        (
            "authorization: {type: Basic, credentials: x}",
            "use \"basic_auth\"",
        ),
        (
            "bearer_token: hunter2\nbearer_token_file: /f",
            "bearer_token & bearer_token_file",
        ),
        (
            "basic_auth: {username: u, password: hunter2, password_file: /f}",
            "password & password_file",
        ),
        ("tls_config: {cert_file: /c}", "cert_file and key_file"),
        ("tls_config: {min_version: TLS99}", "unknown min_version"),
    ] {
        let e = parse(y).validate().unwrap_err().to_string();
        assert!(e.contains(want), "{y}: {e}");
        assert!(!e.contains("hunter2"), "{e}");
    }
    parse("tls_config: {min_version: TLS13, insecure_skip_verify: true}")
        .validate()
        .unwrap();
}

#[test]
fn tls_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = TlsConfig {
        ca_file: Some(dir.path().join("nope.crt")),
        ..Default::default()
    };
    let e = missing.client_config().unwrap_err().to_string();
    assert!(e.contains("nope.crt"), "{e}");
    let empty = dir.path().join("empty.crt");
    std::fs::write(&empty, "").unwrap();
    let e = TlsConfig {
        ca_file: Some(empty),
        ..Default::default()
    }
    .client_config()
    .unwrap_err()
    .to_string();
    assert!(e.contains("no certificate"), "{e}");
    // A CA, a client certificate and key: a configuration is built.
    let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
    let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&c, ca.cert.pem()).unwrap();
    std::fs::write(&k, ca.key_pair.serialize_pem()).unwrap();
    let ok = TlsConfig {
        ca_file: Some(c.clone()),
        cert_file: Some(c),
        key_file: Some(k),
        server_name: Some("ca.test".into()),
        min_version: Some("TLS13".into()),
        ..Default::default()
    };
    assert!(ok.client_config().unwrap().is_some());
    assert!(TlsConfig::default().client_config().unwrap().is_none());
}

#[test]
fn relative_paths() {
    let mut c = parse("authorization: {credentials_file: tok}\ntls_config: {ca_file: /abs/ca}");
    c.resolve_paths(std::path::Path::new("/etc/vitals"));
    assert_eq!(
        c.authorization.unwrap().credentials_file.unwrap(),
        std::path::Path::new("/etc/vitals/tok")
    );
    assert_eq!(
        c.tls_config.ca_file.unwrap(),
        std::path::Path::new("/abs/ca")
    );
}
