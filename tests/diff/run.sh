#!/usr/bin/env bash
# Differential test: the same RISC-V program under qemu-riscv64 (reference,
# Linux user mode) and under cloison (bare metal, --firmware none). Every
# printed result line (values and FP exception flags) must be identical.
# Usage: run.sh CLOISON_BINARY WORKDIR [CLOISON_RUN_OPTIONS...]
# DIFF_MARCH selects the ISA the program is built for (default rv64gc); QEMU_CPU, the CPU
# qemu-riscv64 emulates (it reads that variable itself).
set -euo pipefail
cloison=$1
work=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
CC=${RISCV_CC:-riscv64-linux-gnu-gcc}
command -v "$CC" >/dev/null || { echo "SKIP: $CC not installed (scripts/setup.sh installs it)"; exit 77; }
command -v qemu-riscv64 >/dev/null || { echo "SKIP: qemu-riscv64 not installed"; exit 77; }
mkdir -p "$work"
FL="-O1 -march=${DIFF_MARCH:-rv64gc} -mabi=lp64d -nostdlib -ffreestanding -fno-pic -static -Wl,--no-relax
    -ffixed-ft0 -ffixed-ft1 -ffixed-ft2 -ffixed-ft3 -Wall -Wno-unused-function"
# shellcheck disable=SC2086
$CC $FL -o "$work/prog_user" "$here/crt_user.S" "$here/plat_user.c" "$here/prog.c"
# shellcheck disable=SC2086
$CC $FL -mcmodel=medany -Wl,--no-warn-rwx-segments -T "$here/bare.ld" -o "$work/prog_bare" \
    "$here/crt_bare.S" "$here/plat_bare.c" "$here/prog.c"
qemu-riscv64 "$work/prog_user" > "$work/qemu.txt"
# Known reference errors (qemu-errata.txt: pairs of lines after the comments) replaced by the spec's.
awk 'FNR == NR { if ($0 !~ /^#/) { if (n % 2 == 0) wrong = $0; else fix[wrong] = $0; n++ } next }
     ($0 in fix) { print fix[$0]; fixed++; next } { print }
     END { if (fixed) printf "%d reference line(s) corrected by qemu-errata.txt\n", fixed > "/dev/stderr" }' \
    "$here/qemu-errata.txt" "$work/qemu.txt" > "$work/reference.txt"
timeout 120 "$cloison" run "$@" --firmware none --kernel "$work/prog_bare" < /dev/null > "$work/cloison.txt"
lines=$(wc -l < "$work/reference.txt")
[ "$lines" -gt 5000 ] || { echo "FAIL: reference output too short ($lines lines)"; exit 1; }
tail -n1 "$work/reference.txt" | grep -qx done || { echo "FAIL: reference did not finish"; exit 1; }
if ! diff -u "$work/reference.txt" "$work/cloison.txt" > "$work/diff.txt"; then
  echo "FAIL: cloison differs from qemu-riscv64 on $(grep -c '^-[^-]' "$work/diff.txt") of $lines lines:"
  head -n 40 "$work/diff.txt"
  exit 1
fi
echo "PASS: $lines result lines identical to qemu-riscv64 (-march=${DIFF_MARCH:-rv64gc}, cloison run $*)"
