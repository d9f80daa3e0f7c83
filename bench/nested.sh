#!/usr/bin/env bash
# Nested virtualization: how long a VM on KVM inside a VM takes to boot to userspace and power off.
# The outer VM (2 harts, 1 GiB, the default guest) runs on cloison's engine or on QEMU 7.2's TCG with
# its hypervisor extension (-cpu rv64,h=true), same kernel, initramfs and firmware; inside it, kvm.ko
# and cloison cross-built for riscv64 (tools/cross) run the same kernel and initramfs with
# --accel kvm (128 MiB, 1 hart). Timed on the host between console markers around the inner run,
# alternating outer VMMs; prints every run, the medians and the ratio cloison/QEMU.
#   RUNS=5 bench/nested.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
CLOISON=${CLOISON:-build/cloison}
G=${CLOISON_CACHE:-$HOME/.cache/cloison}/guest
command -v qemu-system-riscv64 >/dev/null || { echo "qemu-system-riscv64 missing (scripts/setup.sh)"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
tar=$(bash tools/cross/build.sh "$(dirname "$CLOISON")/cross-riscv64" "$G/Image=boot/Image" "$G/initrd.gz=boot/initrd.gz")
cp "$tar" "$out/nested.tar"
truncate -s %512 "$out/nested.tar"
RUNS=$RUNS CLOISON=$CLOISON G=$G DISK=$out/nested.tar exec python3 - <<'PY'
import os, statistics, sys, time
sys.path.insert(0, "tests/integration")
from guest import Guest, PROMPT

G, DISK, CLOISON = os.environ["G"], os.environ["DISK"], os.environ["CLOISON"]
FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
INNER = ("cloison run --accel kvm --kernel /boot/Image --initrd /boot/initrd.gz --mem 128 "
         "--append 'console=ttyS0 quiet cloison_poweroff=1'")

def outer(name):
    if name == "cloison":
        return Guest(CLOISON, ["--cpus", "2", "--mem", "1024", "--disk", DISK + ",format=raw,readonly=on"], timeout=600)
    return Guest(None, timeout=600, argv=[
        "qemu-system-riscv64", "-M", "virt", "-cpu", "rv64,h=true", "-smp", "2", "-m", "1024", "-nographic",
        "-bios", FW, "-kernel", G + "/Image", "-initrd", G + "/initrd.gz", "-append", "console=ttyS0",
        "-drive", f"file={DISK},format=raw,if=none,id=d0,readonly=on", "-device", "virtio-blk-device,drive=d0",
        "-no-reboot"])

def run_one(name):
    g = outer(name)
    try:
        g.expect(r"userspace ready")
        g.expect(PROMPT)
        g.run("insmod /lib/modules/kvm.ko; cd / && tar xf /dev/vda")
        g.send(f"echo nested-be''gin; {INNER}; echo nested-e''nd-$?\n")
        g.expect(r"nested-begin")
        t0 = time.monotonic()
        g.expect(r"cloison-guest: userspace ready")
        t_ready = time.monotonic()
        g.expect(r"nested-end-0")
        t1 = time.monotonic()
        g.send("poweroff -f\n")
        g.wait_exit(120)
        return (t_ready - t0) * 1000, (t1 - t0) * 1000
    finally:
        g.kill()

runs = int(os.environ["RUNS"])
print(f"nested boot (inner: --accel kvm, 128 MiB, 1 hart; outer: 2 harts, 1 GiB), {runs} runs each")
print(f"{'run':<4} {'cl_ready_ms':>12} {'cl_total_ms':>12} {'qemu_ready_ms':>14} {'qemu_total_ms':>14}")
res = {"cloison": [], "qemu": []}
for i in range(1, runs + 1):
    c = run_one("cloison"); q = run_one("qemu")
    res["cloison"].append(c); res["qemu"].append(q)
    print(f"{i:<4} {c[0]:12.0f} {c[1]:12.0f} {q[0]:14.0f} {q[1]:14.0f}", flush=True)
mc = statistics.median(t for _, t in res["cloison"]); mq = statistics.median(t for _, t in res["qemu"])
rc = statistics.median(t for t, _ in res["cloison"]); rq = statistics.median(t for t, _ in res["qemu"])
print(f"median to userspace: cloison {rc:.0f} ms, qemu {rq:.0f} ms, ratio {rc / rq:.2f}")
print(f"median to power-off: cloison {mc:.0f} ms, qemu {mq:.0f} ms, ratio cloison/qemu = {mc / mq:.2f}")
PY
