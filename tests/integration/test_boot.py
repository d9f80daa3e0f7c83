#!/usr/bin/env python3
"""test_boot.py — boots the real default guest (Debian's riscv64 kernel,
busybox initramfs, Debian's OpenSBI) under cloison and checks what a user
would: a shell on the console, the CPU count, a checksum computed in the
guest equal to the host's, exit codes for poweroff/reboot/failure, and clear
errors for bad input.

Usage: test_boot.py CLOISON_BINARY
"""
import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import PROMPT, Guest, guest_dir  # noqa: E402

CLOISON = None


def have_guest():
    return os.path.exists(os.path.join(guest_dir(), "Image")) and os.path.exists(
        os.path.join(guest_dir(), "initrd.gz"))


def run_cloison(*args, timeout=60, stdin=subprocess.DEVNULL):
    return subprocess.run([CLOISON, "run", *args], stdin=stdin, capture_output=True, text=True, timeout=timeout)


# ---- tiny bare-metal programs, assembled here (RV64I encodings) ----------------
def i_type(imm, rs1, f3, rd, op):
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


def lui(rd, imm20):
    return ((imm20 & 0xFFFFF) << 12) | (rd << 7) | 0x37


def sw(rs2, rs1, imm):
    return (((imm >> 5) & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | ((imm & 31) << 7) | 0x23


def sb(rs2, rs1, imm):
    return (((imm >> 5) & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | ((imm & 31) << 7) | 0x23


JUMP_SELF = 0x0000006F  # jal x0, 0
JUMP_BACK_4 = 0xFFDFF06F  # jal x0, -4


def raw_program(words):
    f = tempfile.NamedTemporaryFile(suffix=".bin", delete=False)
    f.write(b"".join(struct.pack("<I", w) for w in words))
    f.close()
    return f.name


def finisher_program(value):
    """Writes `value` to the test finisher at 0x100000, then spins."""
    t0, t1 = 5, 6
    hi = (value + 0x800) >> 12
    lo = value - (hi << 12)
    return raw_program([
        lui(t0, 0x100),
        lui(t1, hi),
        i_type(lo, t1, 0, t1, 0x13),  # addi t1, t1, lo
        sw(t1, t0, 0),
        JUMP_SELF,
    ])


def busybox_sha256():
    """The checksum of the busybox binary the guest's initramfs holds."""
    with open(os.path.join(guest_dir(), "busybox"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@unittest.skipUnless(have_guest(), "default guest not fetched (make guest)")
class BootLinux(unittest.TestCase):
    def boot(self, *args):
        g = Guest(CLOISON, args)
        self.addCleanup(g.kill)
        return g

    def test_one_hart_shell_checksum_poweroff(self):
        g = self.boot("--cpus", "1")
        g.expect(r"userspace ready \(1 cpus\)")
        g.expect(PROMPT)
        self.assertEqual(g.run("grep -c ^processor /proc/cpuinfo").strip(), "1")
        isa = g.run("grep -m1 ^isa /proc/cpuinfo")
        for ext in ("rv64imafdcvh_", "_zicboz_", "_zicond_", "_zfh_", "_zba_zbb_zbc_zbs_", "_sstc_", "_svinval_",
                    "_svpbmt"):
            self.assertIn(ext, isa)
        self.assertEqual(g.run("sha256sum /bin/busybox").split()[0], busybox_sha256())
        # The kernel sees a working timer and RTC (year from the host's clock).
        self.assertRegex(g.run("date +%Y"), r"^20\d\d$")
        # virtio-mmio + virtio-rng: the guest driver binds and entropy flows.
        self.assertEqual(g.run("cat /sys/class/misc/hw_random/rng_current").strip(), "virtio_rng.0")
        self.assertEqual(g.run("dd if=/dev/hwrng bs=1024 count=64 2>/dev/null | wc -c").strip(), "65536")
        self.assertNotEqual(g.run("head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n'").strip(), "0" * 64)
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)

    def test_two_harts(self):
        g = self.boot("--cpus", "2")
        g.expect(r"userspace ready \(2 cpus\)")
        g.expect(PROMPT)
        self.assertEqual(g.run("nproc").strip(), "2")
        # Both harts execute: pin a process to the second CPU.
        self.assertEqual(g.run("taskset -c 1 sh -c 'grep -c ^processor /proc/cpuinfo'").strip(), "2")
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)

    def test_code_cache_flushes(self):
        # A 1 MiB code cache fills thousands of times during boot, on two harts: every flush drops
        # blocks other blocks jump to and the jump caches point into, and the guest must not notice.
        env = dict(os.environ, CLOISON_JIT_CACHE_MB="1")
        g = Guest(CLOISON, ("--cpus", "2", "--stats"), env=env)
        self.addCleanup(g.kill)
        g.expect(r"userspace ready \(2 cpus\)")
        g.expect(PROMPT)
        self.assertEqual(g.run("taskset -c 1 sha256sum /bin/busybox").split()[0], busybox_sha256())
        self.assertEqual(g.run("echo $((6 * 7))").strip(), "42")
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)
        flushes = [int(n) for n in re.findall(r"(\d+) code-cache flushes", g.stderr)]
        self.assertEqual(len(flushes), 2, g.stderr)
        self.assertGreater(min(flushes), 10, g.stderr)

    def test_config_file(self):
        # The same guest described by a configuration file instead of flags.
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write('{"memory": "192M", "cpus": 2, "rng": false}')
        self.addCleanup(os.unlink, f.name)
        g = self.boot("--config", f.name)
        g.expect(r"userspace ready \(2 cpus\)")
        g.expect(PROMPT)
        mem_kib = int(g.run("grep MemTotal /proc/meminfo").split()[1])
        self.assertTrue(100 * 1024 < mem_kib < 160 * 1024, mem_kib)  # less than the default 256M gives
        # rng off: no virtio entropy device (virtio devices are listed by their device id, 4 = rng).
        self.assertNotIn("0x0004", g.run("cat /sys/bus/virtio/devices/*/device"))
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)

    def test_extensions_switched_off(self):
        # Every switchable extension off: the kernel sees none of them and runs without.
        off = "-v,-h,-zvfhmin,-zvbb,-zvkt,-zihpm,-zicbom,-zicbop,-zicboz,-zicond,-zimop,-zawrs,-zfa,-zfh,-zfhmin,-zcb,-zcmop,-zba,-zbb,-zbc,-zbs"
        g = self.boot("--cpu-ext", off, "--cpu-ext", "-sdtrig,-sscofpmf,-sstc,-svadu,-svinval,-svnapot,-svpbmt")
        g.expect(r"userspace ready")
        g.expect(PROMPT)
        isa = g.run("grep -m1 ^isa /proc/cpuinfo").split(":")[1].strip()
        self.assertEqual(isa, "rv64imafdc_zicntr_zicsr_zifencei_zihintntl_zihintpause_zca_zcd_zkt")
        self.assertEqual(g.run("echo $((6 * 7))").strip(), "42")
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)

    @unittest.skipUnless(shutil.which("riscv64-linux-gnu-gcc"), "no riscv64 cross compiler")
    def test_vector_programs_across_context_switches(self):
        # Four copies of a program that checks vector loops against scalar code, on two harts: the
        # kernel saves and restores their vector registers at every switch. The program reaches the
        # guest as a raw disk (its ELF, padded to sectors).
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        elf = os.path.join(tmp, "vecloop")
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        subprocess.run(["riscv64-linux-gnu-gcc", "-O2", "-march=rv64gcv", "-mabi=lp64d", "-nostdlib", "-static",
                        "-ffreestanding", "-fno-pic", "-o", elf, os.path.join(root, "tests/diff/crt_user.S"),
                        os.path.join(root, "tests/diff/plat_user.c"), os.path.join(root, "tests/guests/vecloop.c")],
                       check=True)
        with open(elf, "ab") as f:
            f.write(bytes(-os.path.getsize(elf) % 512))
        g = self.boot("--cpus", "2", "--disk", elf + ",format=raw,readonly=on")
        g.expect(r"userspace ready \(2 cpus\)")
        g.expect(PROMPT)
        self.assertIn("v", g.run("grep -m1 ^isa /proc/cpuinfo").split(":")[1].strip().split("_")[0][len("rv64"):])
        g.run("dd if=/dev/vda of=/tmp/vecloop 2>/dev/null; chmod +x /tmp/vecloop")
        # Each copy writes to a file of its own: their lines on one console can interleave mid-line.
        out = g.run("for i in 1 2 3 4; do /tmp/vecloop > /tmp/v$i 2>&1 & done; wait; cat /tmp/v1 /tmp/v2 /tmp/v3 /tmp/v4",
                    timeout=300)
        self.assertEqual(out.count("vecloop ok 3000"), 4, out)
        self.assertNotIn("MISMATCH", out)
        switches = sum(int(w) for w in re.findall(r"switched (\d+)", out))
        self.assertGreater(switches, 0, out)  # the kernel did preempt them mid-loop
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)

    def test_each_extension_off(self):
        # Linux boots to userspace with each switchable extension off in turn (the list is the one
        # cloison prints for an unknown name).
        r = run_cloison("--cpu-ext", "-none-such")
        names = re.search(r"switchable: ([a-z0-9 ]+)", r.stderr).group(1).split()
        self.assertIn("zbb", names)
        failed = []
        for name in names:
            r = run_cloison("--cpu-ext", "-" + name, "--append", "console=ttyS0 quiet cloison_poweroff=1",
                            timeout=120)
            if r.returncode != 0 or "userspace ready" not in r.stdout:
                failed.append((name, r.returncode, r.stdout[-300:]))
        self.assertEqual(failed, [])

    def test_interpreter_only(self):
        # The same guest without the translator: the interpreter alone boots it too.
        g = self.boot("--jit", "off")
        g.expect(r"userspace ready")
        g.expect(PROMPT)
        self.assertEqual(g.run("echo $((6 * 7))").strip(), "42")
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)

    def test_virtio_console_hvc0(self):
        # The keyboard feeds hvc0, where the guest starts a second shell at the first Enter (like a
        # getty's askfirst); both consoles print here.
        g = self.boot("--console-input", "hvc0")
        g.expect(PROMPT)  # ttyS0's shell, which starts by itself
        g.press_enter_until(PROMPT)  # hvc0's (it drops input until the guest opens it)
        self.assertEqual(g.run("tty").strip(), "/dev/hvc0")
        self.assertRegex(g.run("ls /sys/bus/virtio/drivers/virtio_console"), r"virtio\d")
        # What hvc0's shell writes to ttyS0 shows too (in no set order with hvc0's own output).
        g.send("echo through-ttyS0-$((6 * 7)) > /dev/ttyS0\n")
        g.expect("through-ttyS0-42")
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)

    def test_reboot_restarts_guest(self):
        g = self.boot()
        g.expect(r"userspace ready")
        g.expect(PROMPT)
        g.send("reboot -f\n")
        g.expect(r"userspace ready")  # the second boot
        g.expect(PROMPT)
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)


def make_disk(size=4 << 20):
    f = tempfile.NamedTemporaryFile(suffix=".img", delete=False)
    f.write(os.urandom(size))
    f.close()
    return f.name


@unittest.skipUnless(have_guest(), "default guest not fetched (make guest)")
class Disks(unittest.TestCase):
    def boot(self, *args):
        g = Guest(CLOISON, args)
        self.addCleanup(g.kill)
        g.expect(r"userspace ready")
        g.expect(PROMPT)
        return g

    def test_read_write_and_flush_survives_kill(self):
        img = make_disk()
        self.addCleanup(os.unlink, img)
        with open(img, "rb") as f:
            host_sum = hashlib.sha256(f.read()).hexdigest()
        g = self.boot("--disk", img + ",format=raw")
        self.assertEqual(g.run("cat /sys/block/vda/size").strip(), str((4 << 20) // 512))
        self.assertEqual(g.run("sha256sum /dev/vda").split()[0], host_sum)
        # Discard punches a hole in the host file; the range reads back as zeros.
        blocks_before = os.stat(img).st_blocks
        self.assertIn("rc=0", g.run("blkdiscard -o 1048576 -l 1048576 /dev/vda; echo rc=$?; sync"))
        self.assertEqual(g.run("dd if=/dev/vda bs=1M skip=1 count=1 2>/dev/null | tr -d '\\000' | wc -c").strip(), "0")
        self.assertLess(os.stat(img).st_blocks, blocks_before)
        # Write a marker, flush it, then kill cloison hard: the flushed data must be on the host.
        g.run("echo flushed-marker | dd of=/dev/vda bs=512 seek=100 conv=sync,notrunc 2>/dev/null; sync")
        g.proc.kill()
        g.proc.wait()
        with open(img, "rb") as f:
            f.seek(100 * 512)
            self.assertEqual(f.read(14), b"flushed-marker")

    def test_readonly_disk_refuses_writes(self):
        img = make_disk(1 << 20)
        self.addCleanup(os.unlink, img)
        with open(img, "rb") as f:
            before = f.read()
        g = self.boot("--disk", img + ",readonly=on")
        self.assertEqual(g.run("cat /sys/block/vda/ro").strip(), "1")
        out = g.run("echo x | dd of=/dev/vda bs=512 seek=1 conv=sync,notrunc 2>&1; echo rc=$?")
        self.assertNotIn("rc=0", out)
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)
        with open(img, "rb") as f:
            self.assertEqual(f.read(), before)


class BareMetal(unittest.TestCase):
    def test_guest_failure_code_is_exit_status(self):
        prog = finisher_program((7 << 16) | 0x3333)
        self.addCleanup(os.unlink, prog)
        r = run_cloison("--firmware", "none", "--kernel", prog)
        self.assertEqual(r.returncode, 7, r.stderr)

    def test_guest_poweroff_exits_zero(self):
        prog = finisher_program(0x5555)
        self.addCleanup(os.unlink, prog)
        r = run_cloison("--firmware", "none", "--kernel", prog)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_config_file_bare_metal(self):
        prog = finisher_program((9 << 16) | 0x3333)
        self.addCleanup(os.unlink, prog)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write('{"boot": {"kernel": "%s", "firmware": ""}, "memory": "32M"}' % prog)
        self.addCleanup(os.unlink, f.name)
        r = run_cloison("--config", f.name)
        self.assertEqual(r.returncode, 9, r.stderr)

    def test_guest_garbage_traps_without_host_crash(self):
        # Illegal instructions with mtvec = 0: the hart traps to an address with no
        # memory, takes access faults forever. The host process must stay alive.
        prog = raw_program([0xFFFFFFFF, 0x00000000, 0xDEADBEEF])
        self.addCleanup(os.unlink, prog)
        p = subprocess.Popen([CLOISON, "run", "--firmware", "none", "--kernel", prog],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with self.assertRaises(subprocess.TimeoutExpired):
            p.wait(1.5)
        p.terminate()
        self.assertEqual(p.wait(10), 128 + 15)


    def test_signal_ends_a_run_whose_console_nobody_reads(self):
        # The guest writes to the UART forever and nobody reads cloison's stdout: once the pipe is
        # full its hart blocks in the console write and never sees the stop request. SIGTERM must
        # still end the process, after the grace period (10 s), with 128 + 15.
        prog = raw_program([lui(5, 0x10000), i_type(ord("x"), 0, 0, 6, 0x13), sb(6, 5, 0), JUMP_BACK_4])
        self.addCleanup(os.unlink, prog)
        p = subprocess.Popen([CLOISON, "run", "--firmware", "none", "--kernel", prog],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(p.kill)
        time.sleep(1)  # the pipe fills in a few milliseconds
        p.send_signal(signal.SIGTERM)
        with self.assertRaises(subprocess.TimeoutExpired):
            p.wait(3)  # the hart is stuck: the grace period runs
        self.assertEqual(p.wait(30), 128 + 15)
        self.assertIn("did not stop within 10 s", p.stderr.read().decode())
        p.stdout.close()
        p.stderr.close()


class BadInput(unittest.TestCase):
    def assert_clean_error(self, r, needle, code=None):
        self.assertGreater(r.returncode, 0, "must fail with an exit status, not a signal")
        if code is not None:
            self.assertEqual(r.returncode, code)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"expected one error line, got: {r.stderr!r}")
        self.assertIn(needle, lines[0])

    def test_missing_kernel(self):
        self.assert_clean_error(run_cloison("--kernel", "/nonexistent/Image"), "cannot open kernel")

    def test_not_riscv_kernel(self):
        # An ELF for another machine, with firmware (an S-mode payload) or without (bare metal); a file that is
        # neither an Image nor an ELF.
        self.assert_clean_error(run_cloison("--kernel", "/bin/true"), "not 64-bit little-endian RISC-V")
        self.assert_clean_error(run_cloison("--firmware", "none", "--kernel", "/bin/true"),
                                "not 64-bit little-endian RISC-V")
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("this is text, long enough to be looked at as a kernel header\n" * 4)
            f.flush()
            self.assert_clean_error(run_cloison("--kernel", f.name),
                                    "neither a RISC-V Linux kernel Image nor an ELF program")

    def test_empty_kernel(self):
        with tempfile.NamedTemporaryFile() as f:
            self.assert_clean_error(run_cloison("--kernel", f.name), "is empty")

    @unittest.skipUnless(have_guest(), "default guest not fetched")
    def test_initrd_does_not_fit(self):
        with tempfile.NamedTemporaryFile() as f:
            f.truncate(200 << 20)
            r = run_cloison("--kernel", os.path.join(guest_dir(), "Image"), "--initrd", f.name, "--mem", "128M")
            self.assert_clean_error(r, "does not fit")

    @unittest.skipUnless(have_guest(), "default guest not fetched")
    def test_memory_too_small_for_kernel(self):
        r = run_cloison("--kernel", os.path.join(guest_dir(), "Image"), "--mem", "32M")
        self.assert_clean_error(r, "too small")

    def test_bad_option_values(self):
        self.assert_clean_error(run_cloison("--cpus", "0"), "--cpus", 2)
        self.assert_clean_error(run_cloison("--cpus", "9"), "--cpus", 2)
        self.assert_clean_error(run_cloison("--cpus", "two"), "--cpus", 2)
        self.assert_clean_error(run_cloison("--mem", "lots"), "--mem", 2)
        self.assert_clean_error(run_cloison("--mem", "8M"), "at least", 2)
        self.assert_clean_error(run_cloison("--mem", "1000T"), "more than this host has", 2)
        self.assert_clean_error(run_cloison("extra-argument"), "unexpected argument", 2)
        self.assert_clean_error(run_cloison("--jit", "maybe"), "--jit", 2)
        self.assert_clean_error(run_cloison("--rng", "yes"), "--rng", 2)
        self.assert_clean_error(run_cloison("--cpu-ext", "-zbq"), "unknown ISA extension 'zbq'", 2)
        self.assert_clean_error(run_cloison("--cpu-ext", "-zicsr"), "cannot be switched off", 2)

    def test_bad_disks(self):
        self.assert_clean_error(run_cloison("--disk", "/nonexistent.img"), "cannot open disk")
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"QFI\xfb" + bytes(1020))
            f.flush()
            self.assert_clean_error(run_cloison("--disk", f.name), "looks like a qcow2 image")
            self.assert_clean_error(run_cloison("--disk", f.name + ",format=vmdk"), "not supported")
            self.assert_clean_error(run_cloison("--disk", f.name + ",cache=bogus"), "unknown --disk option", 2)
            self.assert_clean_error(run_cloison("--disk", f.name + ",format=raw,bps=banana"), "bps=banana", 2)
        self.assert_clean_error(run_cloison("--virtio-console", "off", "--console-input", "hvc0"), "virtio console", 2)
        with tempfile.NamedTemporaryFile() as f:
            f.write(bytes(1000))
            f.flush()
            self.assert_clean_error(run_cloison("--disk", f.name), "multiple of 512")

    def test_bad_config_files(self):
        self.assert_clean_error(run_cloison("--config", "/nonexistent.json"), "/nonexistent.json", 2)
        for text, needle in [("{", "not valid JSON"), ('{"memory": "8M"}', "at least"),
                             ('{"colour": 1}', "VM configuration"), ('{"disks": ["/x,ro"]}', "unknown --disk option"),
                             ('{"cpus": 64}', "cpus must be")]:
            with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
                f.write(text)
                f.flush()
                self.assert_clean_error(run_cloison("--config", f.name), needle, 2)
                self.assert_clean_error(run_cloison("--config", f.name, "--mem", "64M"), "drop the machine options", 2)

    def test_help(self):
        r = run_cloison("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--firmware", r.stdout)


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
