#!/usr/bin/env bash
# Fetches the default guest's packages from Debian's archive and verifies them.
#
# The archive address is derived at run time from this machine's apt sources
# (never written in the repo). Trust chain: InRelease is checked with gpgv against
# the Debian archive keyring, Packages.xz against the InRelease SHA256, each .deb
# against the Packages SHA256. Everything is cached under ~/.cache/cloison.
#
# Output (in $CLOISON_CACHE/guest): Image (riscv64 kernel), modules/ (kernel
# modules tree), busybox (static riscv64), kernel.version.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

SUITE=${CLOISON_GUEST_SUITE:-trixie}
ARCH=riscv64
CACHE=${CLOISON_CACHE:-$HOME/.cache/cloison}
OUT=$CACHE/guest
DL=$CACHE/downloads
KEYRING=${CLOISON_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
mkdir -p "$OUT" "$DL"

log() { echo "guest-fetch: $*" >&2; }
die() { echo "guest-fetch: error: $*" >&2; exit 1; }

# The first http(s) URI of a Debian (not -security) source, from deb822 or one-line lists.
archive_uri() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f" |
          grep -E '^https?://' | grep -v -- '-security' | grep -E '/debian/?$' | head -n1 || true)
    [ -n "$uri" ] && { echo "${uri%/}"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; break } }' "$f" |
          grep -v -- '-security' | grep -E '/debian/?$' | head -n1 || true)
    [ -n "$uri" ] && { echo "${uri%/}"; return; }
  done
  die "no Debian archive found in the apt sources"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch URL DEST SHA256: download unless DEST already has the checksum.
fetch() {
  local url=$1 dest=$2 want=$3
  if [ -f "$dest" ] && [ "$(sha256_of "$dest")" = "$want" ]; then return; fi
  log "downloading ${url##*/}"
  curl -fsSL --retry 3 -o "$dest.part" "$url" || die "download failed: ${url##*/}"
  [ "$(sha256_of "$dest.part")" = "$want" ] || { rm -f "$dest.part"; die "checksum mismatch: ${url##*/}"; }
  mv "$dest.part" "$dest"
}

# Field $2 of the Packages stanza of package $1.
pkg_field() {
  awk -v pkg="$1" -v field="$2" '
    /^Package: / { cur = $2 }
    cur == pkg && index($0, field ": ") == 1 { print substr($0, length(field) + 3); exit }
  ' "$DL/Packages"
}

main() {
  if [ -f "$OUT/.complete" ] && [ -f "$OUT/Image" ] && [ -z "${CLOISON_REFETCH:-}" ]; then
    return
  fi
  local mirror; mirror=$(archive_uri)
  local dists=$mirror/dists/$SUITE

  curl -fsSL --retry 3 -o "$DL/InRelease" "$dists/InRelease" || die "cannot fetch InRelease for $SUITE"
  if [ -r "$KEYRING" ]; then
    gpgv --keyring "$KEYRING" "$DL/InRelease" >/dev/null 2>&1 || die "InRelease signature does not verify"
  else
    die "no archive keyring at $KEYRING (install debian-archive-keyring)"
  fi
  local pk_sha
  pk_sha=$(awk '/^SHA256:/ { s = 1; next } /^[A-Za-z]/ { s = 0 }
                s && $3 == "main/binary-'$ARCH'/Packages.xz" { print $1; exit }' "$DL/InRelease")
  [ -n "$pk_sha" ] || die "InRelease lists no main/binary-$ARCH/Packages.xz"
  fetch "$dists/main/binary-$ARCH/Packages.xz" "$DL/Packages.xz" "$pk_sha"
  xz -dc "$DL/Packages.xz" > "$DL/Packages"

  # The kernel the metapackage points to, e.g. linux-image-6.12.48+deb13-riscv64.
  local kpkg
  kpkg=$(pkg_field linux-image-riscv64 Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*-riscv64\).*/\1/p' | head -n1)
  [ -n "$kpkg" ] || die "cannot resolve linux-image-riscv64"
  local pkg file sha debs=()
  for pkg in "$kpkg" busybox-static; do
    file=$(pkg_field "$pkg" Filename); sha=$(pkg_field "$pkg" SHA256)
    [ -n "$file" ] && [ -n "$sha" ] || die "package $pkg not in the index"
    fetch "$mirror/$file" "$DL/${file##*/}" "$sha"
    debs+=("$DL/${file##*/}")
  done

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
