#!/usr/bin/env bash
# Builds the default guest's root disk: an ext4 filesystem holding the busybox tree of
# tree.sh (mkfs.ext4 -d), as rootfs.qcow2 written by cloison's own converter.
# Boot it with: cloison run --disk rootfs.qcow2 --append 'console=ttyS0 root=/dev/vda rw'
# Usage: mkrootfs.sh CLOISON_BINARY
# Output: $CLOISON_CACHE/guest/rootfs.qcow2 (64 MiB virtual).
set -euo pipefail

CLOISON=$1
CACHE=${CLOISON_CACHE:-$HOME/.cache/cloison}
G=$CACHE/guest
OUT=$G/rootfs.qcow2
here=$(dirname "$0")

[ -f "$G/.complete" ] || { echo "mkrootfs: run tools/guest/fetch.sh first" >&2; exit 1; }
if [ -f "$OUT" ] && [ "$OUT" -nt "$G/.complete" ] && [ "$OUT" -nt "$0" ] && [ "$OUT" -nt "$here/tree.sh" ] && [ "$OUT" -nt "$here/clnet.c" ] &&
   [ "$OUT" -nt "$here/../../src/agent/agent.c" ] && [ "$OUT" -nt "$here/../../src/agent/proto.c" ] &&
   [ "$OUT" -nt "$here/../../src/agent/proto.h" ]; then exit 0; fi

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bash "$here/tree.sh" "$tmp/root"
/sbin/mkfs.ext4 -q -F -L cloison-root -d "$tmp/root" "$tmp/rootfs.raw" 64M
rm -f "$OUT.part"
"$CLOISON" disk convert -f raw -O qcow2 "$tmp/rootfs.raw" "$OUT.part"
mv "$OUT.part" "$OUT"
echo "mkrootfs: $OUT" >&2
