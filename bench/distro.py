#!/usr/bin/env python3
"""distro.py — the Debian system image (tools/image/debian.sh) under cloison and under QEMU 7.2 TCG.

Same image (each run boots a fresh qcow2 overlay over its disk), same U-Boot (the image's kernel
file, which boots the image's own Linux from /boot/extlinux), same OpenSBI fw_dynamic, 1 GiB, one
hart, user-mode NAT with a hostfwd to the guest's port 22, the same NoCloud seed (cloud-init
creates the user `debian` with a key of this run, so both VMs do the same first boot).

  boot    process start until the guest's sshd answers its banner on the forwarded port
  apt     `sudo apt-get update && sudo apt-get install -y hello` over ssh, timed from the host
  ssh     median round trip of `ssh ... true` (10 of them) once the guest has settled
  exec    (cloison only) median round trip of `cloison exec --sock S -- true` (10), the guest
          agent over vsock: what replaces ssh for a host that runs the VM
Per VMM, medians of RUNS alternating runs; ratios cloison/qemu (below 1 is faster).
Usage: distro.py CLOISON RUNS
"""
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from guest import Guest, free_port  # noqa: E402

FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"


def banner(port, deadline):
    """Waits until something on 127.0.0.1:port sends an SSH banner; returns when it did."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.settimeout(10)
                if s.recv(64).startswith(b"SSH-"):
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError("sshd never answered")


def ssh(key, port, cmd, timeout=1800):
    return subprocess.run(["ssh", "-i", key, "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o",
                           "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                           "debian@127.0.0.1", cmd], capture_output=True, text=True, timeout=timeout)


def median_round_trip(argv, n=10):
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        r = subprocess.run(argv, capture_output=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"{argv[0]}: {r.stderr.decode()[-500:]}")
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def one(vmm, cloison, image, work, seed, key):
    overlay = os.path.join(work, f"{vmm}.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    os.path.join(image, "disk.qcow2"), overlay], check=True)
    port = free_port()
    sock = os.path.join(work, "api.sock")
    if vmm == "cloison":
        argv = [cloison, "run", "--kernel", os.path.join(image, "kernel"), "--disk", overlay,
                "--disk", seed + ",readonly=on", "--mem", "1G", "--net", f"user,hostfwd=tcp::{port}-:22",
                "--api-sock", sock]
    else:
        argv = ["qemu-system-riscv64", "-M", "virt", "-m", "1024", "-smp", "1", "-nographic", "-bios", FW,
                "-kernel", os.path.join(image, "kernel"),
                "-drive", f"file={overlay},format=qcow2,if=none,id=d0", "-device", "virtio-blk-device,drive=d0",
                "-drive", f"file={seed},format=raw,if=none,id=d1,readonly=on", "-device", "virtio-blk-device,drive=d1",
                "-netdev", f"user,id=n0,hostfwd=tcp::{port}-:22", "-device", "virtio-net-device,netdev=n0",
                "-no-reboot"]
    t0 = time.monotonic()
    g = Guest(None, argv=argv, timeout=1800)
    try:
        boot = banner(port, t0 + 1800) - t0
        # Settled: cloud-init done (the user and its key exist).
        deadline = time.monotonic() + 1800
        while ssh(key, port, "cloud-init status --wait >/dev/null; true", timeout=1800).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("no ssh login")
            time.sleep(2)
        t = time.monotonic()
        r = ssh(key, port, "sudo apt-get update -q >/dev/null && "
                           "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello >/dev/null && hello")
        if r.stdout != "Hello, world!\n":
            raise RuntimeError(f"apt-get install failed: {r.stderr[-1000:]}")
        apt = time.monotonic() - t
        ssh_rt = median_round_trip(["ssh", "-i", key, "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o",
                                    "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                                    "debian@127.0.0.1", "true"])
        exec_rt = median_round_trip([cloison, "exec", "--sock", sock, "--", "true"]) if vmm == "cloison" else None
        return boot, apt, ssh_rt, exec_rt
    finally:
        g.kill()
        os.unlink(overlay)


def main():
    cloison, runs = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    r = subprocess.run([cloison, "image", "build", "debian", "--archive-only"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("cannot build the Debian image:\n" + r.stderr[-2000:])
    archive = r.stdout.strip().splitlines()[-1]
    rows = {"cloison": [], "qemu": []}
    with tempfile.TemporaryDirectory(prefix="cloison-bench-distro-") as work:
        image = os.path.join(work, "image")
        with tarfile.open(archive) as t:
            t.extractall(image, filter="data")
        key = os.path.join(work, "id")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        ud = os.path.join(work, "user-data")
        with open(ud, "w") as f:
            f.write("#cloud-config\n{}\n")
        # One NoCloud seed for both VMMs (what --user-data/--ssh-key/--hostname would attach).
        seed_dir = os.path.join(work, "seed")
        os.makedirs(seed_dir)
        with open(key + ".pub") as f:
            pub = f.read().strip()
        with open(os.path.join(seed_dir, "meta-data"), "w") as f:
            f.write(f'instance-id: bench\nlocal-hostname: bench\npublic-keys:\n  - "{pub}"\n')
        os.rename(ud, os.path.join(seed_dir, "user-data"))
        seed = os.path.join(work, "seed.iso")
        subprocess.run(["genisoimage", "-quiet", "-output", seed, "-volid", "cidata", "-joliet", "-rock",
                        os.path.join(seed_dir, "user-data"), os.path.join(seed_dir, "meta-data")], check=True)
        for i in range(runs):  # alternating, so drift hits both alike
            for vmm in ("cloison", "qemu"):
                rows[vmm].append(one(vmm, cloison, image, work, seed, key))
            c, q = rows["cloison"][-1], rows["qemu"][-1]
            print(f"run {i + 1}: cloison boot {c[0]:.1f} s apt {c[1]:.1f} s ssh {c[2] * 1000:.0f} ms "
                  f"exec {c[3] * 1000:.0f} ms; qemu boot {q[0]:.1f} s apt {q[1]:.1f} s ssh {q[2] * 1000:.0f} ms",
                  flush=True)
    med = {v: [statistics.median(x[k] for x in r) for k in range(3)] for v, r in rows.items()}
    c, q = med["cloison"], med["qemu"]
    ex = statistics.median(x[3] for x in rows["cloison"])
    print(f"\nDebian image (U-Boot, its own kernel, systemd, cloud-init): medians of {runs} runs")
    print(f"{'vmm':<8} {'boot to sshd s':>15} {'apt install s':>14} {'ssh true ms':>12} {'exec true ms':>13}")
    print(f"{'cloison':<8} {c[0]:>15.1f} {c[1]:>14.1f} {c[2] * 1000:>12.0f} {ex * 1000:>13.0f}")
    print(f"{'qemu':<8} {q[0]:>15.1f} {q[1]:>14.1f} {q[2] * 1000:>12.0f} {'-':>13}")
    print(f"ratio cloison/qemu: boot {c[0] / q[0]:.2f}, apt {c[1] / q[1]:.2f}, ssh {c[2] / q[2]:.2f}; "
          f"cloison exec/ssh round trip {ex / c[2]:.2f}")


if __name__ == "__main__":
    main()
