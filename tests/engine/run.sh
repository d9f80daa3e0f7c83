#!/usr/bin/env bash
# Engine tests on the bare board (--firmware none, 2 harts): self-modifying code (smc.c), SMP
# atomics (atomics.c), debug triggers on translated code (triggers.c), minstret through translated
# loops with jumps inside (instret.c) and the extensions QEMU
# cannot check, in hot loops (ext.c). Each program prints "PASS <name>" and finishes with code 0.
# Usage: run.sh CLOISON_BINARY WORKDIR [CLOISON_RUN_OPTIONS...]
set -euo pipefail
cloison=$1
work=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
CC=${RISCV_CC:-riscv64-linux-gnu-gcc}
command -v "$CC" >/dev/null || { echo "SKIP: $CC not installed (scripts/setup.sh installs it)"; exit 77; }
mkdir -p "$work"
FL="-O2 -march=rv64gc -mabi=lp64d -mcmodel=medany -nostdlib -ffreestanding -fno-pic -static -Wl,--no-relax
    -Wl,--no-warn-rwx-segments -Wl,--build-id=none -T $here/../diff/bare.ld -Wall -Werror"
fail=0
for t in smc atomics triggers ext instret; do
  # shellcheck disable=SC2086
  $CC $FL -o "$work/$t" "$here/crt.S" "$here/plat.c" "$here/$t.c"
  if out=$(timeout 120 "$cloison" run "$@" --cpus 2 --firmware none --kernel "$work/$t" < /dev/null 2>&1) &&
     grep -qx "PASS $t" <<< "$out"; then
    echo "PASS: $t (cloison run $*)"
  else
    echo "FAIL: $t (cloison run $*):"; echo "$out" | tail -n 20
    fail=1
  fi
done
exit $fail
