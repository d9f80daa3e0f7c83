#!/usr/bin/env bash
# Packs a cross-built riscv64 cloison with the shared libraries it needs from the sysroot (the
# dynamic loader, the C library, libslirp, GLib, ...) into a tar archive meant to be unpacked at / of
# a riscv64 Linux system without them (the busybox guest): usr/bin/cloison, the loader at
# lib/ld-linux-riscv64-lp64d.so.1 and the libraries in lib/riscv64-linux-gnu (the loader's default
# path). Extra files to carry along: PATH=DEST pairs after the output.
#   tools/cross/bundle.sh BUILD_DIR SYSROOT OUT.tar [SRC=DEST ...]
set -euo pipefail
die() { echo "bundle: error: $*" >&2; exit 1; }
build=$1 sysroot=$2 out=$3; shift 3
[ -x "$build/cloison" ] || die "no $build/cloison"
libdir=$sysroot/usr/lib/riscv64-linux-gnu
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/usr/bin" "$tmp/lib/riscv64-linux-gnu"
riscv64-linux-gnu-strip -o "$tmp/usr/bin/cloison" "$build/cloison"

# The NEEDED closure, resolved in the sysroot.
declare -A done=()
queue=("$tmp/usr/bin/cloison")
while [ ${#queue[@]} -gt 0 ]; do
  f=${queue[0]}; queue=("${queue[@]:1}")
  for lib in $(riscv64-linux-gnu-readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -n "${done[$lib]:-}" ] && continue
    done[$lib]=1
    src=$(realpath "$libdir/$lib" 2>/dev/null) || die "$lib is not in the sysroot"
    [ -f "$src" ] || die "$lib is not in the sysroot"
    cp "$src" "$tmp/lib/riscv64-linux-gnu/$lib"
    queue+=("$tmp/lib/riscv64-linux-gnu/$lib")
  done
done
interp=$(riscv64-linux-gnu-readelf -l "$tmp/usr/bin/cloison" | sed -n 's/.*interpreter: \(.*\)\]/\1/p')
[ -n "$interp" ] || die "no program interpreter in cloison"
cp "$(realpath "$sysroot$interp")" "$tmp$interp"
for pair in "$@"; do
  mkdir -p "$tmp/$(dirname "${pair#*=}")"
  cp "${pair%%=*}" "$tmp/${pair#*=}"
done
tar -C "$tmp" --owner=0 --group=0 -cf "$out" .
