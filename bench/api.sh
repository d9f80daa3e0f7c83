#!/usr/bin/env bash
# The management plane's bar: VM and container creation through cloisond, API request rates, daemon
# memory; QEMU started by a script as the peer for VM starts. Usage: bench/api.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/api.py" "${1:-$here/../build}"
