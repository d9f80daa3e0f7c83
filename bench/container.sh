#!/usr/bin/env bash
# Container benchmark: time to run `true` in a fresh container, and host memory per idle container,
# cloison vs crun and runc (Debian packages) on the same busybox rootfs (see container.py).
#   RUNS=30 IDLE=20 bench/container.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/container.sh needs root (namespaces, cgroups)"; exit 1; }
command -v crun >/dev/null && command -v runc >/dev/null || { echo "crun/runc missing (scripts/setup.sh)"; exit 1; }
exec python3 bench/container.py "${CLOISON:-build/cloison}" "${RUNS:-30}" "${IDLE:-20}"
