#!/usr/bin/env bash
# bench/chase.sh — a pointer chase over 64 MiB in a U-mode guest (bench/guest/chase.c, bare metal)
# under cloison and QEMU TCG side by side, with 4 KiB and 2 MiB guest pages, against the same chase
# run natively (bench/chase_host.c): ns a step. The floor under the compressors' tree walks.
#   ROUNDS=3 CLOISON=build/cloison bench/chase.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${RISCV_CC:-riscv64-linux-gnu-gcc}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
FL="-O2 -march=rv64gc -mabi=lp64d -mcmodel=medany -nostdlib -ffreestanding -fno-pic -static -Wl,--no-relax
    -Wl,--no-warn-rwx-segments -Wl,--build-id=none -T tests/diff/bare.ld -Itests/engine -Wall -Werror"
for pages in 4k 2m; do
  mega=""
  [ "$pages" = 2m ] && mega=-DMEGA
  for len in short:1000 long:10000000; do
    # shellcheck disable=SC2086
    $CC $FL $mega -DSTEPS="${len#*:}" -o "$out/chase-$pages-${len%:*}" tests/engine/crt.S tests/engine/plat.c \
      bench/guest/chase.c
  done
done
cc -O2 -Wall -Werror -o "$out/chase_host" bench/chase_host.c
python3 bench/chase.py "$out" "${CLOISON:-build/cloison}" "${ROUNDS:-3}"
