#!/usr/bin/env bash
# Cross-builds cloison for riscv64 Linux hosts (to run VMs with --accel kvm there) into BUILD_DIR
# (default build-riscv64) and packs it with its libraries (tools/cross/bundle.sh) as
# BUILD_DIR/cloison-riscv64.tar; prints the archive's path. Extra SRC=DEST pairs go into the archive.
#   tools/cross/build.sh [BUILD_DIR] [SRC=DEST ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(realpath -m "${1:-build-riscv64}"); shift || true
cd "$here/../.." # the source tree
cross=$(bash "$here/mksysroot.sh")
sysroot=$(dirname "$cross")/root
# A build directory made against another sysroot (another recipe) starts over.
if [ -f "$build/build.ninja" ] && ! grep -qF "$sysroot" "$build/build.ninja"; then rm -rf "$build"; fi
[ -f "$build/build.ninja" ] || meson setup "$build" --cross-file "$cross" ${MESON_OPTS:-} >&2
ninja -C "$build" cloison >&2
bash "$here/bundle.sh" "$build" "$sysroot" "$build/cloison-riscv64.tar" "$@"
echo "$build/cloison-riscv64.tar"
