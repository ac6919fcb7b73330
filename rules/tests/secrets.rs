//! Credentials of the `alerting` block never show in Debug output or configuration errors.

use rules::manager::load_config;

#[test]
fn alertmanager_credentials_are_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(
        &good,
        "alerting:\n  alertmanagers:\n    - basic_auth: {username: admin, password: hunter2}\n    - authorization: {credentials: tok3n-value}\n",
    )
    .unwrap();
    let cfg = load_config(&good).unwrap();
    let dbg = format!("{cfg:?}");
    assert!(
        !dbg.contains("hunter2") && !dbg.contains("tok3n-value"),
        "{dbg}"
    );
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "alerting:\n  alertmanagers:\n    - basic_auth: \"admin:hunter2\"\n",
    )
    .unwrap();
    let e = load_config(&bad).unwrap_err();
    let msg = format!("{e} {e:?}");
    assert!(
        !msg.contains("hunter2") && msg.contains("<secret>"),
        "{msg}"
    );
}
