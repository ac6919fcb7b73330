//! Records the compiler version for `/api/v1/status/buildinfo` (its `goVersion` field).

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=VITALS_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-changed=build.rs");
}
