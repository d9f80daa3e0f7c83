#!/usr/bin/env python3
"""test_debian.py — the Debian system image (`cloison image build debian`, tools/image/debian.sh).

The image is built once per recipe and cached (`make test` builds it before the tests; here
`cloison image build debian --archive-only` finds it). Each VM boots a qcow2 overlay over the
image's disk through U-Boot (the archive's kernel), which starts the image's own kernel and
initramfs from /boot/extlinux/extlinux.conf.

- The archive: manifest, disk (GPT, one ext4 partition, checked by qemu-img), U-Boot, sums.
- One hart, provisioned (--user-data, --ssh-key, --hostname: a NoCloud seed): a login prompt on
  the serial console; systemd reaches `running` (a failed unit is named); cloud-init finishes,
  sets the host name and runs the user data; ssh with the provisioned key through a hostfwd
  (the default user, passwordless sudo); `apt-get install` of a package through the NAT;
  `cloison exec`: exit codes, stdin, 1 MiB of output; `cloison stop` goes through systemd's
  shutdown: the VM exits 0 and the root filesystem was unmounted cleanly (its journal holds
  nothing to recover).
- Through cloisond: `cloison image build debian` imports the cached archive as debian-13; a VM made
  from it with the image's two harts and 1 GiB: systemd `running`, cloud-init stays off (no seed),
  the image's own host name, a login prompt in its log; a clone of its snapshot takes its name and
  a new machine-id from the agent; `cloison stop` goes through systemd's shutdown.

Usage: test_debian.py CLOISON_BINARY
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import Guest, free_port  # noqa: E402

CLOISON = None
IMAGE = None  # the extracted archive: manifest.json, disk.qcow2, kernel


def setUpModule():
    global IMAGE
    r = subprocess.run([CLOISON, "image", "build", "debian", "--archive-only"], capture_output=True, text=True,
                       timeout=3600)
    if r.returncode != 0:
        raise AssertionError("image build failed:\n" + r.stderr[-3000:])
    archive = r.stdout.strip().splitlines()[-1]
    IMAGE = tempfile.mkdtemp(prefix="cloison-debian-")
    with tarfile.open(archive) as t:
        t.extractall(IMAGE, filter="data")


def tearDownModule():
    shutil.rmtree(IMAGE, ignore_errors=True)


def exec_rc(sock, *cmd, stdin=None, timeout=120):
    r = subprocess.run([CLOISON, "exec", "--sock", sock, "--", *cmd], input=stdin, capture_output=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def wait_agent(sock, g, seconds=600):
    """Until the agent answers (systemd started cloison-agent.service)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if g.proc.poll() is not None:
            raise AssertionError("the VM exited:\n" + g.output[-3000:])
        if os.path.exists(sock) and exec_rc(sock, "true", timeout=30)[0] == 0:
            return
        time.sleep(1)
    raise AssertionError("the agent never answered:\n" + g.output[-3000:])


def boot(tmp, name, cpus, *extra):
    """A VM on an overlay over the image's disk; returns (guest, api socket, overlay path)."""
    overlay = os.path.join(tmp, name + ".qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    os.path.join(IMAGE, "disk.qcow2"), overlay], check=True)
    sock = os.path.join(tmp, name + ".sock")
    g = Guest(CLOISON, ["--kernel", os.path.join(IMAGE, "kernel"), "--disk", overlay, "--mem", "1G",
                        "--cpus", str(cpus), "--api-sock", sock, *extra], timeout=600)
    return g, sock, overlay


def system_state(test, sock):
    rc, out, _ = exec_rc(sock, "systemctl", "is-system-running", "--wait", timeout=600)
    state = out.decode().strip()
    if state != "running":
        failed = exec_rc(sock, "systemctl", "--failed", "--no-legend", "--plain")[1].decode()
        test.fail(f"systemd is {state!r}; failed units:\n{failed}")


class Archive(unittest.TestCase):
    def test_contents(self):
        with open(os.path.join(IMAGE, "manifest.json")) as f:
            m = json.load(f)
        self.assertEqual((m["format"], m["name"], m["architecture"]), ("cloison-image/1", "debian-13", "riscv64"))
        self.assertEqual(m["boot"], {"append": "", "kernel": True, "initrd": False})
        sums = {}
        with open(os.path.join(IMAGE, "SHA256SUMS")) as f:
            for line in f:
                digest, name = line.split()
                sums[name] = digest
        self.assertEqual(sorted(sums), ["disk.qcow2", "kernel", "manifest.json"])
        for name, digest in sums.items():
            h = hashlib.sha256()
            with open(os.path.join(IMAGE, name), "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            self.assertEqual(h.hexdigest(), digest, name)
        r = subprocess.run(["qemu-img", "check", os.path.join(IMAGE, "disk.qcow2")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", os.path.join(IMAGE, "disk.qcow2")],
                                         capture_output=True, text=True, check=True).stdout)
        self.assertEqual((info["format"], info["virtual-size"]), ("qcow2", 4 << 30))
        self.assertNotIn("backing-filename", info)
        # GPT: the protective MBR's signature and the "EFI PART" header in LBA 1.
        head = disk_bytes(os.path.join(IMAGE, "disk.qcow2"), 0, 2, 512)
        self.assertEqual((head[510:512], head[512:520]), (b"\x55\xaa", b"EFI PART"))
        with open(os.path.join(IMAGE, "kernel"), "rb") as f:
            self.assertEqual(f.read(4), b"\x7fELF")  # U-Boot, an S-mode ELF


def disk_bytes(disk, block, count, size):
    """count blocks of size bytes from block number `block` of a qcow2 disk (qemu-img dd)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        subprocess.run(["qemu-img", "dd", "-f", "qcow2", "-O", "raw", f"bs={size}", f"skip={block}",
                        f"count={block + count}", "if=" + disk, "of=" + out], capture_output=True, check=True)
        with open(out, "rb") as f:
            return f.read()


def needs_recovery(disk):
    """Whether the ext4 file system of the disk's first partition (from 1 MiB) has its journal's
    needs_recovery flag set: it was not unmounted cleanly."""
    sb = disk_bytes(disk, 1025, 1, 1024)
    magic, = struct.unpack_from("<H", sb, 0x38)
    assert magic == 0xEF53, "no ext4 superblock at 1 MiB + 1 KiB"
    incompat, = struct.unpack_from("<I", sb, 0x60)
    return bool(incompat & 0x4)


class Provisioned(unittest.TestCase):
    """One hart, provisioned with cloud-init; the tests run in their numbered order."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cloison-deb1-")
        cls.key = os.path.join(cls.tmp, "id")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", cls.key], check=True)
        ud = os.path.join(cls.tmp, "user-data")
        with open(ud, "w") as f:
            f.write("#cloud-config\nwrite_files:\n  - path: /etc/cloison-test\n    content: provisioned\n")
        cls.port = free_port()
        cls.g, cls.sock, cls.disk = boot(cls.tmp, "one", 1, "--net", f"user,hostfwd=tcp::{cls.port}-:22",
                                         "--user-data", ud, "--ssh-key", cls.key + ".pub", "--hostname", "deb-one")
        cls.t0 = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        cls.g.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_boots_to_login_and_running(self):
        self.g.expect(r"U-Boot 20\d\d")
        self.g.expect(r"Retrieving file: /boot/vmlinux-6\.")  # the image's own kernel, from its /boot
        self.g.expect(r"Starting kernel")
        self.g.expect(r"deb-one login: ", timeout=900)
        wait_agent(self.sock, self.g)
        system_state(self, self.sock)

    def test_2_cloud_init(self):
        wait_agent(self.sock, self.g)
        rc, out, err = exec_rc(self.sock, "cloud-init", "status", "--wait", timeout=900)
        self.assertIn("status: done", out.decode(), err.decode())
        rc, out, _ = exec_rc(self.sock, "sh", "-c", "hostname; cat /etc/cloison-test; echo; id -un debian")
        self.assertEqual(out.decode().split(), ["deb-one", "provisioned", "debian"])

    def test_3_ssh_with_the_provisioned_key(self):
        wait_agent(self.sock, self.g)
        exec_rc(self.sock, "cloud-init", "status", "--wait", timeout=900)
        cmd = ["ssh", "-i", self.key, "-p", str(self.port), "-o", "StrictHostKeyChecking=no", "-o",
               "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=60",
               "debian@127.0.0.1", "id -un; sudo -n true && echo sudo-ok; hostname"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["debian", "sudo-ok", "deb-one"])
        # A key that was not provisioned gets nowhere.
        other = os.path.join(self.tmp, "other")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
        cmd[2] = other
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 255)
        self.assertIn("Permission denied", r.stderr)

    def test_4_apt_through_nat(self):
        wait_agent(self.sock, self.g)
        rc, out, err = exec_rc(self.sock, "sh", "-c", "apt-get update -q >/dev/null && "
                               "DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello >/dev/null && hello",
                               timeout=1200)
        self.assertEqual((rc, out), (0, b"Hello, world!\n"), err.decode()[-2000:])

    def test_5_exec(self):
        wait_agent(self.sock, self.g)
        self.assertEqual(exec_rc(self.sock, "sh", "-c", "echo out; echo err >&2; exit 3"), (3, b"out\n", b"err\n"))
        self.assertEqual(exec_rc(self.sock, "tr", "a-z", "A-Z", stdin=b"debian\n")[:2], (0, b"DEBIAN\n"))
        rc, out, err = exec_rc(self.sock, "sh", "-c", "head -c 1048576 /dev/urandom > /tmp/r; "
                               "sha256sum /tmp/r >&2; cat /tmp/r")
        self.assertEqual((rc, len(out)), (0, 1 << 20))
        self.assertEqual(hashlib.sha256(out).hexdigest(), err.split()[0].decode())
        self.assertEqual(exec_rc(self.sock, "no-such-command")[0], 127)

    def test_6_graceful_stop(self):
        wait_agent(self.sock, self.g)
        r = subprocess.run([CLOISON, "stop", "--sock", self.sock, "--timeout", "180"], capture_output=True, text=True,
                           timeout=240)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "the guest shut down\n")
        self.assertEqual(self.g.wait_exit(60), 0)
        self.assertIn("reboot: Power down", self.g.output)
        self.assertFalse(needs_recovery(self.disk), "the root file system was not unmounted cleanly")


class ThroughTheDaemon(unittest.TestCase):
    """`cloison image build debian` into a cloisond (the cached archive, imported), a VM with two harts
    made from the image, a clone, a clean stop."""

    def test_image_vm_clone_and_stop(self):
        tmp = tempfile.mkdtemp(prefix="cloison-deb2-", dir="/tmp")
        self.addCleanup(shutil.rmtree, tmp, True)
        sock = os.path.join(tmp, "d.sock")
        log = open(os.path.join(tmp, "daemon.log"), "w")
        d = subprocess.Popen([os.path.join(os.path.dirname(CLOISON), "cloisond"), "--state-dir",
                              os.path.join(tmp, "state"), "--run-dir", os.path.join(tmp, "run"), "--socket", sock],
                             stdout=log, stderr=log)
        self.addCleanup(d.wait, 10)
        self.addCleanup(d.terminate)
        env = dict(os.environ, CLOISON_SOCKET=sock)

        def cli(*args, check=True, timeout=600):
            r = subprocess.run([CLOISON, *args], capture_output=True, text=True, timeout=timeout, env=env)
            if check and r.returncode != 0:
                raise AssertionError(f"cloison {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
            return r

        deadline = time.monotonic() + 20
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(cli("image", "build", "debian").stdout, "built and imported image debian-13\n")
        img = json.loads(cli("image", "info", "debian-13", "--format", "json").stdout)
        self.assertEqual((img["os"], img["cpus"], img["memory"]), ("Debian GNU/Linux 13 (trixie)", 2, 1 << 30))
        cli("create", "web", "--image", "debian-13")
        self.addCleanup(cli, "rm", "--force", "web", check=False)
        self.addCleanup(cli, "rm", "--force", "web-2", check=False)
        cli("start", "web")

        def guest(name, *cmd, timeout=600):
            return cli("exec", name, "--", *cmd, check=False, timeout=timeout)

        deadline = time.monotonic() + 900
        while guest("web", "true", timeout=60).returncode != 0:
            self.assertLess(time.monotonic(), deadline, cli("logs", "web").stdout[-3000:])
            time.sleep(2)
        state = guest("web", "systemctl", "is-system-running", "--wait").stdout.strip()
        self.assertEqual(state, "running", guest("web", "systemctl", "--failed", "--no-legend").stdout)
        nproc, host, status, machine_id = guest("web", "sh", "-c", "nproc; hostname; cloud-init status; "
                                                "cat /etc/machine-id").stdout.split("\n")[:4]
        self.assertEqual((nproc, host, status), ("2", "debian", "status: disabled"))  # no seed: cloud-init off
        self.assertRegex(machine_id, r"^[0-9a-f]{32}$")
        self.assertIn("debian login: ", cli("logs", "web").stdout)
        # A clone of a snapshot takes its instance's name and a new machine-id (the agent).
        cli("snapshot", "web", "s1")
        cli("clone", "web", "web-2", "--snapshot", "s1", "--start")
        # The agent applies the identity in steps (hostname, then machine-id, then SSH host keys): wait for
        # the whole of it, each part still asserted below.
        deadline = time.monotonic() + 180
        out = []
        while time.monotonic() < deadline:
            out = guest("web-2", "sh", "-c", "hostname; cat /etc/machine-id", timeout=60).stdout.split()
            if len(out) == 2 and out[0] == "web-2" and out[1] != machine_id:
                break
            time.sleep(1)
        self.assertEqual(out[0], "web-2")
        self.assertNotEqual(out[1], machine_id)
        self.assertRegex(out[1], r"^[0-9a-f]{32}$")
        # The source keeps its name. Its agent may answer late while the clone boots beside it on this
        # host's two cores (the handshake waits 10 s): asked again for up to two minutes; a guest whose
        # agent never answers still fails, with the exec's error and the console's tail.
        deadline = time.monotonic() + 120
        r = guest("web", "hostname", timeout=60)
        while r.returncode != 0 and time.monotonic() < deadline:
            time.sleep(2)
            r = guest("web", "hostname", timeout=60)
        self.assertEqual(r.stdout, "debian\n", r.stderr + cli("logs", "web").stdout[-2000:])
        cli("rm", "--force", "web-2")
        # A clean stop: systemd's shutdown through the agent, the kernel powers down.
        cli("stop", "web", "--timeout", "180")
        self.assertIn("reboot: Power down", cli("logs", "web").stdout)
        cli("rm", "web")
        cli("image", "rm", "debian-13")


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
