#!/usr/bin/env python3
"""net.py — network throughput, cloison vs QEMU (TCG), same kernel, initrd and firmware.

For each run and each VMM: boot the default guest with user-mode networking
(cloison --net user, QEMU -netdev user + virtio-net-device), then measure TCP
throughput with the guest's clnet (64 KiB writes):
  guest->host  clnet send to a sink on the host's loopback through the NAT gateway
  host->guest  the host writes into a port forward to clnet recv in the guest
and, for cloison only (QEMU has no equivalent without root), guest->guest between
two VMs on a LAN segment. Prints every run, then medians and cloison/QEMU ratios
(higher is better for cloison).

Usage: net.py CLOISON RUNS MIB
"""
import os
import re
import socket
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from guest import Guest, free_port, guest_dir, tcp_sink  # noqa: E402

FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
RATE = re.compile(r"clnet: (\d+) bytes in ([\d.]+) s \(([\d.]+) Mbit/s\)")



def boot(vmm, cloison, fwd_port):
    g = guest_dir()
    if vmm == "qemu":
        argv = ["qemu-system-riscv64", "-M", "virt", "-m", "256", "-smp", "1", "-nographic", "-bios", FW,
                "-kernel", f"{g}/Image", "-initrd", f"{g}/initrd.gz", "-append", "console=ttyS0 quiet",
                "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{fwd_port}-:5001",
                "-device", "virtio-net-device,netdev=n0", "-no-reboot"]
    else:
        argv = [cloison, "run", "--net", f"user,hostfwd=tcp:127.0.0.1:{fwd_port}-:5001"]
    guest = Guest(None, argv=argv, timeout=300)
    guest.expect("guest# ")
    return guest


def measure_nat(vmm, cloison, mib):
    srv = tcp_sink()
    port = free_port()
    g = boot(vmm, cloison, port)
    try:
        out = g.run(f"clnet send 10.0.2.2 {srv.getsockname()[1]} {mib}", timeout=600)
        g2h = float(RATE.search(out).group(3))
        g.send("clnet recv 5001\n")
        time.sleep(1)  # slirp accepts for the guest before it listens, then resets: let it listen
        buf = b"\0" * (1 << 16)
        for attempt in range(20):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
                for _ in range(mib * 16):
                    s.sendall(buf)
                s.shutdown(socket.SHUT_WR)
                break
            except OSError:
                s.close()
                time.sleep(0.5)
        h2g = float(g.expect(RATE.pattern, 600).group(3))
        s.close()
        return g2h, h2g
    finally:
        g.kill()
        srv.close()


def measure_segment(cloison, mib):
    run_dir = tempfile.mkdtemp(prefix="cloison-bench-")
    env = dict(os.environ, CLOISON_RUN_DIR=run_dir)
    vms = [Guest(None, argv=[cloison, "run", "--net", "segment=bench",
                             "--append", f"console=ttyS0 quiet cloison_ip=10.8.0.{i}/24"], timeout=300, env=env)
           for i in (1, 2)]
    try:
        for v in vms:
            v.expect("guest# ")
        vms[1].send("clnet recv 5001\n")
        time.sleep(1)
        out = vms[0].run(f"clnet send 10.8.0.2 5001 {mib}", timeout=600)
        return float(RATE.search(out).group(3))
    finally:
        for v in vms:
            v.kill()


def main():
    cloison, runs, mib = os.path.abspath(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    res = {k: [] for k in ("cl_g2h", "cl_h2g", "q_g2h", "q_h2g", "cl_seg")}
    print(f"network throughput, Mbit/s (guest clnet, {mib} MiB per direction), {runs} runs")
    print(f"{'run':<4} {'cl g->h':>9} {'qemu g->h':>10} {'cl h->g':>9} {'qemu h->g':>10} {'cl vm->vm':>10}")
    for r in range(runs):
        cg, ch = measure_nat("cloison", cloison, mib)
        qg, qh = measure_nat("qemu", cloison, mib)
        seg = measure_segment(cloison, mib)
        for k, v in zip(res, (cg, ch, qg, qh, seg)):
            res[k].append(v)
        print(f"{r + 1:<4} {cg:9.1f} {qg:10.1f} {ch:9.1f} {qh:10.1f} {seg:10.1f}", flush=True)
    m = {k: statistics.median(v) for k, v in res.items()}
    print(f"median: guest->host cloison {m['cl_g2h']:.1f} vs qemu {m['q_g2h']:.1f} Mbit/s "
          f"(ratio {m['cl_g2h'] / m['q_g2h']:.2f}); host->guest cloison {m['cl_h2g']:.1f} vs qemu "
          f"{m['q_h2g']:.1f} (ratio {m['cl_h2g'] / m['q_h2g']:.2f}); vm->vm on a segment {m['cl_seg']:.1f}")


if __name__ == "__main__":
    main()
