#!/bin/bash
# bench/store_forward.sh — this host's store-to-load latency by addressing form
# (bench/store_forward.c): why translated code addresses the hart through rbp.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -O2 -no-pie -o "$out/store_forward" "$here/store_forward.c"
"$out/store_forward"
