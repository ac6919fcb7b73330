#!/usr/bin/env bash
# The whole test suite: unit, golden, property, end-to-end tests, then short fuzz runs.
# Peers (prometheus, victoria-metrics, …) are found on PATH; with VITALS_REQUIRE_PEERS=1
# tests that need them fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (workspace)"
cargo test --workspace --release --locked 2>&1

echo "== fuzz smoke runs"
FUZZ_SECONDS="${VITALS_FUZZ_SECONDS:-20}"
if ! rustup toolchain list 2>/dev/null | grep -q nightly; then
  if [ "${VITALS_REQUIRE_PEERS:-0}" = 1 ]; then echo "FAIL: nightly toolchain missing for cargo fuzz"; exit 1; fi
  echo "SKIPPED: fuzz runs need a nightly toolchain (rustup toolchain install nightly)"; exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked >/dev/null 2>&1 || cargo install cargo-fuzz
fi
TARGETS="remote_write wal_replay head_snapshot xor_chunk promql_parse expo_parse rule_file template scrape_parse web_config cron_parse"
for target in $TARGETS; do
  mkdir -p "fuzz/corpus/$target"
  cargo +nightly fuzz run "$target" -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 2>&1 | tail -n 3
done
echo "fuzz: $(echo $TARGETS | wc -w) passed, 0 failed"
