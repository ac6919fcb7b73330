#!/usr/bin/env bash
# Copies rules/vitals.rules.yml and dashboards/*.json into deploy/kubernetes/generated/,
# where kustomize may load them (it refuses files outside the kustomization's folder).
# tests/deploy.rs fails while the copies differ from their sources.
set -euo pipefail
cd "$(dirname "$0")/.."
out=deploy/kubernetes/generated
mkdir -p "$out/dashboards"
cp rules/vitals.rules.yml "$out/vitals.rules.yml"
rm -f "$out"/dashboards/*.json
cp dashboards/*.json "$out/dashboards/"
echo "synced $(ls "$out/dashboards" | wc -l) dashboards and the rules into $out"
