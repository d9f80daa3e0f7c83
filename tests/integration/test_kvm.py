"""test_kvm.py — hardware-assisted virtualization inside the engine.

The engine offers the hypervisor extension (H), so Debian's kvm.ko loads in the guest, /dev/kvm
appears, and a virtual machine runs on it: tests/guests/kvmsmoke.c, a minimal VMM (one vCPU, MMIO
exits, SBI calls), whose guest code checks MMIO emulation, traps inside the guest, Sv39 paging
under the G-stage and a loop. Checked:
- the nested VM runs under both engines (translator on and off), on a 2-hart guest;
- the outer VM is paused, saved and restored while the nested VM computes, and the nested VM
  carries on from where it was and finishes with every check right;
- with `--cpu-ext -h` the extension is gone: no `h` in the ISA, kvm.ko refuses to load;
- the same program under QEMU 7.2 with `-cpu rv64,h=true` (the peer) reports the same.

Usage: test_kvm.py CLOISON_BINARY
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import Guest, PROMPT, guest_dir, http_unix  # noqa: E402

CLOISON = None
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIRMWARE = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"


def build_kvmsmoke(tmp):
    """The VMM as a raw disk image: its static ELF, padded to whole sectors."""
    elf = os.path.join(tmp, "kvmsmoke")
    subprocess.run(["riscv64-linux-gnu-gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", elf,
                    os.path.join(ROOT, "tests/guests/kvmsmoke.c"), os.path.join(ROOT, "tests/guests/kvmsmoke_guest.S")],
                   check=True)
    with open(elf, "ab") as f:
        f.write(bytes(-os.path.getsize(elf) % 512))
    return elf


def load_kvm(test, g):
    """Loads kvm.ko in the guest and copies the VMM from its disk; asserts /dev/kvm appeared."""
    out = g.run("insmod /lib/modules/kvm.ko; echo rc=$?; ls /dev/kvm; dmesg | grep -i 'kvm'")
    test.assertIn("rc=0", out)
    test.assertIn("hypervisor extension available", out)
    test.assertRegex(out, r"(?m)^/dev/kvm\r?$")
    g.run("dd if=/dev/vda of=/tmp/kvmsmoke 2>/dev/null; chmod +x /tmp/kvmsmoke")


class Kvm(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cloison-kvm-")
        cls.vmm = build_kvmsmoke(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def boot(self, *args):
        g = Guest(CLOISON, ["--disk", self.vmm + ",format=raw,readonly=on", *args])
        self.addCleanup(g.kill)
        g.expect(r"userspace ready")
        g.expect(PROMPT)
        return g

    def test_nested_vm_in_both_engines(self):
        for jit in ("on", "off"):
            with self.subTest(jit=jit):
                g = self.boot("--cpus", "2", "--jit", jit)
                isa = g.run("grep -m1 ^isa /proc/cpuinfo").split(":")[1].strip()
                self.assertRegex(isa, r"^rv64imafdcvh_")
                load_kvm(self, g)
                out = g.run("/tmp/kvmsmoke; echo rc=$?", timeout=120)
                self.assertRegex(out, r"kvmsmoke: ok \(\d+ exits, SBI \d+\.\d+\)")
                self.assertIn("rc=0", out)
                self.assertNotIn("FAIL", out)
                g.send("poweroff -f\n")
                self.assertEqual(g.wait_exit(), 0, g.stderr)

    def test_nested_vm_survives_pause_save_restore(self):
        sock = os.path.join(self.tmp, "api.sock")
        g = self.boot("--cpus", "2", "--api-sock", sock)
        load_kvm(self, g)
        iterations = 3_000_000_000
        g.send(f"/tmp/kvmsmoke {iterations}; echo rc=$?\n")
        g.expect(r"kvmsmoke: progress \d+", timeout=120)
        # Pause: nothing retires, the nested VM's progress stops.
        status, body = http_unix(sock, "POST", "/vm/pause")
        self.assertEqual((status, body["state"]), (200, "paused"))
        time.sleep(0.3)
        seen = len(re.findall(r"kvmsmoke: progress", g.output))
        insns = http_unix(sock, "GET", "/vm")[1]["instructions"]
        time.sleep(1.0)
        self.assertEqual(http_unix(sock, "GET", "/vm")[1]["instructions"], insns)
        self.assertEqual(len(re.findall(r"kvmsmoke: progress", g.output)), seen)
        self.assertEqual(http_unix(sock, "POST", "/vm/resume")[0], 200)
        g.expect(r"kvmsmoke: progress \d+", timeout=60)
        # Save mid-run (then stop), restore: the nested VM continues where it was.
        snap = os.path.join(self.tmp, "snap")
        status, body = http_unix(sock, "POST", "/vm/save", {"dir": snap, "then": "stop"})
        self.assertEqual(status, 200, body)
        self.assertEqual(g.wait_exit(60), 0)
        self.assertNotIn("kvmsmoke: ok", g.output, "the nested VM finished before the save")
        last = max(int(n) for n in re.findall(r"kvmsmoke: progress (\d+)", g.output))
        r = Guest(CLOISON, ["--restore", snap])
        self.addCleanup(r.kill)
        r.expect(r"kvmsmoke: ok \(\d+ exits", timeout=300)
        r.expect(r"rc=0")
        after = [int(n) for n in re.findall(r"kvmsmoke: progress (\d+)", r.output)]
        self.assertTrue(after and min(after) > last, (last, after[:3]))
        self.assertNotIn("FAIL", r.output)
        r.send("poweroff -f\n")
        self.assertEqual(r.wait_exit(), 0, r.stderr)

    def test_without_h(self):
        g = self.boot("--cpu-ext", "-h")
        isa = g.run("grep -m1 ^isa /proc/cpuinfo").split(":")[1].strip()
        self.assertRegex(isa, r"^rv64imafdcv_")
        out = g.run("insmod /lib/modules/kvm.ko; echo rc=$?; ls /dev/kvm; dmesg | grep -i kvm")
        self.assertNotIn("rc=0", out)
        self.assertIn("hypervisor extension not available", out)
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)

    @unittest.skipUnless(shutil.which("qemu-system-riscv64"), "no qemu-system-riscv64")
    def test_peer_qemu_with_h(self):
        # The same kernel, initramfs, firmware and VMM under QEMU 7.2's H: the reference.
        gd = guest_dir()
        g = Guest(None, argv=["qemu-system-riscv64", "-M", "virt", "-cpu", "rv64,h=true", "-m", "256", "-smp", "2",
                              "-nographic", "-bios", FIRMWARE, "-kernel", os.path.join(gd, "Image"),
                              "-initrd", os.path.join(gd, "initrd.gz"), "-append", "console=ttyS0",
                              "-drive", f"file={self.vmm},format=raw,if=none,id=d0,readonly=on",
                              "-device", "virtio-blk-device,drive=d0", "-no-reboot"])
        self.addCleanup(g.kill)
        g.expect(r"userspace ready", timeout=240)
        g.expect(PROMPT)
        load_kvm(self, g)
        out = g.run("/tmp/kvmsmoke; echo rc=$?", timeout=120)
        self.assertRegex(out, r"kvmsmoke: ok \(\d+ exits, SBI \d+\.\d+\)")
        g.send("poweroff -f\n")
        g.wait_exit(60)


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
