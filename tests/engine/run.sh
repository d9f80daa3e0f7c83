#!/usr/bin/env bash
# Engine tests on the bare board (--firmware none, 2 harts): self-modifying code (smc.c), SMP
# atomics (atomics.c), debug triggers on translated code (triggers.c), minstret through translated
# loops with jumps inside and one longer than a block's usual main path (instret.c), the extensions QEMU
# cannot check, in hot loops (ext.c), the vector copy loop Linux copies user memory with (vcopy.c),
# a loop whose block lends the pinned registers it never names to others (regs.c) and a chained
# jump remembered across a code-cache flush (cacheflush.c, with a 1 MiB cache). Each program
# prints "PASS <name>" and finishes with code 0.
# fp.c prints a checksum of F/D results and flags in a hot function, randcode.c one of what 400
# random programs (integer and F/D, partly compressed, loads and stores around page boundaries,
# forward branches, out-of-line arms, inner loops) leave in registers, fcsr and memory: the same
# under the given options as under --jit off.
# megaprobe.c: translated (--jit on), its probes must have turned to the 2 MiB table and back
# and those with their slot from a base on another page than their bytes taken it off the base
# (--stats counts both); hintprobe.c: translated, loads must have taken page hints and some
# given them up (--stats counts both); pair.c: U-mode compare pairs (a load and bne, another load
# and bne to the same place, taken as one branch) against C, minstret included; scaled.c: shifts by 1-3 whose result an add takes next (the
# add made one lea), and forward.c: a register kept in the hart read right after it was stored
# there (from the host register it came from, unless a jump leads to the reader), and flags.c:
# pairs of branches on the same registers (the second reusing the first's compare) and branches on
# zero right after the operation that wrote their register (its flags), zext.c:
# zero-extensions (slli 32, srli) with other instructions between the shifts, rotate.c: rotates
# written as two shifts and an or (one host rotate) and the cases that must not merge, and sext.c: W results
# before forward branches and jumps whose targets read them whole, all against the sum C
# computes; straddle.c: a U-mode loop through an instruction that runs onto the next page,
# that page then mapped elsewhere and rewritten, against the sums the instruction then gives;
# crosspage.c: the same for a U-mode loop whose branch leads to an arm on the next page (a tail
# taken into the loop's block);
# calls.c: calls and returns (predicted by translated code), a million deep, indirect, returning
# elsewhere than after the call, and in S-mode across a remap of the caller's code page.
# tlbcount.c and pair.c run under the given options and under --jit off with --stats: both must
# report the same number of data TLB lookups for hart 0 (tlbcount's at least the accesses it makes);
# under --jit on, pair's blocks must patch their chained jumps only a few dozen times in all.
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
for t in smc atomics triggers ext instret tlbcount fp vcopy regs probes megaprobe hintprobe pair scaled forward flags zext rotate sext straddle crosspage calls cacheflush randcode; do
  # shellcheck disable=SC2086
  $CC $FL -o "$work/$t" "$here/crt.S" "$here/plat.c" "$here/$t.c"
  cache_mb=0 # the default code cache; cacheflush flushes a 1 MiB one many times
  [ "$t" = cacheflush ] && cache_mb=1
  if out=$(CLOISON_JIT_CACHE_MB=$cache_mb timeout 120 "$cloison" run "$@" --cpus 2 --firmware none \
             --kernel "$work/$t" < /dev/null 2>&1) &&
     grep -qx "PASS $t" <<< "$out"; then
    echo "PASS: $t (cloison run $*)"
  else
    echo "FAIL: $t (cloison run $*):"; echo "$out" | tail -n 20
    fail=1
  fi
done
# What --stats prints for test $1 (the sed expression $2 picks it out) under the options after them.
stat_of() {
  local t=$1 pick=$2
  shift 2
  timeout 120 "$cloison" run "$@" --stats --cpus 2 --firmware none --kernel "$work/$t" < /dev/null 2>&1 |
    sed -n "$pick"
}
# hart 0's data TLB lookups (--stats) for test $1 under the options after it
lookups() {
  local t=$1
  shift
  stat_of "$t" 's/.*stats: hart 0 TLB: \([0-9]*\) data accesses looked up.*/\1/p' "$@"
}
# tlbcount: 20000 passes of 2 loads and a store, 313 of them with a store and a load across a page
# (60626); pair: compare pairs, whose second load runs only when the first compare is equal.
for t in tlbcount:60626 pair:1; do
  name=${t%:*} least=${t#*:}
  given=$(lookups "$name" "$@")
  interp=$(lookups "$name" "$@" --jit off)
  if [ -n "$given" ] && [ "$given" = "$interp" ] && [ "$given" -ge "$least" ]; then
    echo "PASS: $name lookups $given (cloison run $*) = $interp (--jit off)"
  else
    echo "FAIL: $name lookups '$given' (cloison run $*) vs '$interp' (--jit off), at least $least expected"
    fail=1
  fi
done
# A test's checksum (its line "PREFIX n") under the given options must equal the one under --jit off.
same_as_interpreter() {
  local t=$1 prefix=$2 given interp
  shift 2
  given=$(timeout 120 "$cloison" run "$@" --cpus 2 --firmware none --kernel "$work/$t" < /dev/null 2>&1 |
    sed -n "s/^$prefix //p")
  interp=$(timeout 120 "$cloison" run "$@" --jit off --cpus 2 --firmware none --kernel "$work/$t" \
    < /dev/null 2>&1 | sed -n "s/^$prefix //p")
  if [ -n "$given" ] && [ "$given" = "$interp" ]; then
    echo "PASS: $t checksum $given (cloison run $*) = --jit off"
  else
    echo "FAIL: $t checksum '$given' (cloison run $*) vs '$interp' (--jit off)"
    fail=1
  fi
}
same_as_interpreter fp FPSUM "$@"
same_as_interpreter randcode RANDSUM "$@"
# PASS when the number $2 (what $1 names) lies in [$3, $4] ($4 empty: no bound above), else FAIL.
expect_range() {
  local what=$1 n=$2 lo=$3 hi=$4
  shift 4
  if [ -n "$n" ] && [ "$n" -ge "$lo" ] && { [ -z "$hi" ] || [ "$n" -le "$hi" ]; }; then
    echo "PASS: $what $n (cloison run $*)"
  else
    echo "FAIL: $what '$n' (cloison run $*), $lo to ${hi:-any} expected"
    fail=1
  fi
}
if [[ " $* " == *" --jit on "* ]]; then
  turns=$(stat_of megaprobe 's/.*stats: hart 0 TLB: .* \([0-9]*\) probes turned.*/\1/p' "$@")
  expect_range "megaprobe: probes turned" "$turns" 2 "" "$@"
  # u_edge's two loads and u_edge_store's two stores find their slot from the base (bextr: BMI1)
  # until their accesses off a base on another page move it off; without bextr none does.
  unbased=$(stat_of megaprobe 's/.*stats: hart 0 TLB: .* \([0-9]*\) probes took their slot off.*/\1/p' "$@")
  if [ -z "${CLOISON_JIT_NO_BMI:-}" ] && grep -qw bmi1 /proc/cpuinfo; then
    expect_range "megaprobe: probes that took their slot off the base" "$unbased" 4 "" "$@"
  else
    expect_range "megaprobe: probes that took their slot off the base (no bextr)" "$unbased" 0 0 "$@"
  fi
  hints=$(stat_of hintprobe \
    's/.*stats: hart 0 TLB: .* \([0-9]*\) loads took a page hint, \([0-9]*\) gave.*/\1 \2/p' "$@")
  expect_range "hintprobe: loads that took a page hint" "${hints% *}" 1 "" "$@"
  expect_range "hintprobe: hints given up" "${hints#* }" 1 "" "$@"
  # pair's 28 M instructions return to the run loop over 400 times from a loop's chained back edge:
  # its jump must not be patched again each time (a store to code the host pays for), so its few
  # blocks make a few dozen patches at most.
  chains=$(stat_of pair 's/.*stats: hart 0 engine: .* \([0-9]*\) chained jumps.*/\1/p' "$@")
  expect_range "pair: chained jumps" "$chains" 1 100 "$@"
  # ... and the host code its blocks took is counted (a few blocks of a few KiB each).
  code=$(stat_of pair 's/.*stats: hart 0 engine: [0-9]* blocks translated (\([0-9]*\) KiB of code).*/\1/p' "$@")
  expect_range "pair: KiB of translated code" "$code" 1 4096 "$@"
fi
same_as_interpreter probes PROBESUM "$@"
exit $fail
