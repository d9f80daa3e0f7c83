#!/usr/bin/env bash
# Builds the compute benchmark's guest: real programs from Debian's riscv64 packages (gzip, xz,
# 7-Zip, OpenSSL, Python, LAME) with their libraries, busybox, and an init that runs the workloads
# named on the kernel command line and prints a marker line around each.
#
# Output: $CLOISON_CACHE/bench/initrd-<recipe>.gz (its path is printed), where <recipe> hashes
# this script, the workload files and the package versions: a changed recipe builds a new one.
# Kernel parameters:
#   cloison_bench=NAME,NAME,...   workloads to run in order (default: all of bench/guest/cpu/)
#   cloison_copies=N              run N copies of each workload at once (scaling over harts)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "mkbench: $*" >&2; }
die() { echo "mkbench: error: $*" >&2; exit 1; }
. "$here/archive.sh"
G=$CACHE/guest
WORK=$here/../../bench/guest/cpu
PKGS="libc6 libgcc-s1 libstdc++6 zlib1g libzstd1 liblzma5 libexpat1 libssl3t64 openssl-provider-legacy
      openssl gzip xz-utils 7zip libpython3.13-minimal python3.13-minimal
      lame libmp3lame0 libsndfile1 libflac14 libmpg123-0t64 libogg0 libopus0 libvorbis0a libvorbisenc2
      libtinfo6"
[ -f "$G/.complete" ] || die "run tools/guest/fetch.sh first (the busybox it caches)"

# The index is fetched at most once a day: the recipe is what we cached then.
if [ ! -f "$DL/Packages" ] || [ -n "$(find "$DL/Packages" -mmin +1440)" ]; then archive_index; else MIRROR=$(archive_uri); fi
versions=$(for p in $PKGS; do echo "$p $(pkg_field "$p" Version)"; done)
recipe=$( (cat "$0" "$WORK"/*; echo "$versions") | sha256sum | cut -c1-16)
OUT=$CACHE/bench/initrd-$recipe.gz
if [ -f "$OUT" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$CACHE/bench"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
r=$tmp/root
mkdir -p "$r"/{bin,sbin,etc,proc,sys,dev,tmp,usr/bin,usr/sbin,usr/lib}
# Debian's merged /usr: the packages ship under usr/, the loader is found through /lib.
ln -s usr/lib "$r/lib"
for p in $PKGS; do dpkg-deb -x "$(archive_deb "$p")" "$r"; done
rm -rf "$r/usr/share/doc" "$r/usr/share/man" "$r/usr/share/locale"
cp "$G/busybox" "$r/bin/busybox"; chmod 755 "$r/bin/busybox"
mkdir -p "$r/bench"; cp "$WORK"/* "$r/bench/"
cat > "$r/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s 2>/dev/null
export PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o size=400m tmpfs /tmp
cd /tmp
names=$(sed -n 's/.*\bcloison_bench=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
[ -n "$names" ] || names=$(ls /bench | sed -n 's/\.sh$//p' | grep -v '^00-')
copies=$(sed -n 's/.*\bcloison_copies=\([0-9]*\).*/\1/p' /proc/cmdline); copies=${copies:-1}
echo "cloison-bench: ready ($(nproc) cpus)"
sh /bench/00-prepare.sh
for n in $names; do
  echo "cloison-bench: begin $n"
  # Each copy works in its own directory; the result is the first copy's, and every copy must succeed.
  for c in $(seq $copies); do
    mkdir -p /tmp/$c; (cd /tmp/$c && sh /bench/$n.sh > /tmp/$c/.out 2>&1 || echo FAILED >> /tmp/$c/.out) &
  done
  wait
  if grep -q FAILED /tmp/*/.out; then res="FAILED: $(cat /tmp/*/.out)"; else res=$(tr '\n' ' ' < /tmp/1/.out); fi
  rm -rf /tmp/[0-9]*
  echo "cloison-bench: end $n $res"
done
echo "cloison-bench: done"
poweroff -f
INIT
chmod 755 "$r/init"
(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet | gzip -1 > "$OUT.part")
mv "$OUT.part" "$OUT"
log "$OUT ($(du -sh "$r" | cut -f1) unpacked)"
echo "$OUT"
