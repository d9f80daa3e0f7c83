#!/usr/bin/env python3
"""smp_soak.py — boots the default guest with two harts again and again, to shake out hangs
that show once in many boots: each boot must reach userspace and power off within TIMEOUT
seconds, alternating the translator and the interpreter (--jit on / --jit off). A boot past its
time is stopped with SIGTERM, which makes `cloison run --stats` print every hart's pc and
privilege; its console log and those lines are kept in OUTDIR. Prints one line per boot and a
summary per engine (boots, hangs, other failures, median seconds).

Usage: bench/smp_soak.py CLOISON [BOOTS_PER_ENGINE (default 200)] [OUTDIR] [TIMEOUT_S (default 90)]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from guest import guest_dir  # noqa: E402

FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
MARKER = "cloison-guest: userspace ready (2 cpus)"


def boot(cloison, jit, timeout, outdir, n):
    g = guest_dir()
    argv = [cloison, "run", "--stats", "--jit", jit, "--cpus", "2", "--mem", "256",
            "--kernel", os.path.join(g, "Image"), "--initrd", os.path.join(g, "initrd.gz"),
            "--firmware", FW, "--append", "console=ttyS0 quiet cloison_poweroff=1"]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        p.terminate()  # --stats prints each hart's pc on the way out
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        hung = True
    secs = time.monotonic() - t0
    log = out.decode(errors="replace")
    stats = err.decode(errors="replace")
    ok = not hung and p.returncode == 0 and MARKER in log
    if not ok:
        base = os.path.join(outdir, f"{'hang' if hung else 'fail'}-{jit}-{n}")
        with open(base + ".console", "w") as f:
            f.write(log)
        with open(base + ".stats", "w") as f:
            f.write(stats)
        for line in stats.splitlines():
            if "stopped at pc" in line:
                print("   ", line.strip(), flush=True)
    return ok, hung, secs


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cloison = sys.argv[1]
    boots = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    outdir = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="smp-soak-")
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 90
    os.makedirs(outdir, exist_ok=True)
    res = {"on": [], "off": []}
    for n in range(boots):
        for jit in ("on", "off"):
            ok, hung, secs = boot(cloison, jit, timeout, outdir, n)
            res[jit].append((ok, hung, secs))
            state = "ok" if ok else "HANG" if hung else "FAIL"
            print(f"boot {n} jit={jit}: {state} {secs:.1f} s", flush=True)
    for jit, r in res.items():
        hangs = sum(1 for ok, hung, _ in r if hung)
        fails = sum(1 for ok, hung, _ in r if not ok and not hung)
        good = [s for ok, _, s in r if ok]
        med = statistics.median(good) if good else 0
        print(f"jit {jit}: {len(r)} boots, {hangs} hangs, {fails} other failures, median {med:.1f} s")
    print(f"logs of failed boots: {outdir}")
    sys.exit(1 if any(not ok for r in res.values() for ok, _, _ in r) else 0)


if __name__ == "__main__":
    main()
