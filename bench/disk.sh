#!/usr/bin/env bash
# Disk benchmark: guest sequential read/write throughput, cloison vs QEMU (see disk.py).
#   RUNS=3 MIB=128 FORMATS=raw,qcow2 bench/disk.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/disk.py "${CLOISON:-build/cloison}" "${RUNS:-3}" "${MIB:-128}" "${FORMATS:-raw,qcow2}"
