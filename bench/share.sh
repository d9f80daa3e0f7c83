#!/usr/bin/env bash
# Shared folder benchmark: a host directory over virtio-9p, cloison's own 9P server vs QEMU's
# (-fsdev local), same kernel, initrd, firmware and guest commands (see share.py).
#   RUNS=3 bench/share.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v qemu-system-riscv64 >/dev/null || { echo "qemu-system-riscv64 missing (scripts/setup.sh)"; exit 1; }
exec python3 bench/share.py "${CLOISON:-build/cloison}" "${RUNS:-3}"
