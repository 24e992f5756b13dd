#!/usr/bin/env bash
# Benchmark: ops's start-up against bare Node (`node -e 0`), in one hyperfine run: --version,
# --help, generate-secret and `pillar show` (the repo's own lab pillar; read only).
# Usage: bench/startup.sh   (RUNS=30 by default). Writes bench/results/startup.{md,json}.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
command -v hyperfine >/dev/null || { echo "bench: apt-get install hyperfine" >&2; exit 2; }
node "$here/scripts/build.mjs"
mkdir -p "$here/bench/results"
cd "$here"   # (the repo is found from the working directory, as a user runs ops)
ops="node $here/dist/ops.mjs"
for c in "--version" "--help" "generate-secret" "pillar show lab"; do $ops $c >/dev/null || { echo "bench: failed: ops $c" >&2; exit 1; }; done
hyperfine --warmup 3 --runs "${RUNS:-30}" -N \
  -n "node -e 0" "node -e 0" \
  -n "ops --version" "$ops --version" \
  -n "ops --help" "$ops --help" \
  -n "ops generate-secret" "$ops generate-secret" \
  -n "ops pillar show lab" "$ops pillar show lab" \
  --export-markdown "$here/bench/results/startup.md" --export-json "$here/bench/results/startup.json"
