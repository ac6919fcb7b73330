#!/usr/bin/env bash
# On a machine with a real NVIDIA GPU: runs the GPU collector once (`vitals dcgm-exporter`,
# one scrape of /metrics) and nvidia-smi, and prints both, then side by side per GPU.
# Usage: scripts/gpu-check.sh [path/to/vitals]   (default: builds target/release/vitals)
# NVML_LIBRARY=path loads another libnvidia-ml.so (e.g. the tests' fake, with a fake nvidia-smi).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-}"
if [ -z "$BIN" ]; then
  cargo build --release --bin vitals >&2
  BIN=target/release/vitals
fi
command -v nvidia-smi >/dev/null || { echo "nvidia-smi not found: no NVIDIA driver here" >&2; exit 1; }
PORT="${GPU_CHECK_PORT:-19400}"
OUT="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$OUT"' EXIT
"$BIN" dcgm-exporter --web.listen-address "127.0.0.1:$PORT" ${NVML_LIBRARY:+--nvml.library "$NVML_LIBRARY"} 2>"$OUT/log" &
PID=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics" && break
  kill -0 "$PID" 2>/dev/null || { cat "$OUT/log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$OUT/metrics" ] || { echo "no answer from vitals dcgm-exporter" >&2; cat "$OUT/log" >&2; exit 1; }
Q=index,uuid,name,temperature.gpu,utilization.gpu,power.draw,memory.used,memory.free
nvidia-smi --query-gpu="$Q" --format=csv >"$OUT/smi.csv"
nvidia-smi --query-gpu="$Q" --format=csv,noheader,nounits >"$OUT/smi.raw"

echo "== vitals dcgm-exporter /metrics"
grep -v '^#' "$OUT/metrics"
echo
echo "== nvidia-smi --query-gpu=$Q --format=csv"
cat "$OUT/smi.csv"
echo
echo "== side by side (vitals | nvidia-smi)"
# value of metric $1 for gpu $2 from the exposition
val() { awk -v m="$1" -v g="gpu=\"$2\"" 'index($0, m "{") == 1 && index($0, g) { print $NF; exit }' "$OUT/metrics"; }
lab() { awk -v m="DCGM_FI_DEV_GPU_TEMP" -v g="gpu=\"$2\"" -v l="$1" 'index($0, m "{") == 1 && index($0, g) {
  match($0, l "=\"[^\"]*\""); print substr($0, RSTART + length(l) + 2, RLENGTH - length(l) - 3); exit }' "$OUT/metrics"; }
printf '%-4s %-14s %-44s | %s\n' gpu field vitals nvidia-smi
while IFS=',' read -r idx uuid name temp util power used free; do
  trim() { echo "$1" | sed 's/^ *//; s/ *$//'; }
  idx=$(trim "$idx")
  printf '%-4s %-14s %-44s | %s\n' "$idx" uuid "$(lab UUID "$idx")" "$(trim "$uuid")"
  printf '%-4s %-14s %-44s | %s\n' "$idx" name "$(lab modelName "$idx")" "$(trim "$name")"
  printf '%-4s %-14s %-44s | %s\n' "$idx" "temp C" "$(val DCGM_FI_DEV_GPU_TEMP "$idx")" "$(trim "$temp")"
  printf '%-4s %-14s %-44s | %s\n' "$idx" "util %" "$(val DCGM_FI_DEV_GPU_UTIL "$idx")" "$(trim "$util")"
  printf '%-4s %-14s %-44s | %s\n' "$idx" "power W" "$(val DCGM_FI_DEV_POWER_USAGE "$idx")" "$(trim "$power")"
  printf '%-4s %-14s %-44s | %s\n' "$idx" "mem used MiB" "$(val DCGM_FI_DEV_FB_USED "$idx")" "$(trim "$used")"
  printf '%-4s %-14s %-44s | %s\n' "$idx" "mem free MiB" "$(val DCGM_FI_DEV_FB_FREE "$idx")" "$(trim "$free")"
done <"$OUT/smi.raw"
