#!/usr/bin/env bash
# Balloon benchmark: memory a 512 MiB guest gives back when asked to keep 128 MiB, and how fast,
# cloison vs QEMU's virtio-balloon on the same guest (see balloon.py).
#   RUNS=3 bench/balloon.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v qemu-system-riscv64 >/dev/null || { echo "qemu-system-riscv64 missing (scripts/setup.sh)"; exit 1; }
exec python3 bench/balloon.py "${CLOISON:-build/cloison}" "${RUNS:-3}"
