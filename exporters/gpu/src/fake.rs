//! A fake `libnvidia-ml.so` for tests without a GPU (feature `fake-nvml`): `fake_nvml.c`
//! compiled with the `cc` crate; two GPUs with fixed values (see the C file's header).

use std::path::{Path, PathBuf};

/// Compiles the fake NVML with the C `defines` (e.g. `FAKE_POWER_FAILS`) into
/// `dir/libnvidia-ml.so.1` and returns that path.
pub fn build(dir: &Path, defines: &[&str]) -> std::io::Result<PathBuf> {
    let triple = format!(
        "{}-unknown-linux-{}",
        std::env::consts::ARCH,
        if cfg!(target_env = "musl") {
            "musl"
        } else {
            "gnu"
        }
    );
    let compiler = cc::Build::new()
        .target(&triple)
        .host(&triple)
        .opt_level(0)
        .cargo_metadata(false)
        .try_get_compiler()
        .map_err(std::io::Error::other)?;
    let out = dir.join("libnvidia-ml.so.1");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_nvml.c");
    let mut cmd = compiler.to_command();
    cmd.args(["-shared", "-fPIC", "-o"]).arg(&out).arg(&src);
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    let st = cmd.status()?;
    if !st.success() {
        return Err(std::io::Error::other(format!("{cmd:?}: {st}")));
    }
    Ok(out)
}
