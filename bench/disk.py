#!/usr/bin/env python3
"""disk.py — guest disk throughput under cloison and QEMU, side by side.

Boots the default guest under each VMM with a fresh image (raw: sparse file;
qcow2: empty image from `qemu-img create`, so the write allocates clusters) as
its virtio disk (QEMU: virtio-blk-device on virt), then in the guest:
  sequential write: dd if=/dev/zero of=/dev/vda bs=1M count=N conv=fsync
  sequential read:  drop caches, dd if=/dev/vda of=/dev/null bs=1M count=N
  random read:      bench/guest/randread (4 KiB O_DIRECT reads for 5 s, queue depth 1),
                    cross-compiled here and handed to the guest on a second, read-only disk
timed with the guest's clock (/proc/uptime, 10 ms); every measurement is repeated RUNS times,
alternating VMMs, and the medians and ratios cloison/QEMU are printed.
Usage: disk.py CLOISON [RUNS] [MiB] [FORMATS (comma-separated: raw,qcow2)]
"""
import os
import re
import subprocess
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from guest import PROMPT, Guest, guest_dir  # noqa: E402

FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"


HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS_BYTES = 64 * 1024  # the tools disk: small and of a size the data disk never has


def build_tools(workdir):
    """Cross-compiles randread and pads it into a raw disk image."""
    exe = os.path.join(workdir, "randread")
    subprocess.run(["riscv64-linux-gnu-gcc", "-O2", "-static", "-nostdlib", "-ffreestanding", "-fno-pic",
                    "-Wl,--no-relax", "-Wl,--no-warn-rwx-segments", "-o", exe,
                    os.path.join(HERE, "guest", "randread.c")], check=True)
    data = open(exe, "rb").read()
    assert len(data) <= TOOLS_BYTES
    img = os.path.join(workdir, "tools.img")
    with open(img, "wb") as f:
        f.write(data + bytes(TOOLS_BYTES - len(data)))
    return img


def vmm_argv(name, cloison, img, tools, fmt):
    g = guest_dir()
    if name == "cloison":
        return [cloison, "run", "--disk", f"{img},format={fmt}", "--disk", tools + ",format=raw,readonly=on"]
    return ["qemu-system-riscv64", "-M", "virt", "-m", "256", "-smp", "1", "-nographic", "-bios", FW,
            "-kernel", os.path.join(g, "Image"), "-initrd", os.path.join(g, "initrd.gz"),
            "-append", "console=ttyS0 quiet", "-no-reboot",
            "-drive", f"file={img},if=none,id=d0,format={fmt},cache=writeback", "-device", "virtio-blk-device,drive=d0",
            "-drive", f"file={tools},if=none,id=d1,format=raw,readonly=on", "-device", "virtio-blk-device,drive=d1"]


def timed(g, command, mib):
    """Runs command in the guest, timed by the guest's clock; returns MB/s (MiB = 1.048576 MB)."""
    out = g.run(f"cut -d' ' -f1 /proc/uptime; {command} >/dev/null 2>&1; cut -d' ' -f1 /proc/uptime")
    t = re.findall(r"^(\d+\.\d+)$", out, re.M)
    if len(t) != 2:
        raise RuntimeError(f"no timing in guest output: {out!r}")
    return mib * 1.048576 / max(float(t[1]) - float(t[0]), 0.01)


def measure(name, cloison, mib, tools, fmt):
    with tempfile.NamedTemporaryFile(suffix="." + fmt, dir="/var/tmp") as img:
        if fmt == "raw":
            img.truncate(mib << 20)
        else:
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img.name, f"{mib}M"], check=True)
        g = Guest(cloison, argv=vmm_argv(name, cloison, img.name, tools, fmt), timeout=300)
        try:
            g.expect(r"userspace ready")
            g.expect(PROMPT)
            # Which disk is which: the tools disk has its own size.
            g.run(f"for d in vda vdb; do if [ $(cat /sys/block/$d/size) -eq {TOOLS_BYTES // 512} ];"
                  " then T=$d; else D=$d; fi; done")
            w = timed(g, f"dd if=/dev/zero of=/dev/$D bs=1M count={mib} conv=fsync", mib)
            g.run("sync; echo 3 > /proc/sys/vm/drop_caches")
            r = timed(g, f"dd if=/dev/$D of=/dev/null bs=1M count={mib}", mib)
            g.run(f"dd if=/dev/$T of=/tmp/rr bs={TOOLS_BYTES} count=1 2>/dev/null; chmod +x /tmp/rr")
            m = re.search(r"iops=(\d+)", g.run("/tmp/rr /dev/$D 5", timeout=60))
            if not m:
                raise RuntimeError("randread printed no result")
            iops = int(m.group(1))
            g.send("poweroff -f\n")
            g.wait_exit(60)
        finally:
            g.kill()
    return w, r, iops


def main():
    cloison = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    mib = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    formats = (sys.argv[4] if len(sys.argv) > 4 else "raw,qcow2").split(",")
    work = tempfile.mkdtemp(prefix="cloison-bench-")
    tools = build_tools(work)
    for fmt in formats:
        res = {"cloison": [], "qemu": []}
        print(f"guest disk performance, {fmt} image, {mib} MiB, {runs} runs each "
              "(MB/s guest-timed; 4 KiB random-read IOPS)")
        print(f"{'run':<4} {'cl_write':>9} {'cl_read':>9} {'cl_iops':>8} {'qemu_write':>11} {'qemu_read':>10} "
              f"{'qemu_iops':>10}")
        for i in range(runs):
            for name in ("cloison", "qemu"):
                res[name].append(measure(name, cloison, mib, tools, fmt))
            c, q = res["cloison"][-1], res["qemu"][-1]
            print(f"{i + 1:<4} {c[0]:9.1f} {c[1]:9.1f} {c[2]:8d} {q[0]:11.1f} {q[1]:10.1f} {q[2]:10d}", flush=True)
        for k, label in ((0, "seq write MB/s"), (1, "seq read MB/s"), (2, "randread IOPS")):
            mc = statistics.median(x[k] for x in res["cloison"])
            mq = statistics.median(x[k] for x in res["qemu"])
            print(f"median {fmt} {label}: cloison {mc:.1f}, qemu {mq:.1f}, ratio cloison/qemu = {mc / mq:.2f}")


if __name__ == "__main__":
    main()
