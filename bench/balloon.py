#!/usr/bin/env python3
"""balloon.py — memory given back through virtio-balloon: cloison vs QEMU (TCG), same kernel, initrd,
firmware, a 512 MiB guest booted to its shell.

Inflation (free page reporting off on both sides: QEMU's default; cloison --free-page-reporting off):
the guest writes 180 MiB to its tmpfs and deletes it (its free memory is now host memory the VMM
holds), then the host asks it to keep 128 MiB (cloison: POST /vm/balloon {"memory_target"}; QEMU: QMP
`balloon`, on a virtio-balloon-device). Per VMM, medians of RUNS runs:
  rss before    the VMM process's RSS after the fill and the delete
  rss after     once the guest's balloon holds 384 MiB (cloison: actual_bytes; QEMU: query-balloon)
  given back    before - after
  inflate s     from the request to the balloon holding 384 MiB
Free page reporting (cloison's default; QEMU free-page-reporting=on): the same fill and delete with no
target: the RSS 5 s after the delete, and what that gave back.
Usage: balloon.py CLOISON RUNS
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lifecycle import FW, Qmp, api, qemu_argv, wait_socket  # noqa: E402,F401
from guest import Guest  # noqa: E402

MEM_MIB, KEEP_MIB, FILL_MIB = 512, 128, 180


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024


def until(cond, seconds=60):
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError("the balloon never reached its target")
        time.sleep(0.02)


def fill_and_free(g, pid):
    """RSS after the fill, and 5 s after the delete."""
    g.expect("guest# ")
    g.run(f"dd if=/dev/zero of=/fill bs=1M count={FILL_MIB} 2>/dev/null")
    filled = rss_mib(pid)
    g.run("rm /fill")
    time.sleep(5)
    return filled, rss_mib(pid)


def one_cloison(cloison, work, reporting):
    sock = os.path.join(work, "api.sock")
    g = Guest(None, argv=[cloison, "run", "-m", f"{MEM_MIB}M", "--api-sock", sock, "--free-page-reporting",
                          "on" if reporting else "off"], timeout=300)
    try:
        wait_socket(sock)
        filled, before = fill_and_free(g, g.proc.pid)
        if reporting:
            return filled, before
        t0 = time.monotonic()
        api(sock, "POST", "/vm/balloon", {"memory_target": KEEP_MIB << 20})
        until(lambda: api(sock, "GET", "/vm/balloon")["actual_bytes"] == (MEM_MIB - KEEP_MIB) << 20)
        return before, rss_mib(g.proc.pid), time.monotonic() - t0
    finally:
        g.kill()


def one_qemu(work, reporting):
    qmp_path = os.path.join(work, "qmp.sock")
    dev = "virtio-balloon-device" + (",free-page-reporting=on" if reporting else "")
    g = Guest(None, argv=qemu_argv(MEM_MIB, qmp_path, ("-device", dev)), timeout=300)
    try:
        q = Qmp(qmp_path)
        filled, before = fill_and_free(g, g.proc.pid)
        if reporting:
            q.close()
            return filled, before
        t0 = time.monotonic()
        q.cmd("balloon", value=KEEP_MIB << 20)
        until(lambda: q.cmd("query-balloon")["actual"] == KEEP_MIB << 20)
        t = time.monotonic() - t0
        q.close()
        return before, rss_mib(g.proc.pid), t
    finally:
        g.kill()


def main():
    cloison, runs = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    results = {"cloison": [], "qemu": []}
    reported = {"cloison": [], "qemu": []}
    with tempfile.TemporaryDirectory(prefix="cloison-bench-balloon-") as work:
        for i in range(runs):  # alternating, so drift hits both alike
            results["cloison"].append(one_cloison(cloison, work, False))
            results["qemu"].append(one_qemu(work, False))
            reported["cloison"].append(one_cloison(cloison, work, True))
            reported["qemu"].append(one_qemu(work, True))
            print(f"run {i + 1}: cloison {results['cloison'][-1][0]:.0f} -> {results['cloison'][-1][1]:.0f} MiB "
                  f"in {results['cloison'][-1][2]:.2f} s, qemu {results['qemu'][-1][0]:.0f} -> "
                  f"{results['qemu'][-1][1]:.0f} MiB in {results['qemu'][-1][2]:.2f} s", flush=True)
    print(f"\nBalloon: {MEM_MIB} MiB guest, {FILL_MIB} MiB written and freed, then asked to keep {KEEP_MIB} MiB; "
          f"medians of {runs} runs")
    print(f"{'vmm':<8} {'rss before':>11} {'rss after':>10} {'given back':>11} {'inflate s':>10}")
    med = {}
    for vmm, rows in results.items():
        before, after, secs = (statistics.median(r[k] for r in rows) for k in range(3))
        given = statistics.median(r[0] - r[1] for r in rows)
        med[vmm] = (before, after, given, secs)
        print(f"{vmm:<8} {before:>9.0f} M {after:>8.0f} M {given:>9.0f} M {secs:>10.2f}")
    c, q = med["cloison"], med["qemu"]
    print(f"ratio cloison/qemu: rss after {c[1] / q[1]:.2f}, given back {c[2] / q[2]:.2f}, "
          f"inflate time {c[3] / q[3]:.2f}")
    print(f"\nFree page reporting: {FILL_MIB} MiB written and freed, no target; RSS 5 s later, medians")
    print(f"{'vmm':<8} {'rss filled':>11} {'rss 5 s':>8} {'given back':>11}")
    back = {}
    for vmm, rows in reported.items():
        filled, later = (statistics.median(r[k] for r in rows) for k in range(2))
        back[vmm] = statistics.median(r[0] - r[1] for r in rows)
        print(f"{vmm:<8} {filled:>9.0f} M {later:>6.0f} M {back[vmm]:>9.0f} M")
    print(f"ratio cloison/qemu: given back {back['cloison'] / back['qemu']:.2f}" if back["qemu"] > 1 else
          "qemu gave nothing back")


if __name__ == "__main__":
    main()
