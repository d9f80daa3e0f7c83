#!/usr/bin/env bash
# Compute benchmark: real programs from Debian's riscv64 packages in the same guest under cloison
# and QEMU TCG (see cpu.py), per-workload medians and ratios, then two-hart scaling.
#   RUNS=3 WORKLOADS=gzip,xz SCALE=1 JIT=on bench/cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
initrd=$(bash tools/guest/mkbench.sh)
exec python3 bench/cpu.py "${CLOISON:-build/cloison}" "$initrd" "${RUNS:-3}" "${WORKLOADS:-}" "${SCALE:-1}" "${JIT:-on}"
