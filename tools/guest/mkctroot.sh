#!/usr/bin/env bash
# Builds a container root filesystem: Debian's statically linked busybox
# (package busybox-static, installed by scripts/setup.sh) with its applet
# links, /etc/passwd and group, and an inittab so `/sbin/init` gives a shell on
# the container's console (respawned when it exits, like a getty) and halts when
# `cloison ct stop` asks. Used by the container tests and bench/container.sh.
# Usage: mkctroot.sh OUTDIR   (rebuilt only when missing or older than this script)
set -euo pipefail

OUT=${1:?usage: mkctroot.sh OUTDIR}
BB=/bin/busybox
[ -x "$BB" ] && "$BB" --list-full >/dev/null 2>&1 || {
  echo "mkctroot: $BB (package busybox-static) is missing: run scripts/setup.sh" >&2; exit 1; }
if [ -f "$OUT/.complete" ] && [ "$OUT/.complete" -nt "$0" ] && [ "$OUT/.complete" -nt "$BB" ]; then exit 0; fi

rm -rf "$OUT.part"
mkdir -p "$OUT.part"
cd "$OUT.part"
mkdir -p bin sbin usr/bin usr/sbin etc root tmp proc sys dev var/log
chmod 1777 tmp
cp "$BB" bin/busybox
for applet in $("$BB" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$(dirname "$applet")"
  ln -sf /bin/busybox "$applet"
done
cat > etc/passwd <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > etc/group <<'G'
root:x:0:
tty:x:5:
nogroup:x:65534:
G
# busybox init: a shell on the console; it reaps orphans and halts on SIGPWR (`ct stop`) like a real init.
mkdir -p etc/init.d
cat > etc/init.d/console <<'C'
#!/bin/sh
# The console's shell. Without a terminal there is nobody to talk to: idle rather than respawn.
[ -t 0 ] || exec sleep 2147483647
exec /bin/sh -l
C
chmod 755 etc/init.d/console
cat > etc/inittab <<'I'
::respawn:/etc/init.d/console
::ctrlaltdel:/bin/true
I
echo 'export PS1="\h:\w# "' > etc/profile
touch .complete
cd ..
rm -rf "$OUT"
mv "$OUT.part" "$OUT"
echo "mkctroot: $OUT" >&2
