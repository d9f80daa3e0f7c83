#!/bin/bash
# bench/probe_latency.sh — the cycles this host's software-TLB probe adds to a
# chain of dependent loads (bench/probe_latency.c): why a probe's slot comes
# from the base register where it can.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -O2 -mbmi -no-pie -o "$out/probe_latency" "$here/probe_latency.c"
"$out/probe_latency"
