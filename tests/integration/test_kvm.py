#!/usr/bin/env python3
"""test_kvm.py — hardware-assisted virtualization inside the engine.

The engine offers the hypervisor extension (H), so Debian's kvm.ko loads in the guest, /dev/kvm
appears, and a virtual machine runs on it: tests/guests/kvmsmoke.c, a minimal VMM (one vCPU, MMIO
exits, SBI calls), whose guest code checks MMIO emulation, traps inside the guest, Sv39 paging
under the G-stage and a loop. Checked:
- the nested VM runs under both engines (translator on and off), on a 2-hart guest;
- the outer VM is paused, saved and restored while the nested VM computes, and the nested VM
  carries on from where it was and finishes with every check right;
- with `--cpu-ext -h` the extension is gone: no `h` in the ISA, kvm.ko refuses to load;
- the same program under QEMU 7.2 with `-cpu rv64,h=true` (the peer) reports the same;
- cloison itself, cross-built for riscv64 (tools/cross), runs the default guest with `--accel kvm`
  inside the engine's guest: it boots to userspace on 2 vCPUs, pauses (its output stops), resumes,
  is saved and restored (its shell loop counts on from where it was), migrates live to another
  cloison --accel kvm in the same guest (the loop counts on there) and powers off.

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

    def test_cloison_on_kvm_inside_the_engine(self):
        # riscv64 cloison with its libraries, the default guest's kernel and initramfs: one tar on a disk.
        gd = guest_dir()
        build = os.path.join(os.path.dirname(CLOISON), "cross-riscv64")
        r = subprocess.run(["bash", os.path.join(ROOT, "tools/cross/build.sh"), build,
                            os.path.join(gd, "Image") + "=boot/Image", os.path.join(gd, "initrd.gz") + "=boot/initrd.gz"],
                           capture_output=True, text=True, timeout=1200)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        tar = os.path.join(self.tmp, "nested.tar")
        shutil.copyfile(r.stdout.strip().splitlines()[-1], tar)
        with open(tar, "ab") as f:
            f.write(bytes(-os.path.getsize(tar) % 512))
        g = Guest(CLOISON, ["--cpus", "2", "--mem", "1024", "--disk", tar + ",format=raw,readonly=on"])
        self.addCleanup(g.kill)
        g.expect(r"userspace ready")
        g.expect(PROMPT)
        self.assertIn("rc=0", g.run("insmod /lib/modules/kvm.ko; cd / && tar xf /dev/vda; echo rc=$?"))
        self.assertIn("riscv64", g.run("uname -m"))
        # The inner VM reads its console from a FIFO and writes it to a file.
        inner = ("cloison run --accel kvm --kernel /boot/Image --initrd /boot/initrd.gz --mem 192 --cpus 2 "
                 "--append console=ttyS0 --api-sock /tmp/api.sock")
        g.run(f"mkfifo /tmp/in; ({inner} < /tmp/in > /tmp/c.log 2>&1; echo inner-exit-$? >> /tmp/c.log) & "
              "exec 3>/tmp/in")
        out = g.run("for i in $(seq 240); do grep -q 'guest# ' /tmp/c.log && break; sleep 0.5; done; cat /tmp/c.log",
                    timeout=180)
        self.assertIn("cloison-guest: userspace ready (2 cpus)", out)
        self.assertNotIn("inner-exit", out)
        g.run("echo 'i=0; while true; do read up rest < /proc/uptime; echo \"tick $i $up\"; i=$((i+1)); sleep 0.2; "
              "done &' >&3; sleep 2")
        count = "grep -c '^tick' /tmp/c.log"
        self.assertGreater(int(g.run(count)), 3)
        # Pause: the inner guest's output stops; resume: it goes on.
        self.assertIn('"paused"', g.run("cloison pause --sock /tmp/api.sock; "
                                        "cloison status --sock /tmp/api.sock --format json"))
        a = int(g.run(f"sleep 0.5; {count}"))
        b = int(g.run(f"sleep 2; {count}"))
        self.assertEqual(a, b, "the inner guest ran while paused")
        g.run("cloison resume --sock /tmp/api.sock")
        self.assertGreater(int(g.run(f"sleep 2; {count}")), b)
        # Its clock stood still too: no two ticks are farther apart (by its uptime) than a little more
        # than their period, 2.5 s pause included.
        ups = [float(u) for u in re.findall(r"(?m)^tick \d+ ([0-9.]+)", g.run("cat /tmp/c.log"))]
        self.assertGreater(len(ups), b)
        self.assertLess(max(y - x for x, y in zip(ups, ups[1:])), 1.5, "the guest's clock ran on while paused")
        # Save and stop, restore: the loop counts on from where it was.
        out = g.run("cloison save --sock /tmp/api.sock /tmp/snap --then stop; "
                    "for i in $(seq 60); do grep -q inner-exit /tmp/c.log && break; sleep 0.5; done; tail -n 3 /tmp/c.log",
                    timeout=60)
        self.assertIn("inner-exit-0", out)
        last = max(int(n) for n in re.findall(r"(?m)^tick (\d+)", g.run("cat /tmp/c.log")))
        g.run("mkfifo /tmp/in2; (cloison run --restore /tmp/snap --api-sock /tmp/api2.sock < /tmp/in2 > /tmp/c2.log 2>&1; "
              "echo inner-exit-$? >> /tmp/c2.log) & exec 4>/tmp/in2")
        # (Waiting for its first tick, not a fixed time: a loaded host runs the nested guest slowly.)
        out = g.run("for i in $(seq 120); do grep -q '^tick' /tmp/c2.log && break; sleep 0.5; done; "
                    "cat /tmp/c2.log", timeout=90)
        after = [int(n) for n in re.findall(r"(?m)^tick (\d+)", out)]
        self.assertTrue(after and after[0] == last + 1, (last, out[-500:]))
        # Live migration to another cloison --accel kvm in the same guest: KVM's dirty-page log feeds the
        # rounds; the loop counts on there, without a gap or a repeat.
        g.run("mkfifo /tmp/in3; (cloison run --incoming 127.0.0.1:7777 < /tmp/in3 > /tmp/c3.log 2>&1; "
              "echo inner-exit-$? >> /tmp/c3.log) & exec 5>/tmp/in3; sleep 1")
        out = g.run("cloison migrate --sock /tmp/api2.sock --to 127.0.0.1:7777; "
                    "for i in $(seq 120); do grep -q inner-exit /tmp/c2.log && break; sleep 0.5; done; "
                    "for i in $(seq 120); do grep -q '^tick' /tmp/c3.log && break; sleep 0.5; done; "
                    "tail -n 3 /tmp/c2.log", timeout=240)
        self.assertIn("migrated", out)
        self.assertIn("inner-exit-0", out)
        # The migration may fall in the middle of a line ("t" on the source, "ick 28 ..." on the
        # destination): the two consoles' bytes, without cloison's own lines, are one stream.
        def console(path):
            return re.sub(r"cloison run: [^\n]*\n|inner-exit-\d+\n", "", g.run(f"cat {path}"))
        src_text, dst_text = console("/tmp/c2.log"), console("/tmp/c3.log")
        src = [int(n) for n in re.findall(r"tick (\d+) ", src_text)]
        dst = [int(n) for n in re.findall(r"(?m)^tick (\d+)", dst_text)]
        ticks = [int(n) for n in re.findall(r"tick (\d+) ", src_text + dst_text)]
        self.assertTrue(src and dst, (src_text[-300:], dst_text[:300]))
        self.assertEqual(ticks, list(range(ticks[0], ticks[0] + len(ticks))), (src_text[-300:], dst_text[:300]))
        self.assertGreater(ticks[-1], src[-1], "the loop went on on the destination")
        out = g.run("echo 'poweroff -f' >&5; for i in $(seq 60); do grep -q inner-exit /tmp/c3.log && break; "
                    "sleep 0.5; done; tail -n 2 /tmp/c3.log")
        self.assertIn("inner-exit-0", out)
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
