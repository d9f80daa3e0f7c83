#!/usr/bin/env python3
"""test_disks.py — disk images end to end: `cloison disk` against qemu-img
(each reads what the other writes; every qcow2 we write passes
`qemu-img check`), and the default guest with its root on a qcow2 disk:
data synced in the guest is in the image after poweroff and after kill -9,
and two linked clones of one base diverge without touching it.

Usage: test_disks.py CLOISON_BINARY
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import PROMPT, Guest, guest_dir  # noqa: E402

CLOISON = None
ROOTFS = os.path.join(guest_dir(), "rootfs.qcow2")
ROOT_APPEND = "console=ttyS0 quiet root=/dev/vda rw"


def disk(*args, check=True):
    r = subprocess.run([CLOISON, "disk", *args], capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"cloison disk {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def qemu_img(*args, check=True):
    r = subprocess.run(["qemu-img", *args], capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"qemu-img {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def ext4_file(image, name):
    """The bytes of /name inside the ext4 filesystem of a qcow2 image, read on the host after
    replaying the journal (as mounting it again would: synced metadata may live only there)."""
    with tempfile.TemporaryDirectory() as d:
        raw = os.path.join(d, "fs.raw")
        qemu_img("convert", "-O", "raw", image, raw)
        fsck = subprocess.run(["/sbin/e2fsck", "-fy", raw], capture_output=True, text=True)
        if fsck.returncode not in (0, 1):  # 1: journal replayed / fixed; more means damage
            raise AssertionError(f"e2fsck found a damaged filesystem ({fsck.returncode}):\n{fsck.stdout}")
        out = os.path.join(d, "out")
        subprocess.run(["/sbin/debugfs", "-R", f"dump /{name} {out}", raw], capture_output=True, check=True)
        with open(out, "rb") as f:
            return f.read()


class Tmp(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cloison-disks-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def p(self, name):
        return os.path.join(self.dir, name)


class DiskTool(Tmp):
    def pattern_raw(self, name, size=16 << 20):
        path = self.p(name)
        with open(path, "wb") as f:
            f.truncate(size)
            for i, off in enumerate((0, 70000, 5 << 20, size - 16384)):
                f.seek(off)
                f.write(os.urandom(4096 + i * 3000))
        return path

    def test_create_info_check(self):
        disk("create", "-f", "qcow2", self.p("a.qcow2"), "1G")
        info = json.loads(disk("info", "--json", self.p("a.qcow2")).stdout)
        self.assertEqual(info["format"], "qcow2")
        self.assertEqual(info["virtual-size"], 1 << 30)
        self.assertEqual(info["cluster-size"], 65536)
        q = json.loads(qemu_img("info", "--output=json", self.p("a.qcow2")).stdout)
        self.assertEqual(q["virtual-size"], 1 << 30)
        qemu_img("check", self.p("a.qcow2"))
        self.assertEqual(disk("check", self.p("a.qcow2")).returncode, 0)
        # raw: dynamic (sparse) and static (allocated) disks
        disk("create", "-f", "raw", self.p("sparse.img"), "64M")
        disk("create", "-f", "raw", "-o", "preallocation=falloc", self.p("static.img"), "64M")
        self.assertEqual(os.path.getsize(self.p("sparse.img")), 64 << 20)
        self.assertLess(os.stat(self.p("sparse.img")).st_blocks * 512, 1 << 20)
        self.assertGreaterEqual(os.stat(self.p("static.img")).st_blocks * 512, 64 << 20)
        # other layouts qemu-img must accept
        for opts in ("cluster_size=512", "cluster_size=2M", "compat=0.10", "refcount_bits=1", "refcount_bits=64"):
            name = self.p("o-" + opts.replace("=", "-") + ".qcow2")
            disk("create", "-o", opts, name, "100M")
            qemu_img("check", name)

    def test_convert_both_ways_matches_qemu(self):
        src = self.pattern_raw("src.raw")
        disk("convert", "-O", "qcow2", src, self.p("ours.qcow2"))
        qemu_img("convert", "-f", "raw", "-O", "qcow2", src, self.p("theirs.qcow2"))
        qemu_img("check", self.p("ours.qcow2"))
        qemu_img("compare", self.p("ours.qcow2"), self.p("theirs.qcow2"))
        # we read what qemu-img wrote (plain and compressed)
        qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", src, self.p("comp.qcow2"))
        for name in ("theirs.qcow2", "comp.qcow2"):
            out = self.p(name + ".raw")
            disk("convert", "-O", "raw", self.p(name), out)
            self.assertEqual(sha256(out), sha256(src))
        # the qcow2 stays sparse: ~4 data clusters, not 16 MiB
        self.assertLess(os.path.getsize(self.p("ours.qcow2")), 2 << 20)
        # never overwrite
        self.assertEqual(disk("convert", src, self.p("ours.qcow2"), check=False).returncode, 1)

    def test_interrupted_convert_never_leaves_a_wrong_image(self):
        """kill -9 of `disk convert` at many instants: the destination is either absent or identical to
        the source (never a half-written image under the final name); what a killed run leaves is a
        hidden partial file that the next convert to the same name removes."""
        src = self.p("big.raw")
        with open(src, "wb") as f:  # 192 MiB, 128 MiB of it random: the copy takes a while
            f.truncate(192 << 20)
            for i in range(64):
                f.seek(i * (3 << 20))
                f.write(os.urandom(2 << 20))
        partials = 0
        for fmt, name in (("qcow2", "out.qcow2"), ("raw", "out.raw")):
            dst = self.p(name)
            t0 = time.monotonic()
            disk("convert", "-O", fmt, src, dst)
            full = time.monotonic() - t0
            qemu_img("compare", "-f", "raw", "-F", fmt, src, dst)
            os.unlink(dst)
            for frac in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9):
                p = subprocess.Popen([CLOISON, "disk", "convert", "-O", fmt, src, dst],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(full * frac)
                p.kill()
                p.wait()
                left = [n for n in os.listdir(self.dir) if n.startswith(f".{name}.part-")]
                if os.path.exists(dst):
                    qemu_img("compare", "-f", "raw", "-F", fmt, src, dst)  # complete and right
                    self.assertEqual(left, [], (fmt, frac))
                    os.unlink(dst)
                else:
                    partials += bool(left)
                    disk("convert", "-O", fmt, src, dst)  # removes the dead run's partial file
                    qemu_img("compare", "-f", "raw", "-F", fmt, src, dst)
                    self.assertEqual([n for n in os.listdir(self.dir) if ".part-" in n], [], (fmt, frac))
                    os.unlink(dst)
        print(f"interrupted converts that left a partial file: {partials} of 16", file=sys.stderr)
        self.assertGreater(partials, 0, "no kill landed during a copy: the test proved nothing")

    def test_interrupted_commit_and_rebase_keep_the_chain(self):
        """kill -9 of `disk commit` and `disk rebase` at many instants: what the overlay shows through
        its chain never changes and both images pass qemu-img check (leaked clusters allowed, no
        corruption). Commit copies into the backing file before it drops the overlay's copies; rebase
        copies what the old chain shows before it names the new backing file."""
        raw = self.p("pattern.raw")
        with open(raw, "wb") as f:
            f.truncate(96 << 20)
            for i in range(24):
                f.seek(i * (4 << 20))
                f.write(os.urandom(3 << 20))
        qemu_img("convert", "-f", "raw", "-O", "qcow2", raw, self.p("base0.qcow2"))
        qemu_img("convert", "-f", "raw", "-O", "qcow2", self.p("pattern.raw"), self.p("other0.qcow2"))
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x33 0 96M", self.p("other0.qcow2")],
                       check=True, capture_output=True)

        def chain():
            for n in ("base.qcow2", "other.qcow2"):
                shutil.copy(self.p(n.replace(".", "0.")), self.p(n))
            if os.path.exists(self.p("top.qcow2")):
                os.unlink(self.p("top.qcow2"))
            disk("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", self.p("top.qcow2"))
            subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 4M 56M", self.p("top.qcow2")],
                           check=True, capture_output=True)

        chain()
        qemu_img("convert", "-O", "raw", self.p("top.qcow2"), self.p("view.raw"))
        cases = {"commit": ["commit", self.p("top.qcow2")],
                 "rebase": ["rebase", "-b", "other.qcow2", "-F", "qcow2", self.p("top.qcow2")]}
        for what, args in cases.items():
            chain()
            t0 = time.monotonic()
            disk(*args)
            full = time.monotonic() - t0
            qemu_img("compare", "-F", "qcow2", self.p("view.raw"), self.p("top.qcow2"))
            for frac in (0.1, 0.35, 0.65, 0.9):
                chain()
                p = subprocess.Popen([CLOISON, "disk", *args], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                time.sleep(full * frac)
                p.kill()
                p.wait()
                qemu_img("compare", "-F", "qcow2", self.p("view.raw"), self.p("top.qcow2"))
                for img in ("top.qcow2", "base.qcow2", "other.qcow2"):
                    r = qemu_img("check", self.p(img), check=False)
                    self.assertIn(r.returncode, (0, 3), (what, frac, img, r.stdout))  # 3: leaks only

    def test_import_foreign_format_through_qemu_img(self):
        src = self.pattern_raw("src.raw", 4 << 20)
        qemu_img("convert", "-f", "raw", "-O", "vmdk", src, self.p("x.vmdk"))
        r = disk("convert", "-O", "qcow2", self.p("x.vmdk"), self.p("x.qcow2"))
        self.assertIn("through qemu-img", r.stderr)
        qemu_img("compare", "-f", "raw", "-F", "qcow2", src, self.p("x.qcow2"))

    def test_overlay_commit_rebase(self):
        base = self.pattern_raw("base.raw", 8 << 20)
        disk("convert", "-O", "qcow2", base, self.p("base.qcow2"))
        r = disk("create", "-b", "base.qcow2", self.p("top.qcow2"))
        self.assertIn("backing_file=base.qcow2", r.stdout)
        info = json.loads(disk("info", "--json", self.p("top.qcow2")).stdout)
        self.assertEqual(info["backing-filename"], "base.qcow2")
        self.assertEqual(info["backing-filename-format"], "qcow2")
        self.assertEqual(info["virtual-size"], 8 << 20)
        qemu_img("compare", self.p("top.qcow2"), self.p("base.qcow2"))  # qemu-img follows our backing link
        # qemu-img writes into our overlay; we read the result through the chain
        subprocess.run(["qemu-io", "-c", "write -P 0x42 1M 100k", self.p("top.qcow2")], capture_output=True, check=True)
        chain = json.loads(disk("info", "--json", "--backing-chain", self.p("top.qcow2")).stdout)
        self.assertEqual([c["filename"].split("/")[-1] for c in chain], ["top.qcow2", "base.qcow2"])
        flat = self.p("flat.raw")
        disk("convert", "-O", "raw", self.p("top.qcow2"), flat)
        with open(flat, "rb") as f:
            f.seek(1 << 20)
            self.assertEqual(f.read(100 * 1024), b"\x42" * 100 * 1024)
        base_sum = sha256(self.p("base.qcow2"))
        # rebase onto nothing: the overlay becomes standalone with the same content
        disk("rebase", "-b", "", self.p("top.qcow2"))
        self.assertNotIn("backing-filename", json.loads(disk("info", "--json", self.p("top.qcow2")).stdout))
        qemu_img("check", self.p("top.qcow2"))
        qemu_img("compare", "-f", "raw", "-F", "qcow2", flat, self.p("top.qcow2"))
        self.assertEqual(sha256(self.p("base.qcow2")), base_sum)
        # commit: a new overlay's change lands in its base
        disk("create", "-b", "top.qcow2", "-F", "qcow2", self.p("top2.qcow2"))
        subprocess.run(["qemu-io", "-c", "write -P 0x17 3M 64k", self.p("top2.qcow2")], capture_output=True, check=True)
        before = qemu_img("compare", self.p("top2.qcow2"), self.p("top.qcow2"), check=False).returncode
        self.assertIn(disk("commit", self.p("top2.qcow2")).stdout.strip(), "Image committed.")
        qemu_img("check", self.p("top.qcow2"))
        qemu_img("check", self.p("top2.qcow2"))
        qemu_img("compare", self.p("top2.qcow2"), self.p("top.qcow2"))
        self.assertEqual(before, 1)  # they differed before the commit

    def test_resize(self):
        disk("create", self.p("g.qcow2"), "1M")
        disk("resize", self.p("g.qcow2"), "+99M")
        self.assertEqual(json.loads(disk("info", "--json", self.p("g.qcow2")).stdout)["virtual-size"], 100 << 20)
        qemu_img("check", self.p("g.qcow2"))
        disk("create", "-f", "raw", self.p("g.img"), "10M")
        self.assertEqual(disk("resize", self.p("g.img"), "5M", check=False).returncode, 2)  # needs --shrink
        disk("resize", "--shrink", self.p("g.img"), "5M")
        self.assertEqual(os.path.getsize(self.p("g.img")), 5 << 20)

    def test_check_finds_and_repairs_leaks(self):
        disk("create", self.p("l.qcow2"), "10M")
        # leak a cluster: raise the refcount of a cluster nobody uses (cluster 4 of the first block)
        with open(self.p("l.qcow2"), "r+b") as f:
            f.seek(2 * 65536 + 2 * 10)
            f.write(b"\x00\x01")
            f.truncate(11 * 65536)
        self.assertEqual(disk("check", self.p("l.qcow2"), check=False).returncode, 3)
        self.assertEqual(qemu_img("check", self.p("l.qcow2"), check=False).returncode, 3)
        disk("check", "-r", "leaks", self.p("l.qcow2"))
        qemu_img("check", self.p("l.qcow2"))

    def test_bad_input(self):
        with open(self.p("junk.qcow2"), "wb") as f:
            f.write(b"QFI\xfb" + os.urandom(4000))
        r = disk("info", self.p("junk.qcow2"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("cloison disk: "), r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertEqual(disk("create", self.p("x.qcow2"), "banana", check=False).returncode, 2)
        self.assertEqual(disk("frobnicate", check=False).returncode, 2)
        self.assertEqual(disk("create", "-o", "cluster_size=3000", self.p("y.qcow2"), "1M", check=False).returncode, 2)
        self.assertEqual(disk("check", self.p("nonexistent.qcow2"), check=False).returncode, 1)


@unittest.skipUnless(os.path.exists(ROOTFS), "root disk not built (make guest)")
class RootDisk(Tmp):
    def boot(self, image, *extra):
        g = Guest(CLOISON, ("--disk", image, "--append", ROOT_APPEND, *extra))
        self.addCleanup(g.kill)
        g.expect(r"root on /dev/vda \(rw\)")
        g.expect(r"userspace ready")
        g.expect(PROMPT)
        return g

    def test_written_data_reaches_the_image(self):
        img = self.p("root.qcow2")
        shutil.copy(ROOTFS, img)
        g = self.boot(img, "--cpus", "2")  # two harts: the disk offers two request queues
        self.assertIn("/dev/vda on / type ext4", g.run("mount"))
        self.assertEqual(g.run("ls /sys/block/vda/mq").split(), ["0", "1"])
        guest_sum = g.run("taskset 2 dd if=/dev/urandom of=/data bs=64k count=40 2>/dev/null; sha256sum /data").split()[0]
        g.run("taskset 1 dd if=/dev/urandom of=/data0 bs=64k count=20 2>/dev/null")
        g.run("sync")
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)
        qemu_img("check", img)
        self.assertEqual(hashlib.sha256(ext4_file(img, "data")).hexdigest(), guest_sum)

    def test_synced_data_survives_kill_9(self):
        img = self.p("root.qcow2")
        shutil.copy(ROOTFS, img)
        g = self.boot(img)
        guest_sum = g.run("dd if=/dev/urandom of=/k bs=4k count=300 2>/dev/null; sync; sha256sum /k").split()[0]
        g.proc.kill()
        g.proc.wait()
        # The guest may still be writing (atime, the journal's next commit) when it dies: clusters
        # allocated for a write that never finished are leaked, which qemu-img reports with exit
        # status 3 ("leaked clusters, but not corrupted"). Anything else (2: corruption) fails.
        r = qemu_img("check", img, check=False)
        self.assertIn(r.returncode, (0, 3), r.stdout + r.stderr)
        self.assertNotIn("ERROR", r.stdout + r.stderr)
        self.assertEqual(hashlib.sha256(ext4_file(img, "k")).hexdigest(), guest_sum)

    def test_linked_clones_diverge_without_touching_the_base(self):
        base = self.p("base.qcow2")
        shutil.copy(ROOTFS, base)
        base_sum = sha256(base)
        for n in ("1", "2"):
            disk("create", "-b", "base.qcow2", self.p(f"clone{n}.qcow2"))
        g1 = self.boot(self.p("clone1.qcow2"))
        g2 = self.boot(self.p("clone2.qcow2"))  # both run at once on the shared base
        g1.run("echo one > /who; sync")
        g2.run("echo two > /who; sync")
        self.assertEqual(g1.run("cat /who").strip(), "one")
        self.assertEqual(g2.run("cat /who").strip(), "two")
        for g in (g1, g2):
            g.send("poweroff -f\n")
            self.assertEqual(g.wait_exit(), 0, g.stderr)
        self.assertEqual(sha256(base), base_sum)
        for n, want in (("1", b"one\n"), ("2", b"two\n")):
            qemu_img("check", self.p(f"clone{n}.qcow2"))
            self.assertEqual(ext4_file(self.p(f"clone{n}.qcow2"), "who"), want)
        # The base is read-only while clones use it: a writer is refused.
        g = self.boot(self.p("clone1.qcow2"))
        r = subprocess.run([CLOISON, "run", "--disk", base], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("in use", r.stderr)
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(), 0, g.stderr)


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
