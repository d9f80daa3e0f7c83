#!/usr/bin/env bash
# Fetches the default guest's packages from Debian's archive (archive.sh: verified) and
# caches them under ~/.cache/cloison.
#
# Output (in $CLOISON_CACHE/guest): Image (riscv64 kernel), modules/ (kernel
# modules tree), busybox (static riscv64), kernel.version.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

log() { echo "guest-fetch: $*" >&2; }
die() { echo "guest-fetch: error: $*" >&2; exit 1; }
. "$(dirname "$0")/archive.sh"
OUT=$CACHE/guest
mkdir -p "$OUT"

main() {
  if [ -f "$OUT/.complete" ] && [ -f "$OUT/Image" ] && [ -z "${CLOISON_REFETCH:-}" ]; then
    return
  fi
  archive_index

  # The kernel the metapackage points to, e.g. linux-image-6.12.48+deb13-riscv64.
  local kpkg
  kpkg=$(pkg_field linux-image-riscv64 Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*-riscv64\).*/\1/p' | head -n1)
  [ -n "$kpkg" ] || die "cannot resolve linux-image-riscv64"
  local pkg debs=()
  for pkg in "$kpkg" busybox-static; do debs+=("$(archive_deb "$pkg")"); done

  TMPD=$(mktemp -d); trap 'rm -rf "$TMPD"' EXIT; local tmp=$TMPD
  for d in "${debs[@]}"; do dpkg-deb -x "$d" "$tmp/root"; done
  local kver="" modroot="" base
  for base in "$tmp/root/usr/lib/modules" "$tmp/root/lib/modules"; do
    [ -d "$base" ] || continue
    kver=$(ls "$base" | head -n1); modroot=$base/$kver; break
  done
  [ -n "$kver" ] || die "the kernel package has no modules tree"
  rm -rf "$OUT/modules"; mkdir -p "$OUT/modules"
  cp -a "$modroot/." "$OUT/modules/"
  # The package ships no modules.dep (depmod runs at install time): make it here.
  mkdir -p "$tmp/depmod/lib/modules"; ln -s "$OUT/modules" "$tmp/depmod/lib/modules/$kver"
  depmod -b "$tmp/depmod" "$kver" || die "depmod failed"
  cp "$tmp/root/boot/vmlinux-$kver" "$OUT/Image"
  cp "$tmp/root/usr/bin/busybox" "$OUT/busybox"
  echo "$kver" > "$OUT/kernel.version"
  touch "$OUT/.complete"
  log "kernel $kver and busybox ready in $OUT"
}
main "$@"
