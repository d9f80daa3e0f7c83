# archive.sh — sourced by the guest builders: reaching Debian's archive and fetching verified packages.
#
# The archive address is derived at run time from this machine's apt sources
# (never written in the repo). Trust chain: InRelease is checked with gpgv against
# the Debian archive keyring, Packages.xz against the InRelease SHA256, each .deb
# against the Packages SHA256. Downloads are cached under $CLOISON_CACHE/downloads.
#
# The caller sets `log` and `die` (functions) and calls archive_index once, then
# archive_deb PKG as often as it likes (prints the cached .deb's path).

SUITE=${CLOISON_GUEST_SUITE:-trixie}
ARCH=riscv64
CACHE=${CLOISON_CACHE:-$HOME/.cache/cloison}
DL=$CACHE/downloads
KEYRING=${CLOISON_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
mkdir -p "$DL"

# The first http(s) URI of a Debian (not -security) source, from deb822 or one-line lists.
# apt_source_uris: every http(s) archive address in the machine's apt sources (deb822 files first, then
# one-line ones), one per line, without a trailing slash.
apt_source_uris() {
  local f
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ ! -f "$f" ] || awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ ! -f "$f" ] || awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; break } }' "$f"
    done
  } | grep -E '^https?://' | sed 's:/*$::' || true
}

# archive_uri: Debian's archive from the apt sources (not its security archive).
archive_uri() {
  local uri
  uri=$(apt_source_uris | grep -v -- '-security' | grep -E '/debian$' | head -n1 || true)
  [ -n "$uri" ] || die "no Debian archive found in the apt sources"
  echo "$uri"
}

# security_uri: Debian's security archive from the apt sources ("" when they name none).
security_uri() { apt_source_uris | grep -E -- '-security$' | head -n1 || true; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# human_size BYTES: "112 MB", "740 kB", "12 B".
human_size() {
  awk -v b="$1" 'BEGIN { if (b >= 1e9) printf "%.1f GB", b / 1e9; else if (b >= 1e6) printf "%.0f MB", b / 1e6;
                         else if (b >= 1e3) printf "%.0f kB", b / 1e3; else printf "%d B", b }'
}

# fetch URL DEST SHA256: download unless DEST already has the checksum. On a terminal curl shows
# its meter (bytes, rate, time left); in a log there is one line before and one line after.
fetch() {
  local url=$1 dest=$2 want=$3 t0 secs bytes
  if [ -f "$dest" ] && [ "$(sha256_of "$dest")" = "$want" ]; then return; fi
  log "downloading ${url##*/}${FETCH_SIZE:+ ($(human_size "$FETCH_SIZE"))}"
  t0=$(date +%s.%N)
  if [ -t 2 ]; then
    curl -fSL --retry 3 -o "$dest.part" "$url" || die "download failed: ${url##*/}"
  else
    curl -fsSL --retry 3 -o "$dest.part" "$url" || die "download failed: ${url##*/}"
    bytes=$(stat -c %s "$dest.part")
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { d = b - a; printf "%.1f", d < 0.05 ? 0.05 : d }')
    log "downloaded ${url##*/}: $(human_size "$bytes") in ${secs} s" \
        "($(human_size "$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%d", b / s }')")/s)"
  fi
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

# Fetches and verifies the suite's package index ($DL/Packages); sets MIRROR.
archive_index() {
  MIRROR=$(archive_uri)
  local dists=$MIRROR/dists/$SUITE pk_sha
  curl -fsSL --retry 3 -o "$DL/InRelease" "$dists/InRelease" || die "cannot fetch InRelease for $SUITE"
  [ -r "$KEYRING" ] || die "no archive keyring at $KEYRING (install debian-archive-keyring)"
  gpgv --keyring "$KEYRING" "$DL/InRelease" >/dev/null 2>&1 || die "InRelease signature does not verify"
  pk_sha=$(awk '/^SHA256:/ { s = 1; next } /^[A-Za-z]/ { s = 0 }
                s && $3 == "main/binary-'$ARCH'/Packages.xz" { print $1; exit }' "$DL/InRelease")
  [ -n "$pk_sha" ] || die "InRelease lists no main/binary-$ARCH/Packages.xz"
  fetch "$dists/main/binary-$ARCH/Packages.xz" "$DL/Packages.xz" "$pk_sha"
  xz -dc "$DL/Packages.xz" > "$DL/Packages"
}

# archive_deb PKG: downloads PKG's .deb (verified) and prints its path.
archive_deb() {
  local file sha
  file=$(pkg_field "$1" Filename); sha=$(pkg_field "$1" SHA256)
  [ -n "$file" ] && [ -n "$sha" ] || die "package $1 not in the index"
  FETCH_SIZE=$(pkg_field "$1" Size) fetch "$MIRROR/$file" "$DL/${file##*/}" "$sha"
  echo "$DL/${file##*/}"
}
