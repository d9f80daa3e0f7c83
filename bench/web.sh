#!/usr/bin/env bash
# The web interface's bar (docs/web.md): start clicked to the guest's text on the noVNC canvas, VNC frames
# per second while the guest scrolls, cloisond's memory with 20 open consoles, HTTPS requests per second
# with 100 instances; each next to its peer (QEMU, websockify, nginx). Usage: bench/web.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../tools/web/fetch.sh"
exec /usr/bin/python3 "$here/web.py" "${1:-$here/../build}"
