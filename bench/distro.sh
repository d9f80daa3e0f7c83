#!/usr/bin/env bash
# The Debian system image under cloison and under QEMU 7.2 TCG: boot to sshd, apt-get install, ssh and
# `cloison exec` round trips (see distro.py). Builds the image first if the cache lacks it (root).
#   RUNS=3 bench/distro.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v qemu-system-riscv64 >/dev/null || { echo "qemu-system-riscv64 missing (scripts/setup.sh)"; exit 1; }
exec python3 bench/distro.py "${CLOISON:-build/cloison}" "${RUNS:-3}"
