#!/usr/bin/env python3
"""test_daemon.py — cloisond with a real daemon on a temporary socket and state directory.

- Lifecycle through the CLI: a VM (a bare-metal guest from tests/guests/spin.S,
  so no boot time) and a container: create, start, list, info, pause, resume,
  limits changed while running, stats, stop, rm; `info --format json` goes back
  through `create -f`.
- A container's console (its init's terminal) through `cloison console`.
- Resilience: kill -9 of the daemon leaves the VM running; a new daemon finds
  it (same pid) and the SQLite file passes integrity_check; a VM process killed
  behind the daemon's back is reported `crashed` with its console log kept.
- Resource control: two CPU-bound VMs pinned to one host CPU with weights 100
  and 300 retire instructions in a 1:3 ratio (within 15%); a 25% cap holds
  (20-30% of a CPU); the emulator's own cap holds without cgroups.
- Accounting: a guest that runs a known loop retires exactly what it implies;
  /metrics parses with prometheus_client's text parser.
- Live migration between two daemons (two state directories and sockets, as
  two hosts would have): `cloison receive` on one, `cloison migrate` on the
  other; the guest's instruction count carries over and the destination
  supervises the VM; bad receive requests and a receive nobody answers fail
  clearly.
- Storage and networks: pools and volumes (qcow2, raw static, overlays, copies
  as operations with progress) checked with qemu-img; in-use refusals.
- The real guest: the default Debian kernel and busybox initramfs started by the
  daemon with two harts boots to userspace (its console log), and its shell is
  driven through `cloison console` (the API's 101 upgrade); a second console
  is refused while one is attached.
- Hostile input: malformed JSON, unknown fields, impossible limits, path names,
  duplicates, missing instances, a client that disconnects mid-request, and
  1,000 concurrent requests get clear 4xx answers; the daemon stays up and
  no half-created instance is left.

Usage: test_daemon.py CLOISON_BINARY
"""
import concurrent.futures
import csv
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import PROMPT, Guest, free_port, guest_dir, http_unix  # noqa: E402

CLOISON = None
CLOISOND = None
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LOOPS = 20_000_000  # spin_count: 2 instructions per iteration + 6


def build_guest(out, loops):
    subprocess.run(["riscv64-linux-gnu-gcc", "-nostdlib", "-static", "-march=rv64gc", "-mabi=lp64d",
                    "-Wl,-N", "-Wl,--build-id=none", "-Wl,-Ttext=0x80000000", "-Wl,--no-warn-rwx-segments",
                    f"-DLOOPS={loops}", "-o", out, os.path.join(ROOT, "tests/guests/spin.S")], check=True)


def api(method, path, body=None, raw=None, timeout=30, sock=None):
    """One request on the daemon's socket (the main daemon's unless told); returns (status, parsed
    body or text)."""
    return http_unix(sock or Daemon.sock, method, path, body, raw, timeout)


class Daemon:
    sock = None  # the main daemon's

    def __init__(self, tmp, main=True):
        self.tmp = tmp
        self.state = os.path.join(tmp, "state")
        self.run = os.path.join(tmp, "run")
        self.sock = os.path.join(tmp, "d.sock")
        if main:
            Daemon.sock = self.sock
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.tmp, "daemon.log"), "a")
        self.proc = subprocess.Popen([CLOISOND, "--state-dir", self.state, "--run-dir", self.run,
                                      "--socket", self.sock], stdout=self.log, stderr=self.log)
        for _ in range(200):
            try:
                if api("GET", "/v1", sock=self.sock)[0] == 200:
                    self.log.close()
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("cloisond did not come up: " + open(os.path.join(self.tmp, "daemon.log")).read())

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=10)


def cli(*args, check=True, timeout=120, sock=None):
    env = dict(os.environ, CLOISON_SOCKET=sock or Daemon.sock)
    r = subprocess.run([CLOISON, *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"cloison {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def info(name, sock=None):
    return json.loads(cli("info", name, "--format", "json", sock=sock).stdout)


def instructions(name, sock=None):
    return api("GET", f"/v1/instances/{name}/stats", sock=sock)[1]["instructions"]


def wait_until(condition, seconds=5, step=0.05):
    """Polls condition() until it holds or `seconds` pass; the caller asserts what it needs after."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(step)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def consistency(name, state_dir):
    """Whether an instance's recorded state matches its process: running counts instructions (VMs),
    paused does not, stopped has no process; its snapshot directories are exactly the listed
    snapshots; the database passes integrity_check. Returns (state, problems)."""
    problems = []
    d = info(name)
    s = d["status"]
    vm = d["type"] == "vm"
    if s["state"] not in ("running", "paused", "stopped"):
        problems.append(f"{name}: state {s['state']}")
    elif s["state"] in ("running", "paused"):
        try:
            os.kill(s["pid"], 0)
        except (OSError, TypeError):
            problems.append(f"{name}: {s['state']} without a process ({s.get('pid')})")
        if vm and not problems:
            try:
                a = instructions(name)
                time.sleep(0.3)
                grew = instructions(name) > a
            except (KeyError, TypeError):
                problems.append(f"{name}: {s['state']} but its statistics cannot be read")
                grew = s["state"] == "running"
            if grew != (s["state"] == "running"):
                problems.append(f"{name}: {s['state']} but instructions {'do not ' if s['state'] == 'running' else ''}grow")
    elif s.get("pid"):
        problems.append(f"{name}: stopped with a pid {s['pid']}")
    if vm:
        listed = sorted(x["name"] for x in api("GET", f"/v1/instances/{name}/snapshots")[1])
        sdir = os.path.join(state_dir, "instances", name, "snapshots")
        present = sorted(os.listdir(sdir)) if os.path.isdir(sdir) else []
        if listed != present:
            problems.append(f"{name}: snapshots listed {listed}, on disk {present}")
    db = sqlite3.connect(os.path.join(state_dir, "cloisond.db"))
    if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
        problems.append("integrity_check failed")
    db.close()
    return s["state"], problems


class DaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cloisond-", dir="/tmp")
        cls.spin = os.path.join(cls.tmp, "spin_forever")
        cls.count = os.path.join(cls.tmp, "spin_count")
        build_guest(cls.spin, 0)
        build_guest(cls.count, LOOPS)
        cls.rootfs = os.path.join(cls.tmp, "rootfs")
        subprocess.run(["bash", os.path.join(ROOT, "tools/guest/mkctroot.sh"), cls.rootfs], check=True,
                       capture_output=True)
        cls.d = Daemon(cls.tmp)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        for inst in api("GET", "/v1/instances")[1]:
            api("DELETE", f"/v1/instances/{inst['name']}?force=1")
        cls.d.kill(signal.SIGTERM)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def vm(self, name, *extra, kernel=None):
        cli("create", name, "--firmware", "none", "--kernel", kernel or self.spin, "--memory", "32M", *extra)

    def test_vm_lifecycle(self):
        self.vm("life1", "--cpu-weight", "200")
        self.assertEqual(info("life1")["status"]["state"], "stopped")
        cli("start", "life1")
        st = info("life1")["status"]
        self.assertEqual(st["state"], "running")
        self.assertGreater(st["pid"], 0)
        self.assertIn("life1", cli("list").stdout)
        a = instructions("life1")
        time.sleep(0.3)
        self.assertGreater(instructions("life1"), a)
        cli("pause", "life1")
        self.assertEqual(info("life1")["status"]["state"], "paused")
        a = instructions("life1")
        time.sleep(0.3)
        self.assertEqual(instructions("life1"), a, "a paused VM retires nothing")
        cli("resume", "life1")
        # A limit changed while it runs takes effect at once: 10 M instructions/s.
        cli("limits", "life1", "--ips", "10M")
        time.sleep(0.3)
        a, t = instructions("life1"), time.monotonic()
        time.sleep(1.5)
        rate = (instructions("life1") - a) / (time.monotonic() - t)
        self.assertTrue(8e6 < rate < 12e6, f"{rate:.0f} instructions/s under a 10M cap")
        self.assertEqual(info("life1")["limits"]["ips"], 10_000_000)
        # The definition round-trips through create -f.
        path = os.path.join(self.tmp, "life1.json")
        with open(path, "w") as f:
            f.write(cli("info", "life1", "--format", "json").stdout)
        cli("create", "-f", path, "--name", "life1-copy")
        a, b = info("life1"), info("life1-copy")
        for k in ("vm", "limits", "type"):
            self.assertEqual(a[k], b[k])
        r = cli("rm", "life1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("stop it first", r.stderr)
        cli("stop", "life1")
        self.assertEqual(info("life1")["status"]["state"], "stopped")
        cli("rm", "life1")
        cli("rm", "life1-copy")
        self.assertEqual(api("GET", "/v1/instances/life1")[0], 404)

    def test_cli_output_snapshots_and_dependents(self):
        """What the CLI says: one line per change (-q: none), tables without JSON in them (sizes,
        dates, durations, defaults in words), json/yaml/csv; snapshot list and rm; an instance or a
        snapshot a clone resumes from cannot be removed from under it."""
        with open(os.path.join(self.tmp, "daemon.log")) as f:  # the daemon said where it listens
            self.assertIn(f"cloisond: listening on {Daemon.sock} (state in ", f.read())
        r = cli("create", "snapy", "--firmware", "none", "--kernel", self.spin, "--memory", "32M", "--start")
        self.assertEqual(r.stdout, "created VM snapy\nstarted snapy\n")
        shown = cli("info", "snapy").stdout
        self.assertNotIn("{", shown)
        self.assertRegex(shown, r"(?m)^vm\.memory +32 MiB$")
        self.assertRegex(shown, r"(?m)^limits\.cpu_weight +100 \(default\)$")
        self.assertRegex(shown, r"(?m)^status\.started_at +20\d\d-\d\d-\d\d \d\d:\d\d:\d\d$")
        shown = cli("stats", "snapy").stdout
        self.assertNotIn("{", shown)
        self.assertRegex(shown, r"(?m)^engine\.uptime_s +(\d+\.\d\d s|\d+m\d\ds)$")
        self.assertRegex(shown, r"(?m)^memory_bytes +\d+(\.\d+)? [KMG]iB$")
        self.assertRegex(cli("limits", "snapy").stdout, r"(?m)^cpu_weight +100 \(default\)$")
        self.assertEqual(json.loads(cli("limits", "snapy", "--format", "json").stdout)["cpu_weight"], 0)
        self.assertRegex(cli("limits", "snapy").stdout, r"(?m)^memory_target +all of the VM's memory \(no balloon\)$")
        # The balloon's target reaches the running VM's device (a bare-metal guest has no driver to obey).
        self.assertEqual(cli("limits", "snapy", "--memory-target", "16M").stdout, "changed the limits of snapy\n")
        self.assertRegex(cli("limits", "snapy").stdout, r"(?m)^memory_target +16 MiB$")
        engine = json.loads(cli("stats", "snapy", "--format", "json").stdout)["engine"]
        self.assertEqual((engine["balloon"]["memory_target_bytes"], engine["balloon"]["target_bytes"]),
                         (16 << 20, 16 << 20))
        r = cli("limits", "snapy", "--memory-target", "64M", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("memory_target (64 MiB) is more than the VM's memory (32 MiB)", r.stderr)
        exact = json.loads(cli("stats", "snapy", "--format", "json").stdout)["engine"]["uptime_s"]
        self.assertIsInstance(exact, float)
        rows = list(csv.DictReader(io.StringIO(cli("list", "--format", "csv").stdout)))
        self.assertIn(("snapy", "running"), [(x["name"], x["status.state"]) for x in rows])
        self.assertRegex(cli("list", "--format", "yaml").stdout, r'(?m)^- name: "snapy"$|^  name: "snapy"$')

        self.assertEqual(cli("snapshot", "snapy", "s1").stdout, "saved snapy as snapshot s1\n")
        listed = cli("snapshot", "list", "snapy").stdout.splitlines()
        self.assertEqual(listed[0].split(), ["SNAPSHOT", "TAKEN", "PATH"])
        self.assertTrue(listed[1].startswith("s1 "), listed)
        self.assertEqual([x["name"] for x in json.loads(cli("snapshot", "list", "snapy", "--format", "json").stdout)],
                         ["s1"])
        self.assertEqual(cli("clone", "snapy", "snapy2", "--snapshot", "s1").stdout, "cloned snapy as snapy2\n")
        r = cli("snapshot", "rm", "snapy", "s1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "cloison snapshot: snapshot 's1' of 'snapy' is what snapy2 resumes from: "
                                   "remove it first\n")
        r = cli("rm", "--force", "snapy", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("'snapy' has snapshots or disks that snapy2 still uses", r.stderr)
        self.assertEqual(info("snapy")["status"]["state"], "running")  # refused before anything happened
        self.assertEqual(cli("-q", "stop", "snapy").stdout, "")
        self.assertEqual(cli("rm", "snapy2").stdout, "removed snapy2\n")
        self.assertEqual(cli("snapshot", "rm", "snapy", "s1").stdout, "removed snapshot s1 of snapy\n")
        self.assertEqual(json.loads(cli("snapshot", "list", "snapy", "--format", "json").stdout), [])
        self.assertEqual(cli("rm", "snapy", "-q").stdout, "")
        self.assertEqual(api("GET", "/v1/instances/snapy")[0], 404)

    def test_container_lifecycle(self):
        cli("create", "--type", "container", "box", "--rootfs", self.rootfs, "--overlay", "--mem-limit", "64M",
            "--", "/bin/sh", "-c", "echo hello-from-box; while true; do sleep 1; done")
        cli("start", "box")
        self.assertEqual(info("box")["status"]["state"], "running")
        self.assertEqual(cli("exec", "box", "--", "hostname").stdout.strip(), "box")
        s = json.loads(cli("stats", "box", "--format", "json").stdout)
        self.assertGreater(s["memory_bytes"], 0)
        cli("limits", "box", "--cpu-max", "30")
        self.assertEqual(info("box")["limits"]["cpu_max"], 30)
        cli("pause", "box")
        self.assertEqual(info("box")["status"]["state"], "paused")
        cli("resume", "box")
        wait_until(lambda: "hello-from-box" in cli("logs", "box").stdout)
        self.assertIn("hello-from-box", cli("logs", "box").stdout)
        r = cli("screenshot", "box", os.path.join(self.tmp, "box.png"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("it has no screen", r.stderr)
        r = cli("input", "box", "--text", "x", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("it has no keyboard", r.stderr)
        cli("stop", "box", "--timeout", "1")
        self.assertEqual(info("box")["status"]["state"], "stopped")
        cli("start", "box")  # a stopped container starts again
        self.assertEqual(info("box")["status"]["state"], "running")
        # An init killed behind the daemon's back is noticed (its pidfd), in list as in info.
        os.kill(info("box")["status"]["pid"], signal.SIGKILL)
        wait_until(lambda: [i for i in json.loads(cli("list", "--format", "json").stdout)
                            if i["name"] == "box" and i["status"]["state"] == "stopped"])
        self.assertEqual(info("box")["status"]["state"], "stopped")
        cli("rm", "--force", "box")
        self.assertEqual(api("GET", "/v1/instances/box")[0], 404)
        # A container's console: the terminal its init has (here an interactive shell), through the daemon.
        cli("create", "--type", "container", "tty", "--rootfs", self.rootfs, "--overlay", "--", "/bin/sh")
        self.addCleanup(cli, "rm", "--force", "tty", check=False)
        cli("start", "tty")
        env = dict(os.environ, CLOISON_SOCKET=Daemon.sock)
        g = Guest(None, argv=[CLOISON, "console", "tty"], env=env, timeout=20)
        try:
            g.send("echo console-$((6 * 7)) $(hostname)\n")
            g.expect("console-42 tty")
            second = subprocess.run([CLOISON, "console", "tty"], stdin=subprocess.DEVNULL, capture_output=True,
                                    text=True, timeout=20, env=env)
            self.assertIn("in use by another client", second.stdout + second.stderr)
            g.send("exit 3\n")  # init ends: the console closes, the container stops with its code
            self.assertEqual(g.wait_exit(), 0)
        finally:
            g.kill()
        wait_until(lambda: info("tty")["status"]["state"] == "stopped")
        self.assertEqual((info("tty")["status"]["state"], info("tty")["status"]["exit_code"]), ("stopped", 3))
        self.assertIn("console-42 tty", cli("logs", "tty").stdout)
        cli("rm", "tty")
        # A container whose command ends on its own is stopped with its exit code.
        cli("create", "--type", "container", "once", "--rootfs", self.rootfs, "--overlay",
            "--", "/bin/sh", "-c", "exit 7")
        cli("start", "once")
        wait_until(lambda: info("once")["status"]["state"] == "stopped")
        st = info("once")["status"]
        self.assertEqual((st["state"], st["exit_code"]), ("stopped", 7), st)
        cli("rm", "once")

    def test_restart_keeps_instances_and_state(self):
        self.vm("keep1")
        cli("start", "keep1")
        pid = info("keep1")["status"]["pid"]
        self.d.kill(signal.SIGKILL)  # the daemon dies mid-flight
        os.kill(pid, 0)  # the VM does not
        db = sqlite3.connect(os.path.join(self.d.state, "cloisond.db"))
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(db.execute("SELECT state FROM runtime WHERE name='keep1'").fetchone()[0], "running")
        db.close()
        self.d.start()
        st = info("keep1")["status"]
        self.assertEqual((st["state"], st["pid"]), ("running", pid))
        a = instructions("keep1")
        time.sleep(0.2)
        self.assertGreater(instructions("keep1"), a)
        # A crash behind the daemon's back is reported; the console log stays.
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: info("keep1")["status"]["state"] == "crashed")
        st = info("keep1")["status"]
        self.assertEqual(st["state"], "crashed", st)
        self.assertRegex(st["message"], "signal 9|killed or crashed")
        self.assertTrue(os.path.exists(os.path.join(self.d.state, "instances/keep1/console.log")))
        self.assertEqual(api("GET", "/v1")[0], 200)
        cli("rm", "keep1")

    def test_kill_during_start(self):
        """kill -9 of the daemon at many instants of a VM's start: the next daemon comes up (no forked
        child left holding its socket), and the instance ends in a definite state that matches its
        process: running (resumed, counting instructions, a start time) or stopped (no process)."""
        self.vm("ks", "--cpu-max", "50")
        outcomes = []
        for delay in (0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2):
            st, ans = api("POST", "/v1/instances/ks/start")
            self.assertEqual(st, 202, ans)
            time.sleep(delay)
            self.d.kill(signal.SIGKILL)
            self.d.start()  # fails if the old daemon's socket is still served
            wait_until(lambda: info("ks")["status"]["state"] not in ("starting", "stopping"), 10)
            s = info("ks")["status"]
            outcomes.append(s["state"])
            # Only the new daemon is left: no forked child of the old one hangs before its exec.
            daemons = [p for p in os.listdir("/proc") if p.isdigit() and self._comm(p) == "cloisond"
                       and self.d.state in self._cmdline(p)]
            self.assertEqual(daemons, [str(self.d.proc.pid)], (delay, s))
            if s["state"] == "running":
                self.assertGreater(s["started_at"], 0, (delay, s))
                os.kill(s["pid"], 0)
                a = instructions("ks")
                wait_until(lambda: instructions("ks") > a, 5)
                self.assertGreater(instructions("ks"), a, (delay, s))
                cli("stop", "ks")
            else:
                self.assertEqual(s["state"], "stopped", (delay, s))
                self.assertFalse(s.get("pid"), (delay, s))
        print(f"kill during start: {outcomes}", file=sys.stderr)
        cli("rm", "ks")

    def test_slow_clients_do_not_starve_the_daemon(self):
        """100 connections from another process, each trickling its request one byte every half second:
        a normal client still gets its answer at once; that process keeps at most 64 connections
        waiting (the oldest dropped first), and each is answered 408 once its request is 10 s late."""
        slow = subprocess.Popen([sys.executable, "-c", """
import socket, sys, time
socks = []
for i in range(100):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b"G")
    socks.append(s)
print("connected", flush=True)
answers = {}
deadline = time.monotonic() + 14
while time.monotonic() < deadline and len(answers) < len(socks):
    for i, s in enumerate(socks):
        if i in answers:
            continue
        try:
            s.sendall(b"E")
        except OSError:
            pass
        s.settimeout(0.001)
        try:
            data = s.recv(4096)
            answers[i] = data.split(b" ")[1].decode() if data else "closed"
        except (socket.timeout, BlockingIOError):
            pass
        except OSError:
            answers[i] = "reset"
    time.sleep(0.5)
codes = sorted(answers.values())
print(" ".join(codes), flush=True)
""", self.d.sock], stdout=subprocess.PIPE, text=True)
        self.assertEqual(slow.stdout.readline().strip(), "connected")
        worst = 0
        for _ in range(8):
            t0 = time.monotonic()
            st, _ = api("GET", "/v1", timeout=10)
            worst = max(worst, time.monotonic() - t0)
            self.assertEqual(st, 200)
            time.sleep(0.3)
        print(f"slow clients: slowest normal answer {worst * 1000:.0f} ms", file=sys.stderr)
        self.assertLess(worst, 2.0)
        codes = slow.stdout.readline().split()
        slow.wait(timeout=30)
        slow.stdout.close()
        print(f"slow clients' answers: {len(codes)} of 100: "
              f"{ {c: codes.count(c) for c in set(codes)} }", file=sys.stderr)
        self.assertEqual(len(codes), 100)  # none left hanging
        self.assertEqual(codes.count("503"), 36)  # crowded out: 64 per client may wait
        self.assertEqual(codes.count("408"), 64)  # late past the deadline
        self.assertEqual(api("GET", "/v1")[0], 200)

    def test_cli_says_when_the_daemon_does_not_answer(self):
        """A socket that accepts and never answers (a hung daemon): the CLI gives up after its timeout
        with a message and status 3 instead of waiting forever."""
        path = os.path.join(self.tmp, "mute.sock")
        mute = socket.socket(socket.AF_UNIX)
        mute.bind(path)
        mute.listen(8)
        try:
            t0 = time.monotonic()
            r = subprocess.run([CLOISON, "list"], capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, CLOISON_SOCKET=path, CLOISON_TIMEOUT="2"))
            took = time.monotonic() - t0
        finally:
            mute.close()
            os.unlink(path)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("does not answer", r.stderr)
        self.assertIn("within 2 s", r.stderr)
        self.assertLess(took, 20)

    def test_state_files_are_private(self):
        """Every file the daemon and its VM processes write under the state directory (database and its
        journal, definitions, configurations, console logs, exit records, volumes) is readable by its
        owner only."""
        self.vm("priv")
        cli("start", "priv")
        cli("stop", "priv")
        self.assertEqual(api("POST", "/v1/storage-pools/default/volumes", {"name": "p.qcow2", "size": "1M"})[0], 201)
        loose = []
        for dirpath, _, names in os.walk(self.d.state):
            for n in names:
                path = os.path.join(dirpath, n)
                st = os.lstat(path)
                if (st.st_mode & 0o170000) == 0o100000 and st.st_mode & 0o077:
                    loose.append(f"{os.path.relpath(path, self.d.state)} {oct(st.st_mode & 0o777)}")
        self.assertEqual(loose, [])
        for f in ("cloisond.db", "instances/priv/config.json", "instances/priv/exit.json",
                  "instances/priv/console.log"):
            self.assertTrue(os.path.exists(os.path.join(self.d.state, f)), f)
        api("DELETE", "/v1/storage-pools/default/volumes/p.qcow2")
        cli("rm", "priv")

    def assert_consistent(self, name, where):
        state, problems = consistency(name, self.d.state)
        self.assertEqual(problems, [], where)
        return state

    def test_kill_during_operations(self):
        """kill -9 of the daemon during a snapshot, a stop, a pause and a resume, at several instants:
        after a restart the instance is consistent (see assert_consistent); a VM a snapshot paused
        runs again."""
        self.vm("ko")
        cli("start", "ko")
        seen = []
        n = 0
        for op in ("snapshot", "stop", "pause", "resume"):
            for delay in (0.002, 0.01, 0.03, 0.08):
                n += 1
                st = info("ko")["status"]["state"]
                if st == "stopped":
                    cli("start", "ko")
                if op == "resume" and info("ko")["status"]["state"] != "paused":
                    cli("pause", "ko")
                if op == "snapshot":
                    req = ("POST", "/v1/instances/ko/snapshots", {"name": f"s{n}"})
                else:
                    req = ("POST", f"/v1/instances/ko/{op}", None)
                def send(req=req):
                    try:
                        api(*req, timeout=30)
                    except (OSError, IndexError, ValueError):
                        pass  # the daemon died under it

                t = threading.Thread(target=send)
                t.start()
                time.sleep(delay)
                self.d.kill(signal.SIGKILL)
                t.join(30)
                self.d.start()
                wait_until(lambda: info("ko")["status"]["state"] not in ("starting", "stopping"), 10)
                seen.append(f"{op}@{int(delay * 1000)}ms:{self.assert_consistent('ko', (op, delay))}")
        print("kill during operations: " + " ".join(seen), file=sys.stderr)
        cli("rm", "--force", "ko")

    def test_kill_during_restore(self):
        """kill -9 of the daemon while it restores a VM to a snapshot (stop, copy the disks back,
        start): the journal carries the restore forward, so the disk is never a mix of the snapshot's
        and the later content: it is the one or the other, and a stopped VM always has the snapshot's."""
        disk = os.path.join(self.tmp, "rdisk.img")
        with open(disk, "wb") as f:
            for _ in range(16):
                f.write(os.urandom(8 << 20))
        digest = lambda: hashlib.sha256(open(disk, "rb").read()).hexdigest()  # noqa: E731
        self.vm("kr", "--disk", disk)
        cli("start", "kr")
        self.assertEqual(api("POST", "/v1/instances/kr/snapshots", {"name": "base"})[0], 202)
        wait_until(lambda: [x for x in api("GET", "/v1/instances/kr/snapshots")[1] if x["name"] == "base"], 30)
        saved = digest()
        outcomes = []
        for delay in (0.02, 0.05, 0.1, 0.15, 0.25, 0.4):
            with open(disk, "r+b") as f:  # the guest's later writes
                for i in range(16):
                    f.seek(i * (8 << 20))
                    f.write(os.urandom(4096))
            later = digest()
            if info("kr")["status"]["state"] == "stopped":
                cli("start", "kr")
            st, a = api("POST", "/v1/instances/kr/restore", {"snapshot": "base"})
            self.assertEqual(st, 202, a)
            time.sleep(delay)
            self.d.kill(signal.SIGKILL)
            self.d.start()
            wait_until(lambda: info("kr")["status"]["state"] not in ("starting", "stopping"), 10)
            state = info("kr")["status"]["state"]
            now = digest()
            self.assertIn(now, (saved, later), (delay, state))
            if state == "stopped":
                self.assertEqual(now, saved, delay)
            outcomes.append(f"{state}/{'snapshot' if now == saved else 'later'}")
        print(f"kill during restore: {outcomes}", file=sys.stderr)
        cli("rm", "--force", "kr")

    def test_kill_during_volume_copy(self):
        """kill -9 of the daemon while it copies a volume: after the restart the pool holds no partial
        file, and the copy is either absent or whole (qemu-img compare)."""
        src = os.path.join(self.tmp, "big-src.img")
        with open(src, "wb") as f:
            for _ in range(12):
                f.write(os.urandom(8 << 20))
        pooldir = [p for p in api("GET", "/v1/storage-pools")[1] if p["name"] == "default"][0]["path"]
        outcomes = []
        for i, delay in enumerate((0.01, 0.05, 0.1, 0.2, 0.4)):
            name = f"kc{i}.img"
            st, a = api("POST", "/v1/storage-pools/default/volumes", {"name": name, "source": src})
            self.assertEqual(st, 202, a)
            time.sleep(delay)
            self.d.kill(signal.SIGKILL)
            self.d.start()
            self.assertEqual([n for n in os.listdir(pooldir) if n.startswith(".")], [], delay)
            dst = os.path.join(pooldir, name)
            if os.path.exists(dst):
                subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "raw", src, dst], check=True,
                               capture_output=True)
                outcomes.append("whole")
                api("DELETE", f"/v1/storage-pools/default/volumes/{name}")
            else:
                outcomes.append("absent")
        print(f"kill during volume copy: {outcomes}", file=sys.stderr)

    @staticmethod
    def _comm(pid):
        try:
            with open(f"/proc/{pid}/comm") as f:
                return f.read().strip()
        except OSError:
            return ""

    @staticmethod
    def _cmdline(pid):
        try:
            with open(f"/proc/{pid}/cmdline") as f:
                return f.read()
        except OSError:
            return ""

    def test_fairness_weights_and_cap(self):
        self.vm("w1", "--cpu-weight", "100", "--cpuset", "0")
        self.vm("w3", "--cpu-weight", "300", "--cpuset", "0")
        cli("start", "w1")
        cli("start", "w3")
        time.sleep(0.5)
        a1, a3 = instructions("w1"), instructions("w3")
        time.sleep(4)
        d1, d3 = instructions("w1") - a1, instructions("w3") - a3
        ratio = d3 / d1
        print(f"weights 100:300 -> instructions {d1} : {d3} = 1 : {ratio:.2f}", file=sys.stderr)
        self.assertTrue(3 * 0.85 <= ratio <= 3 * 1.15, f"ratio {ratio:.2f}, want 3 +- 15%")
        cli("stop", "w1")
        cli("stop", "w3")
        # A 25% cap (cgroup quota and the emulator's own throttle).
        self.vm("cap25", "--cpu-max", "25")
        cli("start", "cap25")
        pid = info("cap25")["status"]["pid"]
        time.sleep(0.5)
        c, t = cpu_seconds(pid), time.monotonic()
        time.sleep(3)
        share = (cpu_seconds(pid) - c) / (time.monotonic() - t)
        print(f"cpu-max 25 -> {share * 100:.1f}% of a CPU", file=sys.stderr)
        self.assertTrue(0.20 <= share <= 0.30, f"{share:.3f}")
        for n in ("w1", "w3", "cap25"):
            cli("rm", "--force", n)

    def test_emulator_cap_without_cgroups(self):
        p = subprocess.Popen([CLOISON, "run", "--firmware", "none", "--kernel", self.spin, "--mem", "32M",
                              "--cpu-max", "25"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            c, t = cpu_seconds(p.pid), time.monotonic()
            time.sleep(3)
            share = (cpu_seconds(p.pid) - c) / (time.monotonic() - t)
        finally:
            p.kill()
            p.wait()
        self.assertTrue(0.20 <= share <= 0.30, f"emulator-only cap: {share:.3f}")

    def test_accounting_and_metrics(self):
        self.vm("calib", kernel=self.count)
        cli("start", "calib")
        expect = 2 * LOOPS + 6
        deadline = time.monotonic() + 120  # a loaded CI machine runs it slower
        while instructions("calib") < expect and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        n = instructions("calib")
        # After the loop the guest sleeps in WFI: each wake-up retires 2 more.
        self.assertTrue(expect <= n <= expect + 100, f"{n} instructions, the loop implies {expect}")
        status, text = api("GET", "/metrics")
        self.assertEqual(status, 200)
        check = ("import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n"
                 "fams = {f.name: f for f in p(sys.stdin.read())}\n"
                 "s = [x for x in fams['cloison_vm_instructions'].samples if x.labels['name'] == 'calib']\n"
                 "print(int(s[0].value))\n")
        r = subprocess.run(["/usr/bin/python3", "-c", check], input=text, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(expect <= int(r.stdout) <= expect + 100, r.stdout)
        self.assertIn('cloison_instance_up{name="calib",type="vm"} 1', text)
        cli("rm", "--force", "calib")

    def test_storage_pools_volumes_networks(self):
        self.assertEqual(api("GET", "/v1")[1]["schema_version"], 5)
        pools = {p["name"]: p for p in api("GET", "/v1/storage-pools")[1]}
        self.assertIn("default", pools)
        pooldir = pools["default"]["path"]
        # Volumes made by the API are images qemu-img accepts, dynamic and static.
        self.assertEqual(cli("volume", "create", "default/base.qcow2", "64M").returncode, 0)
        q = json.loads(subprocess.run(["qemu-img", "info", "--output=json", os.path.join(pooldir, "base.qcow2")],
                                      check=True, capture_output=True, text=True).stdout)
        self.assertEqual((q["format"], q["virtual-size"]), ("qcow2", 64 << 20))
        subprocess.run(["qemu-img", "check", os.path.join(pooldir, "base.qcow2")], check=True, capture_output=True)
        st, v = api("POST", "/v1/storage-pools/default/volumes", {"name": "static.img", "size": "8M",
                                                                   "preallocation": "full"})
        self.assertEqual(st, 201, v)
        self.assertGreaterEqual(v["actual-size"], 8 << 20)
        st, v = api("POST", "/v1/storage-pools/default/volumes", {"name": "top.qcow2", "backing": "default/base.qcow2"})
        self.assertEqual((st, v["backing-filename"], v["virtual-size"]), (201, "base.qcow2", 64 << 20), v)
        # A copy is an operation with progress; the result holds the same content.
        src = os.path.join(self.tmp, "src.img")
        with open(src, "wb") as f:
            f.write(os.urandom(24 << 20))
            f.seek(48 << 20)
            f.write(os.urandom(1 << 20))
        st, a = api("POST", "/v1/storage-pools/default/volumes", {"name": "copy.qcow2", "source": src})
        self.assertEqual(st, 202, a)
        st, op = api("GET", f"/v1/operations/{a['operation']['id']}?wait=60")
        self.assertEqual(op["status"], "success", op)
        self.assertEqual(op["resource"], "storage-pools/default/volumes/copy.qcow2")
        self.assertEqual(op["progress"]["done"], op["progress"]["total"])
        self.assertEqual(op["progress"]["total"], os.path.getsize(src))
        subprocess.run(["qemu-img", "compare", src, os.path.join(pooldir, "copy.qcow2")], check=True,
                       capture_output=True)
        self.assertFalse([n for n in os.listdir(pooldir) if n.startswith(".")])  # no partial file left
        # A copy that fails half-way (a source cut short) fails its operation and leaves nothing behind.
        cut = os.path.join(self.tmp, "cut.qcow2")
        with open(os.path.join(pooldir, "copy.qcow2"), "rb") as f, open(cut, "wb") as g:
            g.write(f.read(1 << 20))
        st, a = api("POST", "/v1/storage-pools/default/volumes", {"name": "copy2.qcow2", "source": cut})
        if st == 202:
            op = api("GET", f"/v1/operations/{a['operation']['id']}?wait=60")[1]
            self.assertEqual(op["status"], "failure", op)
            self.assertTrue(op["error"])
        else:
            self.assertEqual(st, 400, a)
        self.assertEqual(sorted(os.listdir(pooldir)), ["base.qcow2", "copy.qcow2", "static.img", "top.qcow2"])
        self.assertEqual(api("POST", "/v1/storage-pools/default/volumes",
                             {"name": "copy2.qcow2", "source": "default/nope.img"})[0], 404)
        # Refusals.
        for body, want in [({"name": "x/y", "size": "1M"}, 400), ({"name": "a.img"}, 400),
                           ({"name": "a.img", "size": "1M", "format": "qcow2"}, 400),
                           ({"name": "a.img", "size": -5}, 400), ({"name": "a.img", "size": "1M", "colour": 1}, 400),
                           ({"name": "a.img", "backing": "default/base.qcow2"}, 400),
                           ({"name": "base.qcow2", "size": "1M"}, 409),
                           ({"name": "a.qcow2", "source": "/nonexistent"}, 400)]:
            st, ans = api("POST", "/v1/storage-pools/default/volumes", body)
            self.assertEqual(st, want, (body, ans))
            self.assertIn("error", ans)
        self.assertEqual(api("GET", "/v1/storage-pools/nope/volumes")[0], 404)
        self.assertEqual(api("GET", "/v1/storage-pools/default/volumes/..")[0], 404)
        # In use: by a VM's definition, or as another volume's backing file.
        st, n = api("POST", "/v1/networks", {"name": "lan1", "type": "nat", "subnet": "10.77.0.0/24",
                                             "hostfwd": ["tcp::2299-:22"]})
        self.assertEqual((st, n["subnet"]), (201, "10.77.0.0/24"), n)
        self.assertEqual(api("POST", "/v1/networks", {"name": "lan1", "type": "internal"})[0], 409)
        self.assertEqual(api("POST", "/v1/networks", {"name": "x", "type": "internal", "subnet": "10.0.0.0/24"})[0], 400)
        self.assertEqual(api("POST", "/v1/networks", {"name": "x", "type": "nat", "hostfwd": ["bogus"]})[0], 400)
        self.assertEqual(api("POST", "/v1/networks", {"name": "../x", "type": "nat"})[0], 400)
        self.vm("diskuser", "--disk", os.path.join(pooldir, "top.qcow2"), "--net", "lan1")
        vols = {v["name"]: v for v in json.loads(cli("volume", "list", "default", "--format", "json").stdout)}
        self.assertEqual(vols["top.qcow2"]["used_by"], ["diskuser"])
        self.assertEqual(api("GET", "/v1/networks/lan1")[1]["used_by"], ["diskuser"])
        self.assertEqual(api("DELETE", "/v1/storage-pools/default/volumes/top.qcow2")[0], 409)
        self.assertEqual(api("DELETE", "/v1/storage-pools/default/volumes/base.qcow2")[0], 409)
        self.assertEqual(api("DELETE", "/v1/networks/lan1")[0], 409)
        cli("rm", "diskuser")
        self.assertEqual(cli("volume", "rm", "default/top.qcow2").returncode, 0)
        self.assertEqual(api("DELETE", "/v1/storage-pools/default/volumes/base.qcow2")[0], 200)
        self.assertEqual(api("DELETE", "/v1/networks/lan1")[0], 200)
        self.assertEqual(api("GET", "/v1/networks/lan1")[0], 404)
        # Pools: a second one, refused while it holds volumes; the default one stays.
        p2 = os.path.join(self.tmp, "pool2")
        self.assertEqual(cli("pool", "create", "p2", p2).returncode, 0)
        self.assertEqual(api("POST", "/v1/storage-pools", {"name": "p3", "path": p2})[0], 409)
        self.assertEqual(api("POST", "/v1/storage-pools", {"name": "p3", "path": "relative"})[0], 400)
        self.assertEqual(api("POST", "/v1/storage-pools/p2/volumes", {"name": "v.img", "size": "1M"})[0], 201)
        self.assertEqual(api("POST", "/v1/storage-pools/p2/volumes", {"name": "c.qcow2", "source": "default/copy.qcow2"})[0], 202)
        self.assertEqual(api("DELETE", "/v1/storage-pools/p2")[0], 409)
        self.assertEqual(api("DELETE", "/v1/storage-pools/default")[0], 409)
        wait_until(lambda: os.path.exists(os.path.join(p2, "c.qcow2")))
        subprocess.run(["qemu-img", "compare", src, os.path.join(p2, "c.qcow2")], check=True, capture_output=True)
        for v in ("v.img", "c.qcow2"):
            self.assertEqual(cli("volume", "rm", "p2/" + v).returncode, 0)
        self.assertEqual(cli("pool", "rm", "p2").returncode, 0)
        self.assertEqual(cli("pool", "info", "p2", check=False).returncode, 1)
        for v in ("static.img", "copy.qcow2"):
            cli("volume", "rm", "default/" + v)

    def test_live_migration_between_daemons(self):
        """A running VM moves from this daemon to a second one (another state directory and socket,
        as on another host) over TCP: `cloison receive` there, `cloison migrate` here."""
        other = Daemon(os.path.join(self.tmp, "other"), main=False)
        os.makedirs(other.tmp)
        other.start()
        self.addCleanup(other.kill, signal.SIGTERM)
        self.addCleanup(api, "DELETE", "/v1/instances/mig?force=1", sock=other.sock)
        self.vm("mig", "--cpus", "2")
        self.addCleanup(cli, "rm", "--force", "mig", check=False)
        path = os.path.join(self.tmp, "mig.json")
        with open(path, "w") as f:
            f.write(cli("info", "mig", "--format", "json").stdout)
        cli("create", "-f", path, sock=other.sock)
        cli("start", "mig")
        src_pid = info("mig")["status"]["pid"]
        # Refusals: a bad port, a running instance, nobody arriving in time.
        for body in ({"listen": "127.0.0.1:99999"}, {"listen": "x"}, {}, {"listen": "1234", "extra": 1},
                     {"listen": "1234", "timeout": 0}):
            st, ans = api("POST", "/v1/instances/mig/receive", body, sock=other.sock)
            self.assertEqual(st, 400, (body, ans))
        st, ans = api("POST", "/v1/instances/mig/receive", {"listen": "1234"})
        self.assertEqual(st, 409, ans)
        r = cli("receive", "mig", "--listen", f"127.0.0.1:{free_port()}", "--timeout", "1", sock=other.sock,
                check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no migration arrived", r.stderr)
        self.assertEqual(info("mig", other.sock)["status"]["state"], "stopped")
        # The real thing.
        port = free_port()
        st, ans = api("POST", "/v1/instances/mig/receive", {"listen": f"127.0.0.1:{port}"}, sock=other.sock)
        self.assertEqual(st, 202, ans)
        op = ans["operation"]["id"]
        st = info("mig", other.sock)["status"]
        self.assertEqual(st["state"], "starting")
        self.assertIn(f"waiting for a live migration on 127.0.0.1:{port}", st["message"])
        time.sleep(0.3)
        before = instructions("mig")
        cli("migrate", "mig", "--to", f"127.0.0.1:{port}")
        ans = api("GET", f"/v1/operations/{op}?wait=30", sock=other.sock)[1]
        self.assertEqual(ans["status"], "success", ans)
        dst = info("mig", other.sock)["status"]
        self.assertEqual(dst["state"], "running", dst)
        self.assertIn("arrived by live migration", dst["message"])
        wait_until(lambda: info("mig")["status"]["state"] == "stopped")
        src = info("mig")["status"]
        self.assertEqual(src["state"], "stopped", src)
        self.assertIn("migrated", src["message"])
        self.assertRaises(ProcessLookupError, os.kill, src_pid, 0)
        # The guest runs on where it was: its instruction count carried over and keeps growing.
        a = instructions("mig", other.sock)
        self.assertGreater(a, before)
        time.sleep(0.3)
        self.assertGreater(instructions("mig", other.sock), a)
        # The destination supervises it like any of its VMs.
        cli("stop", "mig", sock=other.sock)
        self.assertEqual(info("mig", other.sock)["status"]["state"], "stopped")

    def test_debian_guest_through_the_daemon(self):
        """The real Debian kernel and busybox initramfs (the default guest) started by cloisond with two
        harts, driven through `cloison console` (the API's 101 upgrade), its log through `cloison logs`."""
        if not os.path.exists(os.path.join(guest_dir(), "Image")):
            self.skipTest("no default guest (make guest)")
        vnc_port = free_port()
        cli("create", "deb", "--memory", "256M", "--cpus", "2", "--display", "on", "--vnc", f"127.0.0.1:{vnc_port}")
        self.addCleanup(cli, "rm", "--force", "deb", check=False)  # a failure leaves no VM running
        self.assertEqual((info("deb")["vm"]["display"], info("deb")["vm"]["vnc"]), ("1024x768", f"127.0.0.1:{vnc_port}"))
        cli("start", "deb")
        wait_until(lambda: "cloison-guest: userspace ready" in cli("logs", "deb").stdout, seconds=240, step=0.5)
        self.assertIn("cloison-guest: userspace ready (2 cpus)", cli("logs", "deb").stdout)
        s = api("GET", "/v1/instances/deb/stats")[1]
        self.assertGreater(s["instructions"], 1_000_000_000)  # a boot is about 3 G instructions
        env = dict(os.environ, CLOISON_SOCKET=Daemon.sock)
        g = Guest(None, argv=[CLOISON, "console", "deb"], env=env, timeout=60)
        try:
            g.press_enter_until(PROMPT)  # attached after the prompt was printed: Enter brings a new one
            self.assertEqual(g.run("uname -m"), "riscv64")
            self.assertEqual(g.run("grep -c ^processor /proc/cpuinfo"), "2")
            # A second console is refused while one is attached.
            second = subprocess.run([CLOISON, "console", "deb"], stdin=subprocess.DEVNULL, capture_output=True,
                                    text=True, timeout=20, env=env)
            self.assertIn("in use by another client", second.stdout + second.stderr)
            self.assertEqual(g.run("echo still here"), "still here")
        finally:
            g.kill()
        # The guest agent through the daemon: a command with its exit status, then a clone that takes
        # its instance's name, then a clean shutdown (the guest's kernel says it powers down).
        r = cli("exec", "deb", "--", "sh", "-c", "uname -m; exit 3", check=False)
        self.assertEqual((r.returncode, r.stdout), (3, "riscv64\n"), r.stderr)
        # Its screen through the daemon (`cloison screenshot`, GET .../screenshot): text written to tty1,
        # read back by OCR.
        cli("exec", "deb", "--", "sh", "-c", "echo 0 > /sys/class/graphics/fbcon/cursor_blink; clear > /dev/tty1; "
            "echo SCREEN VIA DAEMON 2718 > /dev/tty1")
        shot = os.path.join(self.tmp, "deb.png")
        text = ""
        for _ in range(30):
            cli("screenshot", "deb", shot)
            text = subprocess.run(["tesseract", shot, "-"], capture_output=True, text=True).stdout
            if "2718" in text:
                break
            time.sleep(1)
        self.assertRegex(text, r"SCREEN\s+VIA\s+DAEMON\s+2718", text)
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        status, _ = api("GET", "/v1/instances/deb/screenshot")
        self.assertEqual(status, 200)
        # The same screen over VNC, served by the VM process cloisond started (vm.vnc).
        from test_display import RFB
        c = RFB(vnc_port)
        self.assertEqual((c.width, c.height, c.name), (1024, 768, b"cloison"))
        c.update(0)
        self.assertTrue(any(c.fb), "the VNC picture is all black")
        c.s.close()
        # Its keyboard through the daemon: typed into tty1's shell, which writes to the serial console.
        cli("input", "deb", "--text", "echo VIA-DAEMON-$((40 + 2)) > /dev/ttyS0\\n")
        wait_until(lambda: "VIA-DAEMON-42" in cli("logs", "deb").stdout, seconds=30, step=0.5)
        self.assertIn("VIA-DAEMON-42", cli("logs", "deb").stdout)
        cli("snapshot", "deb", "s1")
        cli("clone", "deb", "deb-clone", "--snapshot", "s1", "--start")
        self.addCleanup(cli, "rm", "--force", "deb-clone", check=False)
        wait_until(lambda: cli("exec", "deb-clone", "--", "hostname", check=False).stdout == "deb-clone\n",
                   seconds=60, step=0.5)
        self.assertEqual(cli("exec", "deb-clone", "--", "hostname").stdout, "deb-clone\n")
        self.assertEqual(cli("exec", "deb", "--", "hostname").stdout, "cloison-guest\n")
        cli("stop", "deb")
        self.assertEqual(info("deb")["status"]["state"], "stopped")
        with open(os.path.join(self.tmp, "daemon.log")) as f:  # what the daemon saw of the stop
            daemon_log = f.read()[-4000:]
        self.assertIn("reboot: Power down", cli("logs", "deb").stdout, daemon_log)  # shut down from inside
        r = cli("exec", "deb", "--", "true", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("stopped", r.stderr)
        r = cli("screenshot", "deb", shot, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no screen to reach", r.stderr)
        cli("rm", "--force", "deb-clone")
        cli("rm", "deb")

    def test_images(self):
        """VM images: the default guest's root disk imported as an image, a VM made from it (its disk an
        overlay: the image stays as it was), published as a new image once stopped, exported to one
        file, removed, imported back and booted with what the first VM wrote; a VMDK through qemu-img; an OVA
        and a hand-written OVF (CPUs, memory, OS, description read from the descriptor, digests checked);
        hostile archives, appliances and disks refused, nothing written outside the store."""
        root_disk = os.path.join(guest_dir(), "rootfs.qcow2")
        if not os.path.exists(root_disk):
            self.skipTest("no default guest root disk (make guest)")
        work = tempfile.mkdtemp(dir=self.tmp)
        store = os.path.join(self.tmp, "state", "images")
        cli("image", "import", root_disk, "busybox-root", "--os", "busybox", "--version", "1", "--memory", "128M",
            "--append", "console=ttyS0 quiet root=/dev/vda rw")
        img = json.loads(cli("image", "info", "busybox-root", "--format", "json").stdout)
        self.assertEqual((img["memory"], img["os"], img["architecture"]), (128 << 20, "busybox", "riscv64"))
        self.assertGreater(img["disk_size"], 16 << 20)
        self.assertIn("busybox-root", cli("image", "list").stdout)
        cli("create", "appl", "--image", "busybox-root")
        self.addCleanup(cli, "rm", "--force", "appl", check=False)
        d = info("appl")
        self.assertEqual((d["vm"]["image"], d["vm"]["memory"]), ("busybox-root", 128 << 20))
        self.assertTrue(d["vm"]["disks"][0].endswith("/root.qcow2"))
        # Its `info` goes back through `create -f`: the copy gets an overlay of its own.
        path = os.path.join(work, "appl.json")
        with open(path, "w") as f:
            f.write(cli("info", "appl", "--format", "json").stdout)
        cli("create", "-f", path, "--name", "appl-copy")
        copy = info("appl-copy")["vm"]["disks"]
        self.assertEqual(len(copy), 1)
        self.assertTrue(copy[0].endswith("/instances/appl-copy/root.qcow2"), copy)
        self.assertTrue(os.path.exists(copy[0]))
        cli("rm", "appl-copy")
        cli("start", "appl")

        def guest(name, *cmd):
            return cli("exec", name, "--", *cmd, check=False)
        wait_until(lambda: "root=/dev/vda" in guest("appl", "cat", "/proc/cmdline").stdout, seconds=180, step=0.5)
        self.assertIn("cloison-guest: root on /dev/vda", cli("logs", "appl").stdout)
        self.assertEqual(guest("appl", "sh", "-c", "echo published-data > /root/marker && sync && echo ok").stdout,
                         "ok\n")
        r = cli("image", "rm", "busybox-root", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("base of instance 'appl'", r.stderr)
        r = cli("image", "publish", "appl", "appl-v2", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("stop it first", r.stderr)
        cli("stop", "appl")
        cli("image", "publish", "appl", "appl-v2", "--description", "with a marker")
        archive = os.path.join(work, "appl-v2.cloison")
        cli("image", "export", "appl-v2", archive)
        with tarfile.open(archive) as t:
            self.assertEqual(sorted(t.getnames()), ["SHA256SUMS", "disk.qcow2", "manifest.json"])
            t.extract("disk.qcow2", work)
        r = subprocess.run(["qemu-img", "check", os.path.join(work, "disk.qcow2")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        cli("image", "rm", "appl-v2")
        self.assertFalse(os.path.exists(os.path.join(store, "appl-v2")))
        cli("image", "import", archive, "appl-v3")
        self.assertEqual(json.loads(cli("image", "info", "appl-v3", "--format", "json").stdout)["description"],
                         "with a marker")
        cli("create", "appl3", "--image", "appl-v3")
        self.addCleanup(cli, "rm", "--force", "appl3", check=False)
        cli("start", "appl3")
        wait_until(lambda: guest("appl3", "cat", "/root/marker").stdout == "published-data\n", seconds=180, step=0.5)
        self.assertEqual(guest("appl3", "cat", "/root/marker").stdout, "published-data\n")
        cli("rm", "--force", "appl3")
        cli("rm", "appl")
        cli("image", "rm", "busybox-root")
        cli("image", "rm", "appl-v3")
        # Another product's format: a VMDK made by qemu-img comes in byte for byte.
        raw = os.path.join(work, "small.raw")
        with open(raw, "wb") as f:
            f.write(os.urandom(1 << 20))
        vmdk = os.path.join(work, "small.vmdk")
        subprocess.run(["qemu-img", "convert", "-O", "vmdk", raw, vmdk], check=True)
        cli("image", "import", vmdk, "foreign")
        r = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, os.path.join(store, "foreign", "disk.qcow2")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        cli("image", "rm", "foreign")
        # An OVA as other products export them (the OVF descriptor first, a .mf of SHA-256 digests, a
        # streamOptimized VMDK), and the same appliance from a directory with a hand-written descriptor.
        ovadir = os.path.join(work, "ova")
        os.makedirs(ovadir)
        subprocess.run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", raw,
                        os.path.join(ovadir, "disk1.vmdk")], check=True)

        def ovf(href, annotation="made by hand", doctype=""):
            return (doctype + '''<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
 xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
 <References><File ovf:id="file1" ovf:href="%s"/></References>
 <DiskSection><Info>disks</Info><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="1048576"
  ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/></DiskSection>
 <VirtualSystem ovf:id="appliance-1"><Info>a test appliance</Info><Name>Test appliance</Name>
  <AnnotationSection><Info>notes</Info><Annotation>%s</Annotation></AnnotationSection>
  <OperatingSystemSection ovf:id="96"><Info>os</Info><Description>Debian 13</Description></OperatingSystemSection>
  <VirtualHardwareSection><Info>hardware</Info>
   <Item><rasd:ElementName>2 CPUs</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID>
    <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
   <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>192 MB</rasd:ElementName>
    <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType>
    <rasd:VirtualQuantity>192</rasd:VirtualQuantity></Item>
  </VirtualHardwareSection></VirtualSystem></Envelope>
''' % (href, annotation)).encode()

        def sha(path):
            with open(path, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()

        def make_ova(path, descriptor, mf_tamper=False):
            d = os.path.join(work, "ova-" + os.path.basename(path))
            os.makedirs(d)
            shutil.copy(os.path.join(ovadir, "disk1.vmdk"), d)
            with open(os.path.join(d, "appl.ovf"), "wb") as f:
                f.write(descriptor)
            digest = sha(os.path.join(d, "disk1.vmdk"))
            if mf_tamper:
                digest = "0" * 64
            with open(os.path.join(d, "appl.mf"), "w") as f:
                f.write(f"SHA256(appl.ovf)= {sha(os.path.join(d, 'appl.ovf'))}\nSHA256(disk1.vmdk)= {digest}\n")
            with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
                for name in ("appl.ovf", "appl.mf", "disk1.vmdk"):
                    t.add(os.path.join(d, name), arcname=name)
            return d
        ova = os.path.join(work, "appl.ova")
        plain = make_ova(ova, ovf("disk1.vmdk"))
        for source, name in ((ova, "from-ova"), (os.path.join(plain, "appl.ovf"), "from-ovf")):
            with self.subTest(appliance=name):
                cli("image", "import", source, name)
                m = json.loads(cli("image", "info", name, "--format", "json").stdout)
                self.assertEqual((m["cpus"], m["memory"], m["os"], m["description"]),
                                 (2, 192 << 20, "Debian 13", "made by hand"))
                r = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw,
                                    os.path.join(store, name, "disk.qcow2")], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                cli("image", "rm", name)
        # Hostile appliances: a disk reference out of the directory, a digest that does not match, an
        # external entity in the descriptor (never expanded).
        bad = {"href": (ovf("../../etc/passwd"), False, "not a plain file name"),
               "digest": (ovf("disk1.vmdk"), True, "digest mismatch")}
        for label, (descriptor, tamper, why) in bad.items():
            with self.subTest(appliance=label):
                path = os.path.join(work, label + ".ova")
                make_ova(path, descriptor, tamper)
                r = cli("image", "import", path, "bad-" + label, check=False)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn(why, r.stderr)
                self.assertFalse(os.path.exists(os.path.join(store, "bad-" + label)))
        xxe = os.path.join(work, "xxe.ova")
        make_ova(xxe, ovf("disk1.vmdk", "&secret;", '<!DOCTYPE Envelope [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n').replace(
            b'<!DOCTYPE Envelope [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n<?xml version="1.0" encoding="UTF-8"?>\n',
            b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Envelope [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'))
        r = cli("image", "import", xxe, "xxe", check=False)
        if r.returncode == 0:
            self.assertNotIn("root:", json.loads(cli("image", "info", "xxe", "--format", "json").stdout)["description"])
            cli("image", "rm", "xxe")

        # Hostile archives: nothing kept, nothing written outside the store.
        def archive_of(path, members):
            with tarfile.open(path, "w") as t:
                for name, data, kind in members:
                    ti = tarfile.TarInfo(name)
                    if kind == "link":
                        ti.type, ti.linkname = tarfile.SYMTYPE, data
                        t.addfile(ti)
                    else:
                        ti.size = len(data)
                        t.addfile(ti, io.BytesIO(data))

        def sums(files):
            return "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in files).encode()
        manifest = json.dumps({"format": "cloison-image/1", "name": "x"}).encode()
        with open(os.path.join(work, "disk.qcow2"), "rb") as f:
            disk = f.read()
        good = [("manifest.json", manifest), ("disk.qcow2", disk)]
        cases = {
            "dotdot": ([("../escape", b"boom", "file")] + [(n, d, "file") for n, d in good], "../escape"),
            "symlink": ([("manifest.json", manifest, "file"), ("disk.qcow2", "/etc/passwd", "link")], "link"),
            "badsum": ([(n, d, "file") for n, d in good] + [("SHA256SUMS", sums([("manifest.json", b"other"),
                                                                                 ("disk.qcow2", disk)]), "file")],
                       "checksum mismatch"),
            "manifest": ([("manifest.json", b"{not json", "file"), ("disk.qcow2", disk, "file"),
                          ("SHA256SUMS", sums([("manifest.json", b"{not json"), ("disk.qcow2", disk)]), "file")],
                         "manifest"),
            "nosums": ([(n, d, "file") for n, d in good], "SHA256SUMS"),
        }
        for label, (members, why) in cases.items():
            with self.subTest(archive=label):
                path = os.path.join(work, label + ".tar")
                archive_of(path, members)
                r = cli("image", "import", path, "evil-" + label, check=False)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn(why, r.stderr)
                self.assertFalse(os.path.exists(os.path.join(store, "evil-" + label)))
                self.assertFalse(os.path.exists(os.path.join(store, "escape")))
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "state", "escape")))
        self.assertEqual([n for n in os.listdir(store) if not n.startswith(".")], [])
        # A disk naming a backing file (it could be any file on the host) is refused.
        backed = os.path.join(work, "backed.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", raw, "-F", "raw", backed], check=True)
        r = cli("image", "import", backed, "backed", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("backing file", r.stderr)
        r = cli("create", "noimg", "--image", "no-such-image", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no image named", r.stderr)

    def test_container_images(self):
        """Container images: a rootfs tarball imported (device nodes left out), a container made from it
        (an overlay: the image's tree unchanged), published once stopped with what it wrote, exported
        (manifest, rootfs.tar, sums), removed, imported back; an OCI image layout (two layers with
        whiteouts and an opaque directory, Entrypoint, Cmd, Env and WorkingDir), as a directory with a tag
        and as one tar; hostile layouts and layers refused, nothing written outside the store."""
        work = tempfile.mkdtemp(dir=self.tmp)
        store = os.path.join(self.tmp, "state", "images")
        host_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)

        def tar_of(path, add, mode="w:gz"):
            with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as t:
                add(t)

        def entry(t, name, data=None, kind="file", link=None, mode=0o644):
            ti = tarfile.TarInfo(name)
            ti.mode = mode
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, link
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, link
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 8, 0
            else:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if kind == "file" else None)

        # A rootfs tarball: the busybox tree, plus a block-device-like node that must not be made.
        rootfs_tgz = os.path.join(work, "rootfs.tar.gz")

        def busybox(t, extra=True):
            t.add(self.rootfs, arcname=".")
            if extra:
                entry(t, "dev/sda", kind="chr")
                entry(t, "etc/motd", b"from the tarball\n")
        tar_of(rootfs_tgz, busybox)
        cli("image", "import", rootfs_tgz, "ct-base", "--os", "busybox", "--version", "1")
        m = json.loads(cli("image", "info", "ct-base", "--format", "json").stdout)
        self.assertEqual((m["type"], m["architecture"], m["os"]), ("container", host_arch, "busybox"))
        tree = os.path.join(store, "ct-base", "rootfs")
        self.assertEqual(m["rootfs"], tree)
        self.assertTrue(os.path.isfile(os.path.join(tree, "bin", "busybox")))
        self.assertEqual(os.readlink(os.path.join(tree, "bin", "sh")), "/bin/busybox")
        self.assertFalse(os.path.lexists(os.path.join(tree, "dev", "sda")))
        self.assertIn("container", cli("image", "list").stdout)
        r = cli("create", "notvm", "--image", "ct-base", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is a container image", r.stderr)
        cli("create", "--type", "container", "ctimg", "--image", "ct-base", "--", "/bin/sh", "-c",
            "echo written-inside > /root/marker; cat /etc/motd; while true; do sleep 1; done")
        self.addCleanup(cli, "rm", "--force", "ctimg", check=False)
        cli("start", "ctimg")
        wait_until(lambda: "from the tarball" in cli("logs", "ctimg").stdout, seconds=10)
        self.assertEqual(cli("exec", "ctimg", "--", "cat", "/root/marker").stdout, "written-inside\n")
        self.assertFalse(os.path.exists(os.path.join(tree, "root", "marker")))  # the image is untouched
        r = cli("image", "rm", "ct-base", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("base of instance 'ctimg'", r.stderr)
        r = cli("image", "publish", "ctimg", "ct-v2", check=False)
        self.assertIn("stop it first", r.stderr)
        cli("stop", "ctimg", "--timeout", "1")
        cli("image", "publish", "ctimg", "ct-v2", "--description", "with a marker")
        archive = os.path.join(work, "ct-v2.cloison")
        cli("image", "export", "ct-v2", archive)
        with tarfile.open(archive) as t:
            self.assertEqual(sorted(t.getnames()), ["SHA256SUMS", "manifest.json", "rootfs.tar"])
        cli("image", "rm", "ct-v2")
        cli("image", "import", archive, "ct-v3")
        m = json.loads(cli("image", "info", "ct-v3", "--format", "json").stdout)
        self.assertEqual((m["type"], m["description"]), ("container", "with a marker"))
        self.assertEqual(m["container"]["argv"][0], "/bin/sh")  # the published container's command
        cli("create", "--type", "container", "ctimg3", "--image", "ct-v3", "--", "/bin/sh", "-c",
            "while true; do sleep 1; done")
        self.addCleanup(cli, "rm", "--force", "ctimg3", check=False)
        cli("start", "ctimg3")
        self.assertEqual(cli("exec", "ctimg3", "--", "cat", "/root/marker").stdout, "written-inside\n")
        cli("rm", "--force", "ctimg3")
        cli("rm", "--force", "ctimg")
        for name in ("ct-base", "ct-v3"):
            cli("image", "rm", name)

        # An OCI image layout, as `skopeo copy ... oci:DIR:v1` writes one.
        def blob(layout, data):
            digest = hashlib.sha256(data).hexdigest()
            os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
            with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
                f.write(data)
            return {"digest": "sha256:" + digest, "size": len(data)}

        def tar_bytes(add, mode="w:gz"):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as t:
                add(t)
            return buf.getvalue()

        def layout(path, layers, config=None, ref="v1", arch=host_arch, tamper=None):
            os.makedirs(path)
            with open(os.path.join(path, "oci-layout"), "w") as f:
                json.dump({"imageLayoutVersion": "1.0.0"}, f)
            cfg = {"architecture": arch, "os": "linux",
                   "config": config or {"Entrypoint": ["/bin/sh", "-c"],
                                        "Cmd": ["echo $GREETING from $(pwd) > /tmp/started; sleep 1000"],
                                        "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello-oci"],
                                        "WorkingDir": "/app"},
                   "rootfs": {"type": "layers", "diff_ids": []}}
            descs = [dict(blob(path, data), mediaType="application/vnd.oci.image.layer.v1.tar+gzip")
                     for data in layers]
            manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": dict(blob(path, json.dumps(cfg).encode()),
                                       mediaType="application/vnd.oci.image.config.v1+json"),
                        "layers": descs}
            mdesc = dict(blob(path, json.dumps(manifest).encode()),
                         mediaType="application/vnd.oci.image.manifest.v1+json",
                         annotations={"org.opencontainers.image.ref.name": ref})
            with open(os.path.join(path, "index.json"), "w") as f:
                json.dump({"schemaVersion": 2, "manifests": [mdesc]}, f)
            if tamper:
                with open(os.path.join(path, "blobs", "sha256", descs[-1]["digest"][7:]), "r+b") as f:
                    f.seek(100)  # same size, another byte: only the digest tells
                    byte = f.read(1)
                    f.seek(100)
                    f.write(bytes([byte[0] ^ 1]))
            return path

        def lower(t):
            busybox(t, extra=False)
            entry(t, "etc/removed-later", b"gone\n")
            entry(t, "opt/old", kind="dir")
            entry(t, "opt/old/a", b"a\n")
            entry(t, "opt/old/sub", kind="dir")
            entry(t, "opt/old/sub/b", b"b\n")

        def upper(t):
            entry(t, "etc/.wh.removed-later", b"")
            entry(t, "opt/old/.wh..wh..opq", b"")
            entry(t, "opt/old/c", b"c\n")
            entry(t, "app", kind="dir")
            entry(t, "app/hello", b"hello\n")
            entry(t, "app/hello-link", kind="hardlink", link="app/hello")
        oci = layout(os.path.join(work, "oci"), [tar_bytes(lower), tar_bytes(upper)])
        oci_tar = os.path.join(work, "oci.tar")
        with tarfile.open(oci_tar, "w") as t:
            for name in sorted(os.listdir(oci)):
                t.add(os.path.join(oci, name), arcname=name)
        r = cli("image", "import", oci, "oci-none", "--tag", "v9", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no image tagged 'v9'", r.stderr)
        for source, name, extra in ((oci, "oci-dir", ["--tag", "v1"]), (oci_tar, "oci-tar", [])):
            with self.subTest(oci=name):
                cli("image", "import", source, name, *extra)
                m = json.loads(cli("image", "info", name, "--format", "json").stdout)
                self.assertEqual(m["container"]["workdir"], "/app")
                self.assertIn("GREETING=hello-oci", m["container"]["env"])
                root = os.path.join(store, name, "rootfs")
                self.assertFalse(os.path.lexists(os.path.join(root, "etc", "removed-later")))
                self.assertEqual(sorted(os.listdir(os.path.join(root, "opt", "old"))), ["c"])
                self.assertEqual(os.stat(os.path.join(root, "app", "hello")).st_ino,
                                 os.stat(os.path.join(root, "app", "hello-link")).st_ino)
        # A container from it runs the image's Entrypoint and Cmd in its WorkingDir with its Env.
        cli("create", "--type", "container", "ocict", "--image", "oci-dir")
        self.addCleanup(cli, "rm", "--force", "ocict", check=False)
        cli("start", "ocict")
        wait_until(lambda: cli("exec", "ocict", "--", "cat", "/tmp/started", check=False).stdout
                   == "hello-oci from /app\n", seconds=10)
        self.assertEqual(cli("exec", "ocict", "--", "cat", "/tmp/started").stdout, "hello-oci from /app\n")
        self.assertEqual(cli("exec", "ocict", "--", "sh", "-c", "echo $GREETING $PATH").stdout,
                         "hello-oci /usr/sbin:/usr/bin:/sbin:/bin\n")
        cli("rm", "--force", "ocict")
        cli("image", "rm", "oci-dir")
        cli("image", "rm", "oci-tar")

        # Hostile layouts and layers: clear errors, nothing kept, nothing outside the store touched.
        victim = os.path.join(work, "victim")
        os.makedirs(victim)
        with open(os.path.join(victim, "keep"), "w") as f:
            f.write("keep\n")
        cases = {
            "digest": (dict(layers=[tar_bytes(lower)], tamper=True), "does not match its digest"),
            "dotdot": (dict(layers=[tar_bytes(lambda t: entry(t, "../../escape", b"boom"))]), "with '..'"),
            "absolute": (dict(layers=[tar_bytes(lambda t: entry(t, "/abs-escape", b"boom"))]), "absolute"),
            "through-symlink": (dict(layers=[tar_bytes(lambda t: (entry(t, "evil", kind="symlink", link=victim),
                                                                  entry(t, "evil/planted", b"boom")))]),
                                "through a symlink"),
            "whiteout-through-symlink": (dict(layers=[tar_bytes(lambda t: entry(t, "evil", kind="symlink",
                                                                                link=victim)),
                                                      tar_bytes(lambda t: entry(t, "evil/.wh.keep", b""))]),
                                         "not beneath the root"),
            "opaque-through-symlink": (dict(layers=[tar_bytes(lambda t: entry(t, "evil", kind="symlink",
                                                                              link=victim)),
                                                    tar_bytes(lambda t: entry(t, "evil/.wh..wh..opq", b""))]),
                                       "not beneath the root"),
            "hardlink-out": (dict(layers=[tar_bytes(lambda t: entry(t, "pw", kind="hardlink",
                                                                    link="../../../../etc/passwd"))]),
                             "hard link"),
            "arch": (dict(layers=[tar_bytes(lower)], arch="s390x" if host_arch != "s390x" else "amd64"),
                     "containers run natively"),
            "config": (dict(layers=[tar_bytes(lower)], config={"Env": ["NOEQUALS"]}), "KEY=VALUE"),
        }
        for label, (kw, why) in cases.items():
            with self.subTest(hostile=label):
                path = layout(os.path.join(work, "bad-" + label), **kw)
                r = cli("image", "import", path, "bad-" + label, check=False)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn(why, r.stderr)
                self.assertFalse(os.path.exists(os.path.join(store, "bad-" + label)))
                self.assertEqual(os.listdir(victim), ["keep"])
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "state", "escape")))
                self.assertFalse(os.path.exists("/abs-escape"))
        # An OCI tar may hold only the layout's names.
        evil_tar = os.path.join(work, "evil-oci.tar")
        with tarfile.open(evil_tar, "w") as t:
            t.add(os.path.join(oci, "oci-layout"), arcname="oci-layout")
            entry(t, "blobs/sha256/../../../escape", b"boom")
        r = cli("image", "import", evil_tar, "bad-ocitar", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("only oci-layout", r.stderr)
        # A directory that is no layout, and a malformed container manifest in an archive.
        r = cli("image", "import", victim, "bad-dir", check=False)
        self.assertIn("not an OCI image layout", r.stderr)
        bad_manifest = json.dumps({"format": "cloison-image/1", "type": "container", "name": "x",
                                   "container": {"argv": "not-a-list"}}).encode()
        rtar = tar_bytes(lambda t: entry(t, "etc/x", b"x"), mode="w")
        path = os.path.join(work, "badmanifest.cloison")
        with tarfile.open(path, "w") as t:
            entry(t, "manifest.json", bad_manifest)
            entry(t, "rootfs.tar", rtar)
            entry(t, "SHA256SUMS", f"{hashlib.sha256(bad_manifest).hexdigest()}  manifest.json\n"
                                   f"{hashlib.sha256(rtar).hexdigest()}  rootfs.tar\n".encode())
        r = cli("image", "import", path, "bad-manifest", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("container.argv", r.stderr)
        self.assertEqual([n for n in os.listdir(store) if not n.startswith(".")], [])

    def test_cloud_init_seed(self):
        """`cloison create --user-data --ssh-key` gives the VM a NoCloud seed disk made in its directory
        (host name: the instance's), read by the guest; a malformed cloud_init is a 400."""
        if not os.path.exists(os.path.join(guest_dir(), "Image")):
            self.skipTest("no default guest (make guest)")
        work = tempfile.mkdtemp(dir=self.tmp)
        ud, key = os.path.join(work, "ud"), os.path.join(work, "k.pub")
        with open(ud, "w") as f:
            f.write("#cloud-config\nruncmd: [echo hi]\n")
        with open(key, "w") as f:
            f.write("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 first@host\n")
        cli("create", "prov", "--user-data", ud, "--ssh-key", key, "--ssh-key", key)
        self.addCleanup(cli, "rm", "--force", "prov", check=False)
        disks = info("prov")["vm"]["disks"]
        self.assertEqual(len(disks), 1)
        self.assertRegex(disks[0], r"/instances/prov/seed\.iso,format=raw,readonly=on$")
        cli("start", "prov")
        wait_until(lambda: cli("exec", "prov", "--", "true", check=False).returncode == 0, seconds=120, step=0.5)
        r = cli("exec", "prov", "--", "sh", "-c", "mkdir -p /mnt/s && mount -t iso9660 -o ro /dev/vda /mnt/s && "
                "cat /mnt/s/meta-data /mnt/s/user-data")
        self.assertIn("local-hostname: prov\n", r.stdout)
        self.assertEqual(r.stdout.count("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 first@host"), 2)
        self.assertIn("runcmd: [echo hi]", r.stdout)
        cli("rm", "--force", "prov")
        status, body = api("POST", "/v1/instances", {"name": "badci", "vm": {"cloud_init": {"user_data": 3}}})
        self.assertEqual(status, 400)
        self.assertIn("cloud_init", body["error"])

    def test_hostile_input(self):
        cases = [
            ("POST", "/v1/instances", b"{not json", 400, "JSON"),
            ("POST", "/v1/instances", b'{"name":"x","bogus":1}', 400, "unknown field bogus"),
            ("POST", "/v1/instances", b'{"name":"../etc"}', 400, "invalid name"),
            ("POST", "/v1/instances", b'{"name":"a/b"}', 400, "invalid name"),
            ("POST", "/v1/instances", b'{"name":"m","vm":{"memory":"64M"},"limits":{"memory":"32M"}}', 400,
             "must leave room"),
            ("POST", "/v1/instances", b'{"name":"c","limits":{"cpu_max":100000}}', 400, "out of range"),
            ("POST", "/v1/instances", b'{"name":"c","limits":{"cpu_weight":-1}}', 400, "cpu_weight"),
            ("POST", "/v1/instances", b'{"name":"k","vm":{"kernel":"/nonexistent"}}', 400, "vm.kernel"),
            ("POST", "/v1/instances", b'{"name":"t","type":"container","container":{"rootfs":"/nope"}}', 400,
             "rootfs"),
            ("POST", "/v1/instances", b'[1,2]', 400, "object"),
            ("POST", "/v1/instances", b'{"name":"v","vm":{"vnc":"127.0.0.1:5999"}}', 400, "needs a display"),
            ("POST", "/v1/instances", b'{"name":"v","vm":{"display":"on","vnc":"x:y"}}', 400, "vm.vnc"),
            ("GET", "/v1/instances/missing", b"", 404, "no instance"),
            ("POST", "/v1/instances/missing/start", b"", 404, "no instance"),
            ("GET", "/v2/whatever", b"", 404, "/v1"),
            ("PUT", "/v1/instances", b"", 405, "GET or POST"),
        ]
        for method, path, body, want, msg in cases:
            status, ans = api(method, path, raw=f"{method} {path} HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n"
                              .encode() + body)
            self.assertEqual(status, want, (path, body, ans))
            self.assertIn(msg, ans["error"], (path, body))
        self.vm("dup")
        r = cli("create", "dup", "--firmware", "none", "--kernel", self.spin, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists", r.stderr)
        # A client that goes away mid-request, and one that sends garbage.
        s = socket.socket(socket.AF_UNIX)
        s.connect(Daemon.sock)
        s.sendall(b"POST /v1/instances HTTP/1.1\r\nContent-Length: 500\r\n\r\n{\"name\":")
        s.close()
        self.assertEqual(api("GET", "/v1", raw=b"\x00\xff garbage\r\n\r\n")[0], 400)
        # 1,000 concurrent requests: every one answered, no crash.
        def one(i):
            if i % 2:
                return api("GET", "/v1/instances/dup", timeout=60)[0]
            return api("POST", "/v1/instances", {"name": f"bad/{i}"}, timeout=60)[0]
        with concurrent.futures.ThreadPoolExecutor(max_workers=200) as ex:
            codes = list(ex.map(one, range(1000)))
        self.assertEqual(codes.count(200), 500)
        self.assertEqual(codes.count(400), 500)
        names = [i["name"] for i in api("GET", "/v1/instances")[1]]
        self.assertNotIn("x", names)
        self.assertFalse(any(n.startswith("bad") for n in names))
        db = sqlite3.connect(os.path.join(self.d.state, "cloisond.db"))
        rows = {r[0] for r in db.execute("SELECT name FROM instances")}
        db.close()
        self.assertEqual(rows, set(names), "the database holds exactly the instances the API lists")
        cli("rm", "dup")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    CLOISON = os.path.abspath(sys.argv.pop(1))
    CLOISOND = os.path.join(os.path.dirname(CLOISON), "cloisond")
    if os.geteuid() != 0:
        print("SKIP: cgroups and containers need root")
        sys.exit(77)
    unittest.main(verbosity=2)
