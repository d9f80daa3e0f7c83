#!/usr/bin/env bash
# Network benchmark: TCP throughput over user-mode NAT, cloison vs QEMU, and between two cloison VMs
# on a LAN segment (see net.py).   RUNS=5 MIB=64 bench/net.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/net.py "${CLOISON:-build/cloison}" "${RUNS:-5}" "${MIB:-64}"
