#!/usr/bin/env python3
"""share.py — a host directory shared with the guest over virtio-9p: cloison (--share, its own 9P2000.L
server) vs QEMU 7.2 TCG (-fsdev local,security_model=none with virtio-9p-device), same kernel, initrd,
firmware, 256 MiB, one hart, the guest mounting with trans=virtio,version=9p2000.L and the same msize.

In the guest, timed from the host around each command (the console round trip is the same for both):
  write   64 MiB with dd bs=1M, then sync (the host file is checked: 64 MiB)
  read    the same file back after dropping the guest's caches
  create  300 files of one line each in a new directory, then `ls -l` of it
Per VMM, medians of RUNS alternating runs; ratios cloison/qemu (for times: below 1 is faster).
Usage: share.py CLOISON RUNS
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lifecycle import qemu_argv  # noqa: E402
from guest import Guest  # noqa: E402

MIB, FILES = 64, 300
MOUNT = "mkdir -p /mnt/b && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 bench /mnt/b && echo mounted"


def timed(g, cmd, timeout=600):
    t0 = time.monotonic()
    out = g.run(cmd, timeout=timeout)
    return time.monotonic() - t0, out


def workload(g, share):
    g.expect("guest# ", timeout=300)
    if g.run(MOUNT) != "mounted":
        raise RuntimeError("the guest could not mount the share")
    w, _ = timed(g, f"dd if=/dev/zero of=/mnt/b/big bs=1M count={MIB} 2>/dev/null; sync")
    if os.path.getsize(os.path.join(share, "big")) != MIB << 20:
        raise RuntimeError("the host file is not complete")
    g.run("echo 3 > /proc/sys/vm/drop_caches")
    r, _ = timed(g, "cat /mnt/b/big > /dev/null")
    c, out = timed(g, f"mkdir /mnt/b/d && for i in $(seq {FILES}); do echo x > /mnt/b/d/f$i; done; "
                      "ls -l /mnt/b/d | wc -l")
    if out.strip() != str(FILES + 1):
        raise RuntimeError(f"ls saw {out!r}")
    return w, r, c


def one(argv, share):
    shutil.rmtree(share, ignore_errors=True)
    os.makedirs(share)
    g = Guest(None, argv=argv, timeout=600)
    try:
        return workload(g, share)
    finally:
        g.kill()


def main():
    cloison, runs = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    rows = {"cloison": [], "qemu": []}
    with tempfile.TemporaryDirectory(prefix="cloison-bench-share-") as work:
        share = os.path.join(work, "share")
        c_argv = [cloison, "run", "--share", f"{share}:bench"]
        q_argv = qemu_argv(256, os.path.join(work, "qmp.sock"),
                           ("-fsdev", f"local,id=f0,path={share},security_model=none",
                            "-device", "virtio-9p-device,fsdev=f0,mount_tag=bench"))
        for i in range(runs):  # alternating, so drift hits both alike
            rows["cloison"].append(one(c_argv, share))
            rows["qemu"].append(one(q_argv, share))
            c, q = rows["cloison"][-1], rows["qemu"][-1]
            print(f"run {i + 1}: cloison write {c[0]:.2f} s read {c[1]:.2f} s create {c[2]:.2f} s; "
                  f"qemu write {q[0]:.2f} s read {q[1]:.2f} s create {q[2]:.2f} s", flush=True)
    print(f"\nShared folder (virtio-9p): {MIB} MiB written and read back, {FILES} files made and listed; "
          f"medians of {runs} runs")
    print(f"{'vmm':<8} {'write MiB/s':>12} {'read MiB/s':>11} {'files/s':>8}")
    med = {}
    for vmm, r in rows.items():
        w, rd, c = (statistics.median(x[k] for x in r) for k in range(3))
        med[vmm] = (w, rd, c)
        print(f"{vmm:<8} {MIB / w:>12.1f} {MIB / rd:>11.1f} {FILES / c:>8.0f}")
    c, q = med["cloison"], med["qemu"]
    print(f"time ratio cloison/qemu: write {c[0] / q[0]:.2f}, read {c[1] / q[1]:.2f}, create {c[2] / q[2]:.2f}")


if __name__ == "__main__":
    main()
