#!/usr/bin/env python3
"""cpu.py — compute speed under cloison and QEMU TCG, side by side.

Boots the benchmark guest (tools/guest/mkbench.sh: gzip, xz, 7-Zip, OpenSSL and Python from
Debian's riscv64 packages, busybox) under each VMM with the same kernel, firmware and initramfs,
alternating runs. The guest prints a marker line before and after each workload; the host
timestamps each line as it arrives, so a workload's time is measured by the host's clock, the
same way for both VMMs. Each workload prints a checksum of its result: the two VMMs must agree
(a mismatch is an emulation bug and fails the benchmark).

Each VMM first boots once untimed (a warm-up: the bench's first boot, cloison's, took 1.3-1.4x its
later boots' time in two runs on 2026-12-05), then the rounds alternate which VMM runs first.
Printed: the host's CPU (ratios differ between hosts), every run's times and that run's ratios, the
medians per workload, the ratio of the medians cloison/QEMU (below 1: cloison is faster) and the
median of the rounds' ratios (each from two runs back to back: less moved by the host's drift over
minutes), boot time to the guest's first marker, peak RSS; then, with SCALE, the same workloads two
copies at once on two harts against one copy on one hart run just before (time ratio: 1.0 = perfect
scaling).
Usage: cpu.py CLOISON INITRD RUNS [WORKLOADS (comma-separated)] [SCALE (0/1)] [JIT (on/off)]
"""
import os
import re
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from guest import guest_dir  # noqa: E402

FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
MEM = 1024
MARK = re.compile(r"cloison-bench: (ready|begin|end|done)\s*(\S*)\s*(.*)")


def argv(vmm, cloison, initrd, cpus, append, jit):
    g = guest_dir()
    kernel = os.path.join(g, "Image")
    if vmm == "cloison":
        return [cloison, "run", "--kernel", kernel, "--initrd", initrd, "--firmware", FW, "--mem", str(MEM),
                "--cpus", str(cpus), "--jit", jit, "--append", append]
    return ["qemu-system-riscv64", "-M", "virt", "-m", str(MEM), "-smp", str(cpus), "-nographic", "-bios", FW,
            "-kernel", kernel, "-initrd", initrd, "-append", append, "-no-reboot"]


def run_once(vmm, cloison, initrd, workloads, cpus=1, copies=1, jit="on"):
    """Boots once; returns ({workload: seconds}, {workload: result}, boot seconds, peak RSS MiB)."""
    append = f"console=ttyS0 quiet cloison_bench={','.join(workloads)} cloison_copies={copies}"
    t0 = time.monotonic()
    p = subprocess.Popen(argv(vmm, cloison, initrd, cpus, append, jit), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    times, results, began, boot, log = {}, {}, {}, None, []
    # A VMM that hangs without printing is killed all the same (the loop below waits on its output).
    watchdog = threading.Timer(1800, p.kill)
    watchdog.start()
    for raw in p.stdout:
        now = time.monotonic()
        line = raw.decode(errors="replace").rstrip()
        log.append(line)
        m = MARK.search(line)
        if m:
            kind, name, rest = m.groups()
            if kind == "ready":
                boot = now - t0
            elif kind == "begin":
                began[name] = now
            elif kind == "end":
                times[name] = now - began[name]
                results[name] = rest.strip()
    _, status, usage = os.wait4(p.pid, 0)
    timed_out = watchdog.finished.is_set()  # it fired (cancel comes after)
    watchdog.cancel()
    if timed_out:
        log.append(f"{vmm}: killed after 1800 s")
    p.returncode = os.waitstatus_to_exitcode(status)
    missing = [w for w in workloads if w not in times]
    failed = [w for w, r in results.items() if r.startswith("FAILED")]
    if missing or failed or boot is None:
        sys.stderr.write("\n".join(log[-30:]) + "\n")
        raise SystemExit(f"{vmm}: workloads missing {missing} or failed {failed}")
    return times, results, boot, usage.ru_maxrss / 1024


def host_cpu():
    """The host's CPU as /proc/cpuinfo names it. Ratios against QEMU differ between hosts (7-Zip's
    compression took 0.54 of QEMU's time on a Zen 5 under PVM, 0.43 on a Zen 1 under KVM:
    docs/board.md), so a result names its host."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        return "unknown CPU"
    flags = info.get("flags", "").split()
    return (f"{info.get('model name', '?')} (family {info.get('cpu family', '?')}, model {info.get('model', '?')}), "
            f"{os.cpu_count()} CPUs{', under a hypervisor' if 'hypervisor' in flags else ''}"
            f"{', AVX-512' if 'avx512f' in flags else ''}")


def fmt_ratio(a, b):
    return f"{a / b:.2f}" if b else "-"


def main():
    cloison, initrd, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    workloads = sys.argv[4].split(",") if len(sys.argv) > 4 and sys.argv[4] else [
        "gzip", "xz", "7zip", "openssl", "python", "lame", "shell", "forkexec"]
    scale = len(sys.argv) > 5 and sys.argv[5] == "1"
    jit = sys.argv[6] if len(sys.argv) > 6 else "on"
    t = {"cloison": {w: [] for w in workloads + ["boot"]}, "qemu": {w: [] for w in workloads + ["boot"]}}
    rss = {"cloison": [], "qemu": []}
    expect = None
    print(f"compute workloads, 1 hart, {MEM} MiB, {runs} alternating runs each (seconds, host clock)")
    print(f"host: {host_cpu()}")
    print(f"{'run':<4} {'vmm':<8} " + " ".join(f"{w:>9}" for w in workloads + ["boot"]) + f" {'rss_MiB':>8}")
    for vmm in ("cloison", "qemu"):  # warm-up, untimed
        run_once(vmm, cloison, initrd, workloads[:1], jit=jit)
    for i in range(1, runs + 1):
        for vmm in ("cloison", "qemu") if i % 2 else ("qemu", "cloison"):
            times, results, boot, peak = run_once(vmm, cloison, initrd, workloads, jit=jit)
            if expect is None:
                expect = results
            elif results != expect:
                raise SystemExit(f"{vmm}: results differ: {results} vs {expect}")
            for w in workloads:
                t[vmm][w].append(times[w])
            t[vmm]["boot"].append(boot)
            rss[vmm].append(peak)
            print(f"{i:<4} {vmm:<8} " + " ".join(f"{times[w]:9.2f}" for w in workloads) + f" {boot:9.2f} {peak:8.0f}",
                  flush=True)
        # This run's ratios (the pair just measured): a disturbed run shows here, not only in the medians.
        print(f"{i:<4} {'ratio':<8} " + " ".join(fmt_ratio(t["cloison"][w][-1], t["qemu"][w][-1]).rjust(9)
                                                 for w in workloads + ["boot"]) +
              f" {fmt_ratio(rss['cloison'][-1], rss['qemu'][-1]):>8}", flush=True)
    print(f"{'median':<13} {'cloison':>9} {'qemu':>9} {'ratio':>7} {'rounds':>7}  (cloison/qemu; below 1: "
          "cloison faster; rounds: the median of the rounds' ratios)")
    for w in workloads + ["boot"]:
        c, q = statistics.median(t["cloison"][w]), statistics.median(t["qemu"][w])
        rounds = statistics.median(a / b for a, b in zip(t["cloison"][w], t["qemu"][w]))
        print(f"{w:<13} {c:9.2f} {q:9.2f} {fmt_ratio(c, q):>7} {rounds:7.2f}")
    c, q = statistics.median(rss["cloison"]), statistics.median(rss["qemu"])
    print(f"{'peak_rss_MiB':<13} {c:9.0f} {q:9.0f} {fmt_ratio(c, q):>7}")
    if not scale:
        return
    # Each two-copy run is paired with a one-copy run just before it (this host's speed drifts over
    # minutes: a ratio of medians taken minutes apart measured the drift); the median of the pairs'
    # ratios is printed.
    print("scaling: two copies at once on 2 harts / one copy on 1 hart, run back to back "
          "(median of the pairs' time ratios; 1.00 = perfect)")
    for vmm in ("cloison", "qemu"):
        ratios = {w: [] for w in workloads}
        for _ in range(runs):
            one, _, _, _ = run_once(vmm, cloison, initrd, workloads, jit=jit)
            two, _, _, _ = run_once(vmm, cloison, initrd, workloads, cpus=2, copies=2, jit=jit)
            for w in workloads:
                ratios[w].append(two[w] / one[w])
        print(f"{vmm:<8} " + " ".join(f"{w}={statistics.median(ratios[w]):.2f}" for w in workloads),
              flush=True)


if __name__ == "__main__":
    main()
