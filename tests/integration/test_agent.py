#!/usr/bin/env python3
"""test_agent.py — the guest agent over virtio-vsock, with the default guest (Debian's kernel,
busybox, cloison-agent started by its init).

- `cloison exec --sock`: exit codes, stdout and stderr kept apart, stdin, a missing command
  (127), 4 MiB of output byte for byte, a TTY session (a terminal of the size of ours,
  resized on the way), a command that reads its input to the end.
- `cloison file push|pull`: 1 MiB both ways byte for byte, the mode kept; a missing file or an
  unwritable place is a clear error and no local file is left behind.
- `cloison agent`: who the guest is.
- Restore and clones: after a restore the agent answers again (the device tells the guest its old
  connections are gone) and the guest clock is stepped to the host's; a clone made with
  --hostname gets that name and a new machine-id, the original's saved state keeps its own.
- Shared folders (virtio-9p): a guest reads and writes a host directory (a 4 MiB file byte for
  byte, rename, symlink, remove); ".." and symbolic links (relative and absolute) never reach the
  host's files outside it; device nodes and FIFOs cannot be made; setuid bits are dropped; a
  read-only share refuses every change.
- Cloud-init: --user-data, --ssh-key and --hostname add a NoCloud seed (ISO 9660, label cidata) the
  guest reads; a key that would break its YAML is refused.
- `cloison stop --sock` goes through the agent: the guest's kernel powers down and the VM exits 0.
- Hostile input on the host side of vsock: a line that is not CONNECT, a port nobody listens on,
  garbage frames to the agent: clear refusals, and the agent serves the next request.

Usage: test_agent.py CLOISON_BINARY
"""
import hashlib
import os
import pty
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import fcntl
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import Guest, guest_dir  # noqa: E402

CLOISON = None


def wait_for(path, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


class Agent(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cloison-agent-")
        cls.sock = os.path.join(cls.tmp, "api.sock")
        cls.g = Guest(None, argv=[CLOISON, "run", "--mem", "256M", "--api-sock", cls.sock])
        wait_for(cls.sock, cls.g.proc)
        cls.g.expect("guest# ", timeout=240)
        # The agent starts before the shell; it answers once its vsock port listens.
        deadline = time.monotonic() + 30
        while cls.exec_rc("true")[0] != 0 and time.monotonic() < deadline:
            time.sleep(0.5)

    @classmethod
    def tearDownClass(cls):
        cls.g.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def exec_rc(cls, *cmd, sock=None, stdin=None, timeout=60):
        r = subprocess.run([CLOISON, "exec", "--sock", sock or cls.sock, "--", *cmd], input=stdin,
                           capture_output=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def test_exec(self):
        rc, out, err = self.exec_rc("uname", "-m")
        self.assertEqual((rc, out, err), (0, b"riscv64\n", b""))
        rc, out, err = self.exec_rc("sh", "-c", "echo to-out; echo to-err >&2; exit 7")
        self.assertEqual((rc, out, err), (7, b"to-out\n", b"to-err\n"))
        rc, out, _ = self.exec_rc("sh", "-c", "kill -TERM $$")
        self.assertEqual(rc, 128 + 15)
        rc, out, err = self.exec_rc("no-such-command")
        self.assertEqual(rc, 127)
        self.assertIn(b"no-such-command", err)
        rc, out, _ = self.exec_rc("tr", "a-z", "A-Z", stdin=b"hello agent\n")
        self.assertEqual((rc, out), (0, b"HELLO AGENT\n"))
        # Input to its end, then output: 2 MiB in, its hash out.
        data = os.urandom(2 << 20)
        rc, out, _ = self.exec_rc("md5sum", stdin=data)
        self.assertEqual(out.split()[0].decode(), hashlib.md5(data).hexdigest())
        # 4 MiB out, byte for byte (the guest's own hash of it on stderr).
        rc, out, err = self.exec_rc("sh", "-c", "dd if=/dev/urandom of=/tmp/r bs=64k count=64 2>/dev/null; "
                                    "md5sum /tmp/r >&2; cat /tmp/r")
        self.assertEqual((rc, len(out)), (0, 4 << 20))
        self.assertEqual(hashlib.md5(out).hexdigest(), err.split()[0].decode())
        # The exec verb refuses to guess: no command, unknown option.
        r = subprocess.run([CLOISON, "exec", "--sock", self.sock], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)

    def test_tty(self):
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(CLOISON, [CLOISON, "exec", "-t", "--sock", self.sock, "--", "sh"])
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        out = b""

        def read_until(pattern, seconds=20):
            nonlocal out
            deadline = time.monotonic() + seconds
            while not re.search(pattern, out) and time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            return re.search(pattern, out)

        time.sleep(1)
        os.write(fd, b"tty; stty size; echo mark-$((6*7))\r")
        self.assertTrue(read_until(rb"mark-42"), out)
        self.assertIn(b"/dev/pts/", out)
        self.assertIn(b"33 101", out)  # the terminal has our size
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.kill(pid, 28)  # SIGWINCH: what a terminal emulator sends
        time.sleep(0.5)
        os.write(fd, b"stty size; exit 5\r")
        self.assertTrue(read_until(rb"40 120"), out)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 5)
        os.close(fd)

    def test_files(self):
        src = os.path.join(self.tmp, "payload")
        data = os.urandom(1 << 20)
        with open(src, "wb") as f:
            f.write(data)
        os.chmod(src, 0o640)
        r = subprocess.run([CLOISON, "file", "push", "--sock", self.sock, src, "/root/payload"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("pushed 1048576 bytes", r.stdout)
        rc, out, _ = self.exec_rc("sh", "-c", "md5sum /root/payload; stat -c %a /root/payload")
        self.assertEqual(out.decode().split()[0], hashlib.md5(data).hexdigest())
        self.assertEqual(out.decode().split()[-1], "640")
        back = os.path.join(self.tmp, "back")
        r = subprocess.run([CLOISON, "file", "pull", "--sock", self.sock, "/root/payload", back],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(back, "rb") as f:
            self.assertEqual(f.read(), data)
        # Errors: clear, and nothing half-made on either side.
        missing = os.path.join(self.tmp, "missing")
        r = subprocess.run([CLOISON, "file", "pull", "--sock", self.sock, "/no/such/file", missing],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file", r.stderr)
        self.assertFalse(os.path.exists(missing))
        r = subprocess.run([CLOISON, "file", "push", "--sock", self.sock, src, "/proc/no/where"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("guest agent:", r.stderr)
        r = subprocess.run([CLOISON, "file", "push", "--sock", self.sock, src, "relative/path"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)

    def test_agent_info(self):
        r = subprocess.run([CLOISON, "agent", "--sock", self.sock], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("agent=1\n", r.stdout)
        self.assertIn("machine=riscv64\n", r.stdout)

    def test_hostile_host_side(self):
        vs = self.sock + ".vsock"

        def dial(line):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(15)
            s.connect(vs)
            s.sendall(line)
            got = b""
            while not got.endswith(b"\n"):
                chunk = s.recv(1)
                if not chunk:
                    break
                got += chunk
            return s, got

        s, got = dial(b"HELLO THERE\n")
        self.assertTrue(got.startswith(b"ERROR"), got)
        s.close()
        s, got = dial(b"CONNECT 4242\n")  # nothing listens there in the guest
        self.assertEqual(got, b"")
        s.close()
        # Garbage to the agent itself: a header over the frame limit, then junk; it drops the stream.
        s, got = dial(b"CONNECT 1024\n")
        self.assertTrue(got.startswith(b"OK "), got)
        s.sendall(struct.pack("<BxxxI", 1, 1 << 30) + os.urandom(4096))
        s.close()
        s, got = dial(b"CONNECT 1024\n")
        s.sendall(struct.pack("<BxxxI", 1, 20) + b"\xff" * 20)  # an EXEC whose counts make no sense
        hdr = s.recv(8)
        kind, n = struct.unpack("<BxxxI", hdr)
        self.assertEqual(kind, 20)  # ERROR
        s.close()
        self.assertEqual(self.exec_rc("echo", "still serving")[1], b"still serving\n")

    def test_restore_and_clone_identity(self):
        self.exec_rc("sh", "-c", "echo 0123456789abcdef0123456789abcdef > /etc/machine-id")
        saved = os.path.join(self.tmp, "saved")
        r = subprocess.run([CLOISON, "save", "--sock", self.sock, saved, "--then", "resume"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(4)  # the saved guest's clock falls behind

        def start(name, *extra):
            sock = os.path.join(self.tmp, name + ".sock")
            g = Guest(None, argv=[CLOISON, "run", "--restore", saved, "--api-sock", sock, *extra])
            self.addCleanup(g.kill)
            wait_for(sock, g.proc)
            return sock

        def settled(sock, want_host):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                rc, out, _ = self.exec_rc("sh", "-c", "hostname; cat /etc/machine-id; date +%s", sock=sock)
                if rc == 0 and out.split()[0].decode() == want_host:
                    return out.decode().split()
                time.sleep(0.5)
            self.fail(f"the guest never became {want_host}")

        clone_dir = os.path.join(self.tmp, "clone")
        os.makedirs(clone_dir)
        sock = start("clone", "--clone", clone_dir, "--hostname", "web-2")
        host, machine_id, clock = settled(sock, "web-2")
        self.assertNotEqual(machine_id, "0123456789abcdef0123456789abcdef")
        self.assertRegex(machine_id, r"^[0-9a-f]{32}$")
        self.assertLess(abs(int(clock) - time.time()), 3)  # stepped forward to the host's clock
        # A plain restore keeps the name and machine-id and gets the clock too.
        sock = start("restored")
        host, machine_id, clock = settled(sock, "cloison-guest")
        self.assertEqual(machine_id, "0123456789abcdef0123456789abcdef")
        deadline = time.monotonic() + 30
        while abs(int(clock) - time.time()) >= 3 and time.monotonic() < deadline:
            time.sleep(0.5)
            clock = self.exec_rc("date", "+%s", sock=sock)[1].decode().strip()
        self.assertLess(abs(int(clock) - time.time()), 3)


class CleanStop(unittest.TestCase):
    def test_stop_through_the_agent(self):
        """`cloison stop --sock` asks the agent: the guest's kernel powers down, the VM exits 0; --force
        stops at once."""
        tmp = tempfile.mkdtemp(prefix="cloison-stop-")
        self.addCleanup(shutil.rmtree, tmp, True)
        sock = os.path.join(tmp, "api.sock")
        g = Guest(None, argv=[CLOISON, "run", "--api-sock", sock])
        self.addCleanup(g.kill)
        wait_for(sock, g.proc)
        g.expect("guest# ", timeout=240)
        deadline = time.monotonic() + 30
        while Agent.exec_rc("true", sock=sock)[0] != 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        r = subprocess.run([CLOISON, "stop", "--sock", sock], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "the guest shut down\n")
        self.assertEqual(g.wait_exit(30), 0)
        self.assertIn("reboot: Power down", g.output)


class Seed(unittest.TestCase):
    def test_cloud_init_seed(self):
        """--user-data, --ssh-key and --hostname add a NoCloud seed: an ISO 9660 disk labelled cidata whose
        meta-data names the host and keys and whose user-data is the file given; the same content reuses
        the same image."""
        tmp = tempfile.mkdtemp(prefix="cloison-seed-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cache = os.path.join(tmp, "cache")
        os.makedirs(os.path.join(cache, "guest"))
        for f in os.listdir(guest_dir()):  # the default guest, seen through a private cache
            os.symlink(os.path.join(guest_dir(), f), os.path.join(cache, "guest", f))
        ud, key = os.path.join(tmp, "user-data"), os.path.join(tmp, "id.pub")
        with open(ud, "w") as f:
            f.write("#cloud-config\npackages: [nginx]\n")
        with open(key, "w") as f:
            f.write("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG0fTestKeyOnly test@host\n")
        sock = os.path.join(tmp, "api.sock")
        env = dict(os.environ, CLOISON_CACHE=cache)
        g = Guest(None, argv=[CLOISON, "run", "--api-sock", sock, "--user-data", ud, "--ssh-key", key,
                              "--hostname", "web-1"], env=env)
        self.addCleanup(g.kill)
        wait_for(sock, g.proc)
        g.expect("guest# ", timeout=240)
        deadline = time.monotonic() + 30
        while Agent.exec_rc("true", sock=sock)[0] != 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        rc, out, err = Agent.exec_rc("sh", "-c", "dd if=/dev/vda bs=1 skip=32808 count=6 2>/dev/null; echo; "
                                     "mkdir -p /mnt/seed && mount -t iso9660 -o ro /dev/vda /mnt/seed && "
                                     "cat /mnt/seed/meta-data && echo --- && cat /mnt/seed/user-data", sock=sock)
        self.assertEqual(rc, 0, err)
        text = out.decode()
        self.assertTrue(text.startswith("cidata\n"), text)
        self.assertIn("local-hostname: web-1\n", text)
        self.assertIn('  - "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG0fTestKeyOnly test@host"\n', text)
        self.assertTrue(text.endswith("---\n#cloud-config\npackages: [nginx]\n"), text)
        seeds = os.listdir(os.path.join(cache, "seeds"))
        self.assertEqual(len(seeds), 1)
        r = subprocess.run(["isoinfo", "-d", "-i", os.path.join(cache, "seeds", seeds[0])], capture_output=True,
                           text=True)
        self.assertIn("Volume id: cidata", r.stdout)
        # A key that would break the YAML is refused before anything runs.
        with open(key, "w") as f:
            f.write('ssh-ed25519 AAAA" injected: true\n')
        r = subprocess.run([CLOISON, "run", "--ssh-key", key], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("SSH public key", r.stderr)


class Share(unittest.TestCase):
    """Shared folders (virtio-9p): a read-write and a read-only share of host directories."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cloison-share-")
        cls.rw = os.path.join(cls.tmp, "rw")
        cls.ro = os.path.join(cls.tmp, "ro")
        os.makedirs(os.path.join(cls.rw, "sub"))
        os.makedirs(cls.ro)
        with open(os.path.join(cls.tmp, "outside-secret"), "w") as f:
            f.write("host secret\n")
        with open(os.path.join(cls.rw, "from-host.txt"), "w") as f:
            f.write("written on the host\n")
        with open(os.path.join(cls.ro, "keep.txt"), "w") as f:
            f.write("read only\n")
        os.symlink("../outside-secret", os.path.join(cls.rw, "up-link"))
        os.symlink(os.path.join(cls.tmp, "outside-secret"), os.path.join(cls.rw, "abs-link"))
        cls.sock = os.path.join(cls.tmp, "api.sock")
        cls.g = Guest(None, argv=[CLOISON, "run", "--api-sock", cls.sock, "--share", f"{cls.rw}:hostrw",
                                  "--share", f"{cls.ro}:hostro,ro"])
        wait_for(cls.sock, cls.g.proc)
        cls.g.expect("guest# ", timeout=240)
        deadline = time.monotonic() + 30
        while Agent.exec_rc("true", sock=cls.sock)[0] != 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        rc, out, err = cls.sh("mkdir -p /mnt/rw /mnt/ro && mount -t 9p -o trans=virtio hostrw /mnt/rw && "
                              "mount -t 9p -o trans=virtio hostro /mnt/ro && echo mounted")
        assert out == b"mounted\n", (rc, out, err)

    @classmethod
    def tearDownClass(cls):
        cls.g.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def sh(cls, script):
        return Agent.exec_rc("sh", "-c", script, sock=cls.sock)

    def test_read_and_write(self):
        self.assertEqual(self.sh("cat /mnt/rw/from-host.txt")[1], b"written on the host\n")
        rc, out, _ = self.sh("dd if=/dev/urandom of=/mnt/rw/sub/blob bs=64k count=64 2>/dev/null && "
                             "md5sum /mnt/rw/sub/blob && echo guest > /mnt/rw/g.txt && mkdir /mnt/rw/d && "
                             "mv /mnt/rw/g.txt /mnt/rw/d/g2.txt && ln -s g2.txt /mnt/rw/d/l && sync && echo ok")
        self.assertEqual(rc, 0, out)
        with open(os.path.join(self.rw, "sub", "blob"), "rb") as f:
            self.assertEqual(hashlib.md5(f.read()).hexdigest(), out.split()[0].decode())
        with open(os.path.join(self.rw, "d", "g2.txt")) as f:
            self.assertEqual(f.read(), "guest\n")
        self.assertEqual(os.readlink(os.path.join(self.rw, "d", "l")), "g2.txt")
        self.assertEqual(self.sh("cat /mnt/rw/d/l")[1], b"guest\n")
        self.assertEqual(self.sh("rm -r /mnt/rw/d && echo gone")[1], b"gone\n")
        self.assertFalse(os.path.exists(os.path.join(self.rw, "d")))

    def test_escapes_refused(self):
        # ".." from the share's root is the guest's own /mnt, never the host's parent directory.
        rc, out, _ = self.sh("ls -a /mnt/rw/..")
        self.assertNotIn(b"outside-secret", out)
        self.assertNotEqual(self.sh("cat /mnt/rw/../outside-secret")[0], 0)
        # Links are the guest's to follow, inside its own tree: neither reaches the host's file.
        for link in ("up-link", "abs-link"):
            rc, out, err = self.sh(f"cat /mnt/rw/{link}")
            self.assertNotEqual(rc, 0, out)
            self.assertNotIn(b"host secret", out)
        self.assertEqual(self.sh("readlink /mnt/rw/up-link")[1], b"../outside-secret\n")
        # No device nodes, FIFOs or sockets can be made.
        rc, _, err = self.sh("mknod /mnt/rw/dev c 1 3")
        self.assertNotEqual(rc, 0)
        self.assertFalse(os.path.exists(os.path.join(self.rw, "dev")))
        rc, _, _ = self.sh("mkfifo /mnt/rw/fifo")
        self.assertNotEqual(rc, 0)
        self.assertFalse(os.path.exists(os.path.join(self.rw, "fifo")))
        # setuid bits do not reach the host.
        self.assertEqual(self.sh("touch /mnt/rw/suid && chmod 4755 /mnt/rw/suid && echo ok")[1], b"ok\n")
        self.assertEqual(os.stat(os.path.join(self.rw, "suid")).st_mode & 0o7777, 0o755)
        with open(os.path.join(self.tmp, "outside-secret")) as f:
            self.assertEqual(f.read(), "host secret\n")

    def test_read_only_share(self):
        self.assertEqual(self.sh("cat /mnt/ro/keep.txt")[1], b"read only\n")
        for script in ("echo x > /mnt/ro/new", "rm /mnt/ro/keep.txt", "mkdir /mnt/ro/d", "echo x >> /mnt/ro/keep.txt",
                       "chmod 600 /mnt/ro/keep.txt"):
            rc, _, err = self.sh(script)
            self.assertNotEqual(rc, 0, script)
        self.assertEqual(sorted(os.listdir(self.ro)), ["keep.txt"])
        with open(os.path.join(self.ro, "keep.txt")) as f:
            self.assertEqual(f.read(), "read only\n")


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
