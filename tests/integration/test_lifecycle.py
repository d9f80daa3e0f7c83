#!/usr/bin/env python3
"""test_lifecycle.py — pause/resume, save/restore and migration with the default guest.

- Pause/resume through the control socket: a guest loop printing numbered ticks
  prints nothing while paused and continues with the next number after.
- Save/restore mid-computation: the guest hashes a 16 MiB file in a loop; the VM
  is saved in the middle and restored twice at once from the same files; both
  copies finish and every hash matches the one computed before the save.
- Live migration between two network namespaces (two "hosts" joined by a veth
  pair) while the guest prints ticks and writes numbered records to a qcow2
  disk with O_SYNC: the destination's console continues the source's ticks with
  no gap or repeat, every record reaches the disk, `qemu-img check` is clean.
- Cold migration: a saved directory sent to a `run --incoming` continues there.
- Clones: two clones of one saved VM get their own qcow2 overlays (the saved
  disk is untouched), new MAC addresses (seen after the guest rebinds its NIC)
  and one VM-generation-ID interrupt each, after which their RNGs differ;
  `cloison clone --count 2` starts two background clones that answer on their
  control sockets.
- Free page reporting: a guest that filled 180 MiB and freed it gives at least 150 MiB of RSS back
  on its own, and fills it again.
- Memory balloon (free page reporting off): a guest that filled 180 MiB and freed it is asked to keep 128 MiB of its
  512 MiB: it inflates the balloon by 384 MiB, the VM process's RSS falls by at least 150 MiB,
  the guest's statistics arrive; deflated, the guest uses that memory again; a balloon target
  set from the CLI (`cloison balloon`) says what it did; bad requests get 400.
- Failures: migrating to a port nobody listens on leaves the source running;
  truncated, bit-flipped and version-mismatched state files, a memory file of
  the wrong size and a garbage migration stream are refused with clear errors;
  malformed API requests get 4xx answers and the VM keeps running.

Usage: test_lifecycle.py CLOISON_BINARY
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import Guest, free_port, http_unix, wait_for_socket  # noqa: E402

CLOISON = None
TICK_LOOP = 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.1; done &'


def api(sock, method, path, body=None, raw=None):
    """One HTTP request on the control socket; returns (status, parsed JSON body)."""
    return http_unix(sock, method, path, body, raw)


def ticks(text):
    return [int(n) for n in re.findall(r"^tick (\d+)\r?$", text, re.M)]


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cloison-lifecycle-")
        self.guests = []

    def tearDown(self):
        for g in self.guests:
            g.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *args, argv_prefix=(), sock="api.sock"):
        path = os.path.join(self.tmp, sock)
        argv = [*argv_prefix, CLOISON, "run", "--api-sock", path, *args]
        g = Guest(None, argv=argv)
        self.guests.append(g)
        wait_for_socket(path, g.proc)
        return g, path

    def test_balloon(self):
        def rss_mib(pid):
            with open(f"/proc/{pid}/status") as f:
                return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024

        def balloon():
            return api(sock, "GET", "/vm/balloon")[1]

        def until(cond, seconds=30):
            deadline = time.monotonic() + seconds
            while not cond() and time.monotonic() < deadline:
                time.sleep(0.2)
            return cond()

        # Without free page reporting, so that what the VM gives back is the balloon's doing.
        g, sock = self.start("--mem", "512M", "--free-page-reporting", "off")
        g.expect("guest# ")
        self.assertEqual(balloon()["target_bytes"], 0)
        # 180 MiB: the initramfs root (tmpfs) takes at most half the RAM
        self.assertEqual(g.run("dd if=/dev/zero of=/fill bs=1M count=180 2>/dev/null && echo filled"), "filled")
        filled = rss_mib(g.proc.pid)
        g.run("rm /fill")
        status, b = api(sock, "POST", "/vm/balloon", {"memory_target": 128 << 20})
        self.assertEqual((status, b["target_bytes"], b["memory_target_bytes"]), (200, 384 << 20, 128 << 20))
        self.assertTrue(until(lambda: balloon()["actual_bytes"] == 384 << 20), balloon())
        b = balloon()
        self.assertGreaterEqual(b["inflated_bytes"], 384 << 20)
        self.assertEqual((b["bad_page_numbers"], b["reported_free_bytes"]), (0, 0))
        self.assertTrue(until(lambda: rss_mib(g.proc.pid) < filled - 150, 10),
                        f"RSS {rss_mib(g.proc.pid):.0f} MiB after inflating, {filled:.0f} MiB before")
        self.assertTrue(until(lambda: "total_bytes" in balloon()["guest"], 10), balloon())
        self.assertGreater(balloon()["guest"]["total_bytes"], 400 << 20)  # the guest's own view
        # Deflated, the memory is the guest's again: it fills 180 MiB again without trouble.
        r = subprocess.run([CLOISON, "balloon", "--sock", sock, "0"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("the guest may keep 512 MiB; the balloon holds "), r.stdout)
        self.assertTrue(until(lambda: balloon()["actual_bytes"] == 0), balloon())
        self.assertGreaterEqual(balloon()["deflated_bytes"], 384 << 20)
        self.assertEqual(g.run("dd if=/dev/zero of=/fill bs=1M count=180 2>/dev/null && echo filled-again"),
                         "filled-again")
        r = subprocess.run([CLOISON, "balloon", "--sock", sock], capture_output=True, text=True)
        self.assertRegex(r.stdout, r"(?m)^memory_target_bytes +512 MiB$")
        for bad in ({"memory_target": -1}, {"memory_target": "1G"}, {"memory_target": 1 << 20}, {"x": 1}):
            self.assertEqual(api(sock, "POST", "/vm/balloon", bad)[0], 400, bad)
        self.assertEqual(api(sock, "GET", "/vm")[1]["state"], "running")

    def test_free_page_reporting(self):
        # With no target at all, the guest hands back the memory it frees (Linux reports free 2 MiB
        # blocks a couple of seconds after they appear).
        def rss_mib(pid):
            with open(f"/proc/{pid}/status") as f:
                return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024

        g, sock = self.start("--mem", "512M")
        g.expect("guest# ")
        self.assertEqual(g.run("dd if=/dev/zero of=/fill bs=1M count=180 2>/dev/null && echo filled"), "filled")
        filled = rss_mib(g.proc.pid)
        g.run("rm /fill")
        deadline = time.monotonic() + 20
        while rss_mib(g.proc.pid) > filled - 150 and time.monotonic() < deadline:
            time.sleep(0.2)
        b = api(sock, "GET", "/vm/balloon")[1]
        self.assertLess(rss_mib(g.proc.pid), filled - 150, b)
        self.assertGreaterEqual(b["reported_free_bytes"], 150 << 20)
        self.assertEqual((b["target_bytes"], b["inflated_bytes"]), (0, 0))
        self.assertEqual(g.run("dd if=/dev/zero of=/fill bs=1M count=180 2>/dev/null && echo filled-again"),
                         "filled-again")

    def test_pause_resume(self):
        g, sock = self.start()
        g.expect("guest# ")
        g.send(TICK_LOOP + "\n")
        g.expect(r"tick 5\r?\n")
        status, body = api(sock, "POST", "/vm/pause")
        self.assertEqual((status, body["state"]), (200, "paused"))
        time.sleep(0.3)  # whatever was in flight lands
        before = ticks(g.output)
        insns = api(sock, "GET", "/vm")[1]["instructions"]
        time.sleep(1.5)
        self.assertEqual(ticks(g.output), before, "ticks advanced while paused")
        status, body = api(sock, "GET", "/vm")
        self.assertEqual(body["state"], "paused")
        self.assertEqual(body["instructions"], insns, "instructions retired while paused")
        self.assertEqual(api(sock, "POST", "/vm/pause")[0], 200)  # idempotent
        self.assertEqual(api(sock, "POST", "/vm/resume")[0], 200)
        self.assertEqual(api(sock, "POST", "/vm/resume")[0], 409)  # not paused
        g.expect(rf"tick {before[-1] + 5}\r?\n", timeout=30)
        seq = [t for t in ticks(g.output) if t >= before[-1]]
        self.assertEqual(seq, list(range(before[-1], seq[-1] + 1)), "ticks skipped or repeated across the pause")
        # The CLI wraps the same calls.
        r = subprocess.run([CLOISON, "pause", "--sock", sock, "-q"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([CLOISON, "status", "--sock", sock, "--format", "json"], capture_output=True, text=True)
        self.assertEqual(json.loads(r.stdout)["state"], "paused")
        r = subprocess.run([CLOISON, "status", "--sock", sock], capture_output=True, text=True)
        self.assertRegex(r.stdout, r"(?m)^state +paused$")  # for humans: no JSON
        self.assertNotIn("{", r.stdout)
        r = subprocess.run([CLOISON, "stop", "--sock", sock, "-q"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(g.wait_exit(60), 0)

    def test_save_restore_twice_mid_computation(self):
        g, sock = self.start()
        g.expect("guest# ")
        g.run("dd if=/dev/urandom of=/tmp/big bs=1M count=16 2>/dev/null; sha256sum /tmp/big > /tmp/ref")
        ref = g.run("cat /tmp/ref").split()[0]
        self.assertRegex(ref, "^[0-9a-f]{64}$")
        # Twenty hashes, each announced on the console; the save comes once the second is announced,
        # however fast the engine. The closing marker is computed, so the command's echo and the
        # shell's job report never contain it.
        g.send("(for i in $(seq 1 20); do sha256sum /tmp/big >> /tmp/res; echo hashed $i; done; "
               "echo ALL-HASHED $((6*7))) &\n")
        g.expect(r"hashed 2\r?\n")
        snap = os.path.join(self.tmp, "snap")
        status, body = api(sock, "POST", "/vm/save", {"dir": snap, "then": "stop"})
        self.assertEqual(status, 200, body)
        self.assertEqual(g.wait_exit(60), 0)
        self.assertNotIn("hashed 20", g.output, "the loop finished before the save: not mid-computation")
        mem = os.stat(os.path.join(snap, "memory"))
        self.assertEqual(mem.st_size, 256 << 20)
        self.assertLess(mem.st_blocks * 512, mem.st_size, "the memory file is not sparse")
        # Two VMs from the same files at once.
        copies = [Guest(CLOISON, ["--restore", snap]) for _ in range(2)]
        self.guests += copies
        for c in copies:
            c.expect(r"ALL-HASHED 42", timeout=240)
            self.assertIn("hashed 20", c.output, "the restored copy did not run the rest of the loop")
            out = c.run("cat /tmp/res")
            hashes = re.findall(r"^([0-9a-f]{64})\s", out, re.M)
            self.assertEqual(len(hashes), 20, out)
            self.assertEqual(set(hashes), {ref})
        for c in copies:
            c.send("poweroff -f\n")
            self.assertEqual(c.wait_exit(60), 0)
        self.assertEqual(len(os.listdir(snap)), 2, "restoring changed the snapshot directory")

    def test_cold_migration_of_a_saved_vm(self):
        g, sock = self.start()
        g.expect("guest# ")
        g.run("echo cold-state > /tmp/marker")
        snap = os.path.join(self.tmp, "snap")
        self.assertEqual(api(sock, "POST", "/vm/save", {"dir": snap, "then": "stop"})[0], 200)
        self.assertEqual(g.wait_exit(60), 0)
        port = free_port()
        dst = Guest(CLOISON, ["--incoming", f"127.0.0.1:{port}"])
        self.guests.append(dst)
        for _ in range(100):  # until it listens
            r = subprocess.run([CLOISON, "migrate", "--from", snap, "--to", f"127.0.0.1:{port}"],
                               capture_output=True, text=True, timeout=60)
            if "connect" not in r.stderr:
                break
            time.sleep(0.1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("migrated", r.stdout)
        dst.send("\n")
        self.assertEqual(dst.run("cat /tmp/marker"), "cold-state")
        dst.send("poweroff -f\n")
        self.assertEqual(dst.wait_exit(60), 0)

    def test_migrate_to_nowhere_keeps_running(self):
        g, sock = self.start()
        g.expect("guest# ")
        g.send(TICK_LOOP + "\n")
        g.expect(r"tick 3\r?\n")
        status, body = api(sock, "POST", "/vm/migrate", {"to": f"127.0.0.1:{free_port()}"})
        self.assertEqual(status, 409)
        self.assertIn("connect", body["error"])
        self.assertEqual(api(sock, "GET", "/vm")[1]["state"], "running")
        n = ticks(g.output)[-1]
        g.expect(rf"tick {n + 3}\r?\n", timeout=30)

    def test_bad_api_requests(self):
        g, sock = self.start()
        g.expect("guest# ")
        cases = [
            ("GET", "/nope", None, None, 404),
            ("POST", "/vm", None, None, 405),
            ("POST", "/vm/save", None, None, 400),
            ("POST", "/vm/save", {"dir": 3}, None, 400),
            ("POST", "/vm/save", {"dir": "/x", "then": "explode"}, None, 400),
            ("POST", "/vm/save", {"dir": "/x", "extra": 1}, None, 400),
            ("POST", "/vm/migrate", {"to": "nocolon"}, None, 400),
            ("POST", "/vm/pause", {"now": True}, None, 400),
            ("POST", "/vm/save", None, b"POST /vm/save HTTP/1.1\r\nContent-Length: 5\r\n\r\n{nope", 400),
            ("GET", "/vm", None, b"GARBAGE\r\n\r\n", 400),
            ("GET", "/vm", None, b"GET /vm HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413),
            ("GET", "/vm", None, b"GET /vm HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        ]
        for method, path, body, raw, want in cases:
            status, reply = api(sock, method, path, body, raw)
            self.assertEqual(status, want, (method, path, body, raw, reply))
            self.assertTrue(reply and reply.get("error"), reply)
        self.assertEqual(api(sock, "GET", "/vm")[1]["state"], "running")
        self.assertEqual(g.run("echo still $((40+2))"), "still 42")


class Clone(unittest.TestCase):
    """Clones of one saved VM: own disk overlays, new MAC addresses, reseeded RNGs."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cloison-clone-")
        self.guests = []

    def tearDown(self):
        for g in self.guests:
            g.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_clones_have_own_identity_and_disks(self):
        disk = os.path.join(self.tmp, "base.qcow2")
        subprocess.run([CLOISON, "disk", "create", disk, "16M"], check=True, capture_output=True)
        sock, snap = os.path.join(self.tmp, "api.sock"), os.path.join(self.tmp, "snap")
        g = Guest(CLOISON, ["--api-sock", sock, "--disk", disk, "--net", "user"])
        self.guests.append(g)
        g.expect("guest# ")
        mac0 = g.run("cat /sys/class/net/eth0/address")
        status, body = api(sock, "POST", "/vm/save", {"dir": snap, "then": "stop"})
        self.assertEqual(status, 200, body)
        self.assertEqual(g.wait_exit(60), 0)
        base_before = subprocess.run(["sha256sum", disk], capture_output=True, text=True).stdout.split()[0]
        rebind = ("d=$(basename $(readlink /sys/class/net/eth0/device)); "
                  "echo $d > /sys/bus/virtio/drivers/virtio_net/unbind; "
                  "echo $d > /sys/bus/virtio/drivers/virtio_net/bind; cat /sys/class/net/eth0/address")
        seen = []
        for name in ("c1", "c2"):
            c = Guest(CLOISON, ["--restore", snap, "--clone", os.path.join(self.tmp, name)])
            self.guests.append(c)
            c.send("\n")
            ints = c.run("grep vmgenid /proc/interrupts")
            self.assertRegex(ints, r"^\s*\d+:\s+1\s", "the clone's guest did not get one generation-ID interrupt")
            rnd = c.run("head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'")
            c.run(f"printf 'written by {name}' | dd of=/dev/vda bs=512 conv=fsync 2>/dev/null")
            mac = c.run(rebind)  # what a clone-safe guest does on NEW_VMGENID (docs/lifecycle.md)
            seen.append((rnd, mac))
            c.send("poweroff -f\n")
            self.assertEqual(c.wait_exit(60), 0)
        (r1, m1), (r2, m2) = seen
        self.assertRegex(r1, "^[0-9a-f]{32}$")
        self.assertNotEqual(r1, r2, "two clones produced the same random bytes")
        self.assertEqual(len({mac0, m1, m2}), 3, (mac0, m1, m2))
        self.assertEqual(subprocess.run(["sha256sum", disk], capture_output=True, text=True).stdout.split()[0],
                         base_before, "a clone wrote to the saved VM's disk")
        for name in ("c1", "c2"):
            overlay = os.path.join(self.tmp, name, "disk0.qcow2")
            r = subprocess.run(["qemu-img", "check", overlay], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            raw = os.path.join(self.tmp, name + ".raw")
            subprocess.run(["qemu-img", "convert", "-O", "raw", overlay, raw], check=True)
            with open(raw, "rb") as f:
                self.assertEqual(f.read(13), f"written by {name}".encode())

    def test_clone_verb_starts_background_clones(self):
        sock, snap = os.path.join(self.tmp, "api.sock"), os.path.join(self.tmp, "snap")
        g = Guest(CLOISON, ["--api-sock", sock])
        self.guests.append(g)
        g.expect("guest# ")
        self.assertEqual(api(sock, "POST", "/vm/save", {"dir": snap, "then": "stop"})[0], 200)
        g.wait_exit(60)
        out = os.path.join(self.tmp, "clones")
        r = subprocess.run([CLOISON, "clone", snap, "--count", "2", "--dir", out], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [line.split() for line in r.stdout.splitlines()]
        self.assertEqual(len(lines), 2, r.stdout)
        try:
            for path, _ in lines:
                self.assertEqual(api(path, "GET", "/vm")[1]["state"], "running")
        finally:
            for path, pid in lines:
                try:
                    api(path, "POST", "/vm/stop")
                except OSError:
                    os.kill(int(pid), 9)
        for _, pid in lines:
            for _ in range(200):
                try:
                    os.kill(int(pid), 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                self.fail(f"clone {pid} did not stop")


class BadState(unittest.TestCase):
    """Restore and incoming migration refuse broken inputs with a message, exit 1, no crash."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cloison-badstate-")
        cls.snap = os.path.join(cls.tmp, "good")
        sock = os.path.join(cls.tmp, "api.sock")
        g = Guest(CLOISON, ["--api-sock", sock])
        try:
            g.expect("guest# ")
            status, body = api(sock, "POST", "/vm/save", {"dir": cls.snap, "then": "stop"})
            assert status == 200, body
            g.wait_exit(60)
        finally:
            g.kill()
        with open(os.path.join(cls.snap, "vmstate"), "rb") as f:
            cls.state = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def restore_with(self, state=None, memory_size=None):
        d = tempfile.mkdtemp(dir=self.tmp)
        with open(os.path.join(d, "vmstate"), "wb") as f:
            f.write(self.state if state is None else state)
        shutil.copy(os.path.join(self.snap, "memory"), os.path.join(d, "memory"))
        if memory_size is not None:
            os.truncate(os.path.join(d, "memory"), memory_size)
        r = subprocess.run([CLOISON, "run", "--restore", d], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotIn("Sanitizer", r.stderr)
        return r.stderr

    def test_truncated(self):
        for cut in (0, 10, 40, len(self.state) // 2, len(self.state) - 1):
            err = self.restore_with(self.state[:cut])
            self.assertRegex(err, "truncated|not a cloison state file|bad magic", cut)

    def test_bit_flips(self):
        for pos in (20, 100, len(self.state) // 3, len(self.state) // 2, len(self.state) - 10):
            bad = bytearray(self.state)
            bad[pos] ^= 0x40
            err = self.restore_with(bytes(bad))
            self.assertRegex(err, "corrupt|checksum|expected section|truncated", pos)

    def test_version_mismatch(self):
        bad = bytearray(self.state)
        bad[8] = 99
        self.assertIn("version 99 is not supported", self.restore_with(bytes(bad)))

    def test_memory_file_size(self):
        self.assertIn("memory", self.restore_with(memory_size=4096))

    def test_memory_is_a_directory(self):
        d = tempfile.mkdtemp(dir=self.tmp)
        with open(os.path.join(d, "vmstate"), "wb") as f:
            f.write(self.state)
        os.mkdir(os.path.join(d, "memory"))
        r = subprocess.run([CLOISON, "run", "--restore", d], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("is not a regular file", r.stderr)

    def test_machine_options_with_restore(self):
        r = subprocess.run([CLOISON, "run", "--restore", self.snap, "-m", "512"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("configuration", r.stderr)

    def test_garbage_migration_stream(self):
        port = free_port()
        p = subprocess.Popen([CLOISON, "run", "--incoming", f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(100):
                try:
                    s = socket.create_connection(("127.0.0.1", port))
                    break
                except OSError:
                    time.sleep(0.05)
            s.sendall(b"CLMIGRAT\x01\x00\x00\x00\x00\x00\x00\x00" + os.urandom(4096))
            reply = s.recv(1000).decode()
            s.close()
            _, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
        self.assertTrue(reply.startswith("ER "), reply)
        self.assertEqual(p.returncode, 1)
        self.assertIn("incoming migration failed", err)


    def receiver(self):
        port = free_port()
        p = subprocess.Popen([CLOISON, "run", "--incoming", f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(100):
            try:
                return p, socket.create_connection(("127.0.0.1", port))
            except OSError:
                time.sleep(0.05)
        p.kill()
        raise AssertionError("the receiver does not listen")

    @staticmethod
    def record(rtype, count=0, arg=0, payload=b""):
        return struct.pack("<IIQ", rtype, count, arg) + payload

    def test_impossible_configuration_refused_before_any_page(self):
        """A destination that cannot build the VM says so after the configuration record, before the
        source sends a single page."""
        cases = [({"memory": 1 << 40}, "more than this host has"),
                 ({"nics": ["no-such-network"]}, "cannot build the VM"),
                 ({"disks": ["/nonexistent/disk.qcow2"]}, "shared storage expected")]
        for cfg, needle in cases:
            p, s = self.receiver()
            try:
                text = json.dumps(cfg).encode()
                s.sendall(b"CLMIGRAT" + struct.pack("<II", 1, 0) + self.record(1, 0, len(text), text))
                s.settimeout(10)
                reply = s.recv(1000).decode()  # no page was sent: the verdict comes first
                s.close()
                _, err = p.communicate(timeout=30)
            finally:
                if p.poll() is None:
                    p.kill()
            self.assertTrue(reply.startswith("ER "), (cfg, reply))
            self.assertIn(needle, reply, cfg)
            self.assertEqual(p.returncode, 1, err)

    def test_bytes_after_the_end_record(self):
        """A cold migration of the saved VM relayed record by record, with 16 bytes of garbage after
        its end record: the destination refuses it and the source reports the refusal."""
        p, dst = self.receiver()
        relay = socket.socket()
        relay.bind(("127.0.0.1", 0))
        relay.listen(1)
        src = subprocess.Popen([CLOISON, "migrate", "--from", self.snap, "--to",
                                f"127.0.0.1:{relay.getsockname()[1]}"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            conn, _ = relay.accept()
            conn.settimeout(30)

            def take(n):
                buf = b""
                while len(buf) < n:
                    chunk = conn.recv(n - len(buf))
                    if not chunk:
                        raise AssertionError("the source closed early")
                    buf += chunk
                return buf

            dst.sendall(take(16))  # header
            while True:
                head = take(16)
                rtype, count, arg = struct.unpack("<IIQ", head)
                size = {1: arg, 2: count * 4096, 4: arg, 8: count}.get(rtype, 0)
                dst.sendall(head + take(size))
                if rtype == 5:  # end
                    dst.sendall(os.urandom(16))
                    break
            dst.settimeout(30)
            reply = dst.recv(1000)
            conn.sendall(reply)
            conn.close()
            _, err = p.communicate(timeout=30)
            _, src_err = src.communicate(timeout=30)
        finally:
            for proc in (p, src):
                if proc.poll() is None:
                    proc.kill()
            dst.close()
            relay.close()
        self.assertTrue(reply.startswith(b"ER "), reply)
        self.assertIn(b"bytes follow the end record", reply)
        self.assertEqual(p.returncode, 1, err)
        self.assertNotEqual(src.returncode, 0)
        self.assertIn("bytes follow the end record", src_err)


class LiveMigration(unittest.TestCase):
    """Two network namespaces joined by a veth pair stand for two hosts; the disk is shared storage."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("network namespaces need root")
        self.tmp = tempfile.mkdtemp(prefix="cloison-migrate-")
        tag = str(os.getpid())
        self.ns = [f"clmig-a{tag}", f"clmig-b{tag}"]
        for ns in self.ns:
            subprocess.run(["ip", "netns", "add", ns], check=True)
        va, vb = f"cma{tag}"[:15], f"cmb{tag}"[:15]
        sh = lambda *c: subprocess.run(c, check=True)  # noqa: E731
        sh("ip", "link", "add", va, "netns", self.ns[0], "type", "veth", "peer", "name", vb, "netns", self.ns[1])
        for ns, dev, addr in ((self.ns[0], va, "10.98.0.1/24"), (self.ns[1], vb, "10.98.0.2/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        self.procs = []

    def tearDown(self):
        for g in self.procs:
            g.kill()
        for ns in self.ns:
            subprocess.run(["ip", "netns", "del", ns])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_live_migration_console_and_disk(self):
        disk = os.path.join(self.tmp, "data.qcow2")
        subprocess.run([CLOISON, "disk", "create", disk, "64M"], check=True, capture_output=True)
        src_sock, dst_sock = os.path.join(self.tmp, "src.sock"), os.path.join(self.tmp, "dst.sock")
        src = Guest(None, argv=["ip", "netns", "exec", self.ns[0], CLOISON, "run", "-m", "512M",
                                "--api-sock", src_sock, "--disk", disk])
        self.procs.append(src)
        dst = Guest(None, argv=["ip", "netns", "exec", self.ns[1], CLOISON, "run",
                                "--incoming", "10.98.0.2:7777", "--api-sock", dst_sock])
        self.procs.append(dst)
        wait_for_socket(src_sock, src.proc)
        src.expect("guest# ")
        # Ticks on the console; numbered records to the disk, each written synchronously.
        src.send('i=0; while true; do echo "tick $i"; printf "rec %08d\\n" $i | '
                 'dd of=/dev/vda bs=512 seek=$i conv=notrunc,fsync 2>/dev/null; i=$((i+1)); sleep 0.05; done &\n')
        src.expect(r"tick 20\r?\n", timeout=60)
        status, body = api(src_sock, "POST", "/vm/migrate", {"to": "10.98.0.2:7777"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["state"], "migrated")
        self.assertLess(body["downtime_ms"], body["total_ms"])
        self.assertEqual(src.wait_exit(60), 0)
        last_src = ticks(src.output)[-1]
        dst.expect(rf"tick {last_src + 20}\r?\n", timeout=60)
        self.assertEqual(api(dst_sock, "GET", "/vm")[1]["state"], "running")
        seq_src, seq_dst = ticks(src.output), ticks(dst.output)
        seq_src = [t for t in seq_src if t >= 5]  # the first ticks share lines with the shell's prompt redraw
        self.assertEqual(seq_src, list(range(5, last_src + 1)))
        self.assertEqual(seq_dst[0], last_src + 1, "the destination did not continue where the source stopped")
        self.assertEqual(seq_dst, list(range(seq_dst[0], seq_dst[-1] + 1)))
        dst.send("kill %1; sync\n")
        time.sleep(1)
        last = ticks(dst.output)[-1]
        dst.send("poweroff -f\n")
        self.assertEqual(dst.wait_exit(60), 0)
        r = subprocess.run(["qemu-img", "check", disk], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        raw = os.path.join(self.tmp, "data.raw")
        subprocess.run(["qemu-img", "convert", "-O", "raw", disk, raw], check=True)
        with open(raw, "rb") as f:
            data = f.read()
        for i in range(0, last):  # the tick is printed before its record is written
            self.assertEqual(data[i * 512:i * 512 + 13], b"rec %08d\n" % i, f"record {i} lost")


    def test_live_migration_copies_an_overlay(self):
        base = os.path.join(self.tmp, "base.qcow2")  # both "hosts" have it
        subprocess.run([CLOISON, "disk", "create", base, "32M"], check=True, capture_output=True)
        subprocess.run(["qemu-io", "-c", "write -P 0x5a 1M 64k", base], check=True, capture_output=True)
        src_dir, dst_dir = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        os.makedirs(src_dir)
        os.makedirs(dst_dir)
        overlay = os.path.join(src_dir, "vm.qcow2")
        subprocess.run([CLOISON, "disk", "create", "-b", base, overlay], check=True, capture_output=True)
        src_sock = os.path.join(self.tmp, "src.sock")
        src = Guest(None, argv=["ip", "netns", "exec", self.ns[0], CLOISON, "run", "--api-sock", src_sock,
                                "--disk", overlay])
        self.procs.append(src)
        dst = Guest(None, argv=["ip", "netns", "exec", self.ns[1], CLOISON, "run", "--incoming", "10.98.0.2:7778",
                                "--storage-dir", dst_dir])
        self.procs.append(dst)
        wait_for_socket(src_sock, src.proc)
        src.expect("guest# ")
        src.run("printf 'before-migration' | dd of=/dev/vda bs=512 seek=8 conv=notrunc,fsync 2>/dev/null")
        r = subprocess.run([CLOISON, "migrate", "--sock", src_sock, "--to", "10.98.0.2:7778", "--copy-storage"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(src.wait_exit(60), 0)
        dst.send("\n")
        self.assertEqual(dst.run("dd if=/dev/vda bs=512 skip=8 count=1 2>/dev/null | head -c 16"), "before-migration")
        self.assertEqual(dst.run("dd if=/dev/vda bs=64k skip=16 count=1 2>/dev/null | od -An -tx1 | head -1 "
                                 "| tr -d ' '"), "5a" * 16, "the backing file's data is not visible")
        dst.run("printf 'after-migration' | dd of=/dev/vda bs=512 seek=16 conv=notrunc,fsync 2>/dev/null")
        dst.send("poweroff -f\n")
        self.assertEqual(dst.wait_exit(60), 0)
        copied = [f for f in os.listdir(dst_dir) if f.endswith(".qcow2")]
        self.assertEqual(len(copied), 1, os.listdir(dst_dir))
        moved = os.path.join(dst_dir, copied[0])
        r = subprocess.run(["qemu-img", "check", moved], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run(["qemu-io", "-c", "read -P 0x5a 1M 64k", moved], capture_output=True, text=True)
        self.assertNotIn("Pattern verification failed", r.stdout)
        raw = os.path.join(self.tmp, "moved.raw")
        subprocess.run(["qemu-img", "convert", "-O", "raw", moved, raw], check=True)
        with open(raw, "rb") as f:
            data = f.read(16 * 512 + 15)
        self.assertEqual(data[8 * 512:8 * 512 + 16], b"before-migration")
        self.assertEqual(data[16 * 512:], b"after-migration")
        # The source's overlay was not written after the migration.
        with open(os.path.join(self.tmp, "src.raw"), "wb"):
            pass
        subprocess.run(["qemu-img", "convert", "-O", "raw", overlay, os.path.join(self.tmp, "src.raw")], check=True)
        with open(os.path.join(self.tmp, "src.raw"), "rb") as f:
            self.assertEqual(f.read(16 * 512 + 15)[16 * 512:], bytes(15))


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
