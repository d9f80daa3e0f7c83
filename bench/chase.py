#!/usr/bin/env python3
"""bench/chase.py BUILD_DIR CLOISON ROUNDS: the pointer chase of bench/guest/chase.c under cloison and
QEMU TCG (alternating), and natively (bench/chase_host.c), in ns a step: each VMM's time for the
long chase less its time for a short one (the same setup), over the steps between them."""
import statistics
import subprocess
import sys
import time

build, cloison, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
LONG, SHORT = 10_000_000, 1_000


def argv(vmm, program):
    if vmm == "cloison":
        return [cloison, "run", "--firmware", "none", "--kernel", program, "-m", "512"]
    return ["qemu-system-riscv64", "-M", "virt", "-m", "512M", "-bios", "none", "-kernel", program,
            "-nographic", "-smp", "1"]


def run(vmm, program):
    start = time.monotonic()
    p = subprocess.run(argv(vmm, program), stdin=subprocess.DEVNULL, capture_output=True, timeout=900)
    took = time.monotonic() - start
    if p.returncode != 0 or b"chase ends at node" not in p.stdout:
        sys.exit(f"chase: {vmm} {program} failed ({p.returncode}): {p.stdout[-300:]!r} {p.stderr[-300:]!r}")
    return took


def host(pages):
    return float(subprocess.run([f"{build}/chase_host", pages], capture_output=True, text=True,
                                check=True).stdout)


per_step = {}
for r in range(rounds):
    for pages in ("4k", "2m"):
        for vmm in ("cloison", "qemu") if r % 2 == 0 else ("qemu", "cloison"):
            short = run(vmm, f"{build}/chase-{pages}-short")
            long = run(vmm, f"{build}/chase-{pages}-long")
            per_step.setdefault((vmm, pages), []).append((long - short) / (LONG - SHORT) * 1e9)
        per_step.setdefault(("host", pages), []).append(host("thp" if pages == "2m" else "4k"))
    print(f"round {r + 1}: " + ", ".join(f"{v} {p} {s[-1]:.0f}" for (v, p), s in per_step.items()), flush=True)

print("guest pages  cloison    qemu    host  ratio (cloison/qemu, median of rounds)  cloison/host")
for pages, name in (("4k", "4 KiB"), ("2m", "2 MiB")):
    c, q, h = per_step[("cloison", pages)], per_step[("qemu", pages)], per_step[("host", pages)]
    ratio = statistics.median(a / b for a, b in zip(c, q))
    print(f"{name:11} {statistics.median(c):8.0f} {statistics.median(q):7.0f} {statistics.median(h):7.0f}"
          f"  {ratio:5.2f}{'':35}{statistics.median(c) / statistics.median(h):5.2f}")
