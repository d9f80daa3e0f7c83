#!/usr/bin/env bash
# Builds the default guest's initramfs (the busybox tree of tree.sh) from what fetch.sh cached.
# Output: $CLOISON_CACHE/guest/initrd.gz (newc cpio, gzip).
set -euo pipefail

CACHE=${CLOISON_CACHE:-$HOME/.cache/cloison}
G=$CACHE/guest
OUT=$G/initrd.gz
here=$(dirname "$0")

[ -f "$G/.complete" ] || { echo "mkinitramfs: run tools/guest/fetch.sh first" >&2; exit 1; }
if [ -f "$OUT" ] && [ "$OUT" -nt "$G/.complete" ] && [ "$OUT" -nt "$0" ] && [ "$OUT" -nt "$here/tree.sh" ] && [ "$OUT" -nt "$here/clnet.c" ] &&
   [ "$OUT" -nt "$here/../../src/agent/agent.c" ] && [ "$OUT" -nt "$here/../../src/agent/proto.c" ] &&
   [ "$OUT" -nt "$here/../../src/agent/proto.h" ]; then exit 0; fi

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
r=$tmp/root
bash "$here/tree.sh" "$r"
(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet | gzip -9 > "$OUT.part")
mv "$OUT.part" "$OUT"
echo "mkinitramfs: $OUT ($(wc -l < "$r/etc/modules.order") modules)" >&2
