#!/usr/bin/env bash
# Cross-builds release binaries for aarch64 from an x86_64 Debian/Ubuntu host and
# smoke-tests the static one under QEMU:
#   aarch64-unknown-linux-musl  static, no GPU (dlopen of libnvidia-ml.so needs glibc)
#   aarch64-unknown-linux-gnu   glibc, with GPU support
# Installs what it lacks: gcc-aarch64-linux-gnu (C parts of ring/zstd, linker),
# qemu-user-static, musl-tools, and the two rustup targets.
# VITALS_CROSS_TARGETS="musl" (or "gnu") builds only one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
targets="${VITALS_CROSS_TARGETS:-musl gnu}"

pkgs=()
command -v aarch64-linux-gnu-gcc >/dev/null || pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64-static >/dev/null || pkgs+=(qemu-user-static)
command -v musl-gcc >/dev/null || pkgs+=(musl-tools)
if [ "${#pkgs[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "== installing ${pkgs[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi
rustup target add aarch64-unknown-linux-musl aarch64-unknown-linux-gnu

# One C cross compiler for both targets. For musl, Rust links its own self-contained musl
# (crt objects, libc.a) with rust-lld; glibc's fortify wrappers (__memcpy_chk, …) do not
# exist in musl, so C code is built without them.
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc
export CFLAGS_aarch64_unknown_linux_musl="-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=0 -fno-stack-protector"
# libloading (NVML) asks for -ldl, which musl keeps inside libc.a: an empty libdl.a stands in.
shim="$PWD/target/aarch64-musl-shim"
mkdir -p "$shim" && printf '!<arch>\n' >"$shim/libdl.a"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C link-self-contained=yes -C target-feature=+crt-static -L native=$shim"

for t in $targets; do
  triple="aarch64-unknown-linux-$t"
  echo "== cargo build --release --target $triple"
  start=$(date +%s)
  cargo build --release --locked --bin vitals --target "$triple"
  echo "   built in $(( $(date +%s) - start ))s"
done

echo "== binary sizes"
for t in $targets; do
  bin="target/aarch64-unknown-linux-$t/release/vitals"
  printf '%-48s %10d bytes (%s)\n' "$bin" "$(stat -c %s "$bin")" "$(file -b "$bin" 2>/dev/null | cut -d, -f1-2 || true)"
  # The release profile keeps line tables (debug = 1); images ship the stripped size.
  aarch64-linux-gnu-strip -o "$bin.stripped" "$bin"
  printf '%-48s %10d bytes\n' "$bin.stripped" "$(stat -c %s "$bin.stripped")"
done

case " $targets " in *" musl "*) ;; *) echo "no musl binary: smoke test skipped"; exit 0 ;; esac

echo "== smoke test: aarch64 musl binary under qemu-aarch64-static"
bin="target/aarch64-unknown-linux-musl/release/vitals"
dir="$(mktemp -d)"
port="${VITALS_SMOKE_PORT:-19490}"
qemu-aarch64-static "$bin" store --storage.tsdb.path "$dir/data" \
  --web.listen-address "127.0.0.1:$port" >"$dir/log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
start=$(date +%s)
until curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null; then echo "FAIL: store exited"; cat "$dir/log"; exit 1; fi
  if [ $(( $(date +%s) - start )) -gt 60 ]; then echo "FAIL: not ready in 60s"; cat "$dir/log"; exit 1; fi
  sleep 0.5
done
echo "   ready after $(( $(date +%s) - start ))s"
answer="$(curl -fsS "http://127.0.0.1:$port/api/v1/query?query=1%2B1")"
echo "   /api/v1/query?query=1+1 -> $answer"
case "$answer" in
  *'"status":"success"'*'"2"'*) echo "aarch64 smoke test: passed" ;;
  *) echo "FAIL: unexpected answer"; exit 1 ;;
esac
