#!/usr/bin/env bash
# Collection cost of `vitals node-exporter` next to node_exporter on this machine:
# CPU seconds (user+sys, from /proc/<pid>/stat) per N scrapes of /metrics, and RSS after.
# Usage: benches/node_exporter_cost.sh [N]   (needs a release build: cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
VITALS=target/release/vitals
PEER="$(command -v prometheus-node-exporter || true)"
[ -x "$VITALS" ] || { echo "build first: cargo build --release --bin vitals"; exit 1; }
HZ=$(getconf CLK_TCK)
cpu_s() { awk -v hz="$HZ" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
measure() { # name pid port
  local name=$1 pid=$2 port=$3
  for _ in $(seq 50); do curl -sf "127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
  for _ in $(seq 10); do curl -s "127.0.0.1:$port/metrics" >/dev/null; done
  local before; before=$(cpu_s "$pid")
  for _ in $(seq "$N"); do curl -s "127.0.0.1:$port/metrics" >/dev/null; done
  local after; after=$(cpu_s "$pid")
  printf "%-16s cpu_s_per_%s_scrapes=%.2f rss_mib=%.1f series=%s\n" "$name" "$N" \
    "$(echo "$after - $before" | bc -l)" "$(echo "$(rss_kib "$pid") / 1024" | bc -l)" \
    "$(curl -s "127.0.0.1:$port/metrics" | grep -vc '^#')"
}
"$VITALS" node-exporter --web.listen-address=127.0.0.1:19501 & VPID=$!
trap 'kill $VPID ${PPID2:-} 2>/dev/null || true' EXIT
measure vitals "$VPID" 19501
if [ -n "$PEER" ]; then
  "$PEER" --web.listen-address=127.0.0.1:19502 >/dev/null 2>&1 & PPID2=$!
  measure node_exporter "$PPID2" 19502
else
  echo "SKIPPED: prometheus-node-exporter not on PATH"
fi
