#!/usr/bin/env bash
# Lifecycle benchmark: save, restore (to first instruction and to a responsive console) and live
# migration (total, downtime, what the guest sees), cloison vs QEMU on the same guest (see lifecycle.py).
#   RUNS=3 bench/lifecycle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v qemu-system-riscv64 >/dev/null || { echo "qemu-system-riscv64 missing (scripts/setup.sh)"; exit 1; }
exec python3 bench/lifecycle.py "${CLOISON:-build/cloison}" "${RUNS:-3}"
