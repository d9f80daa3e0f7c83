#!/usr/bin/env bash
# Boot benchmark: the same kernel, initrd and firmware booted to the guest's
# userspace marker and powered off, under cloison and under
# qemu-system-riscv64 -M virt (TCG), alternating. Prints every run, both
# medians and the ratio cloison/QEMU, and cloison's guest MIPS.
#   RUNS=5 CPUS=1 MEM=256 bench/boot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
CPUS=${CPUS:-1}
MEM=${MEM:-256}
CLOISON=${CLOISON:-build/cloison}
G=${CLOISON_CACHE:-$HOME/.cache/cloison}/guest
FW=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
APPEND="console=ttyS0 quiet cloison_poweroff=1"
MARKER="cloison-guest: userspace ready"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

command -v qemu-system-riscv64 >/dev/null || { echo "qemu-system-riscv64 missing (scripts/setup.sh)"; exit 1; }

now_ms() { date +%s%3N; }

run_one() { # name -> prints milliseconds; fails if the marker is missing
  local name=$1 log=$out/$1.log t0 t1
  t0=$(now_ms)
  if [ "$name" = cloison ]; then
    timeout 300 "$CLOISON" run --stats --kernel "$G/Image" --initrd "$G/initrd.gz" --firmware "$FW" \
      --mem "$MEM" --cpus "$CPUS" --append "$APPEND" < /dev/null > "$log" 2> "$out/stats"
  else
    timeout 300 qemu-system-riscv64 -M virt -m "$MEM" -smp "$CPUS" -nographic -bios "$FW" \
      -kernel "$G/Image" -initrd "$G/initrd.gz" -append "$APPEND" -no-reboot < /dev/null > "$log" 2>&1
  fi
  t1=$(now_ms)
  grep -q "$MARKER" "$log" || { echo "$name: no userspace marker" >&2; tail -5 "$log" >&2; return 1; }
  echo $((t1 - t0))
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "boot to userspace + poweroff: $(cat "$G/kernel.version"), ${MEM} MiB, ${CPUS} hart(s), $RUNS runs each"
printf '%-4s %12s %12s %10s\n' run cloison_ms qemu_ms cl_MIPS
: > "$out/c"; : > "$out/q"; : > "$out/m"
for i in $(seq 1 "$RUNS"); do
  c=$(run_one cloison); q=$(run_one qemu)
  mips=$(sed -n 's/.* \([0-9.]*\) MIPS.*/\1/p' "$out/stats" | head -n1)
  echo "$c" >> "$out/c"; echo "$q" >> "$out/q"; echo "$mips" >> "$out/m"
  printf '%-4s %12s %12s %10s\n' "$i" "$c" "$q" "$mips"
done
mc=$(median < "$out/c"); mq=$(median < "$out/q"); mm=$(median < "$out/m")
echo "median: cloison ${mc} ms, qemu ${mq} ms, ratio cloison/qemu = $(awk -v a="$mc" -v b="$mq" 'BEGIN {printf "%.2f", a / b}'), cloison ${mm} MIPS"
