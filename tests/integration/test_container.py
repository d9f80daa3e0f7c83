#!/usr/bin/env python3
"""test_container.py — system containers on real namespaces and cgroups.

- Isolation: PID 1 is the container's command and `ps` shows nothing else; the
  hostname is its own; only stdio is open in init and in exec'd commands, even
  when cloison itself holds an extra inherited fd; a host file outside the rootfs is unreachable by `..`,
  a symlink to / or /proc/1/root; --net none shows only loopback; a rootfs whose
  /proc is a symlink to a host path never makes cloison create that host path.
- Confinement: no_new_privs, a seccomp filter, the default capability set;
  mount, unshare -U, sethostname fail inside; /proc/timer_list reads empty and
  /proc/sys is read-only; no process inside runs the cloison binary.
- Limits: a memory hog is OOM-killed at --memory while init survives (stats
  count the kill); a fork bomb stops at --pids; --cpu-max 20 holds 20% +- 6 over 3 s.
- Lifecycle: detached run found by a second invocation (list, exec, stats),
  pause/resume through the freezer (a counter stands still), stop with a
  timeout (SIGKILL when init ignores SIGTERM), rm refused while running.
- Networking: two containers on a bridge in a private network namespace ping
  each other; a veth with host-ip reaches the host end.
- Root filesystems: --overlay leaves the rootfs untouched; --read-only refuses writes.
- Bad input: missing rootfs, missing command, invalid limits and names, a
  duplicate name, a missing cgroup controller and disabled user namespaces get
  clear messages and exit codes.

Usage: test_container.py CLOISON_BINARY
"""
import json
import os
import shutil
import subprocess
import socket
import sys
import tempfile
import time
import unittest

CLOISON = None
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def ct(*args, check=True, timeout=60, env=None, **kw):
    r = subprocess.run([CLOISON, "ct", *args], capture_output=True, text=True, timeout=timeout, env=env, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"cloison ct {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


class ContainerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cloison-ct-")
        cls.state = os.path.join(cls.tmp, "state")
        os.environ["CLOISON_STATE_DIR"] = cls.state
        cls.rootfs = os.path.join(cls.tmp, "rootfs")
        subprocess.run(["bash", os.path.join(ROOT, "tools/guest/mkctroot.sh"), cls.rootfs], check=True)

    @classmethod
    def tearDownClass(cls):
        r = subprocess.run([CLOISON, "ct", "list", "--format", "json"], capture_output=True, text=True)
        for c in json.loads(r.stdout or "[]"):
            subprocess.run([CLOISON, "ct", "rm", "--force", c["name"]], capture_output=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_ct(self, *cmd, opts=(), **kw):
        return ct("run", "--rootfs", self.rootfs, "--rm", *opts, "--", *cmd, **kw)

    def detached(self, name, *cmd, opts=()):
        r = ct("run", "--rootfs", self.rootfs, "--name", name, "-d", *opts, "--", *cmd)
        self.assertEqual(r.stdout.strip(), name)
        self.addCleanup(lambda: subprocess.run([CLOISON, "ct", "rm", "--force", name], capture_output=True))

    def stats(self, name):
        return json.loads(ct("stats", name, "--format", "json").stdout)

    # --- isolation -------------------------------------------------------------------------------
    def test_isolation(self):
        marker = os.path.join(self.tmp, "host-secret")
        with open(marker, "w") as f:
            f.write("secret\n")
        os.symlink("/", os.path.join(self.rootfs, "hostroot"))
        self.addCleanup(os.unlink, os.path.join(self.rootfs, "hostroot"))
        script = (
            "ps -o pid= > /tmp/pids; echo pids: $(cat /tmp/pids); echo host: $(hostname); "
            f"cat ../../..{marker} /hostroot{marker} /proc/1/root{marker} 2>/dev/null && echo LEAK; "
            "echo ifs: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')"
        )
        r = self.run_ct("sh", "-c", script, opts=("--hostname", "inner"))
        out = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
        self.assertEqual(out["pids"].split(), ["1", "2"], r.stdout)  # sh and ps: nothing of the host
        self.assertEqual(out["host"], "inner")
        self.assertNotIn("LEAK", r.stdout)
        self.assertEqual(out["ifs"].split(), ["lo"])

    def test_no_fd_leaks(self):
        # cloison gets an inheritable fd 50; neither init nor an exec'd command may see it.
        extra = os.open("/etc/hostname", os.O_RDONLY)
        os.dup2(extra, 50)
        os.close(extra)
        try:
            r = ct("run", "--rootfs", self.rootfs, "--name", "fds", "-d", "--", "sleep", "60", pass_fds=(50,))
            self.addCleanup(lambda: subprocess.run([CLOISON, "ct", "rm", "--force", "fds"], capture_output=True))
            init_fds = ct("exec", "fds", "--", "ls", "/proc/1/fd").stdout.split()
            exec_fds = ct("exec", "fds", "--", "ls", "/proc/self/fd", pass_fds=(50,)).stdout.split()
        finally:
            os.close(50)
        self.assertEqual(init_fds, ["0", "1", "2"])
        self.assertEqual(exec_fds, ["0", "1", "2", "3"])  # 3: ls's own directory handle

    def test_symlinked_mount_target_stays_inside(self):
        root = os.path.join(self.tmp, "evil-root")
        shutil.copytree(self.rootfs, root, symlinks=True)
        host_target = os.path.join(self.tmp, "host-proc-target")
        shutil.rmtree(os.path.join(root, "proc"))
        os.symlink(host_target, os.path.join(root, "proc"))  # absolute: means the host path outside
        r = ct("run", "--rootfs", root, "--rm", "--", "true", check=False)
        self.assertFalse(os.path.exists(host_target), "a mount point was created outside the rootfs")
        if r.returncode != 0:  # refusing is fine; following the link out is not
            self.assertIn("proc", r.stderr)

    def test_confinement(self):
        script = (
            "grep -E 'NoNewPrivs|Seccomp:|CapEff' /proc/self/status; "
            "mount -t tmpfs none /mnt 2>/dev/null && echo MOUNTED; "
            "unshare -U true 2>/dev/null && echo USERNS; "
            "hostname other 2>/dev/null && echo RENAMED; "
            "echo timer_list=$(wc -c < /proc/timer_list); "
            "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo SYSWRITE; "
            "for p in /proc/[0-9]*; do readlink $p/exe; done"
        )
        r = self.run_ct("sh", "-c", script)
        self.assertRegex(r.stdout, r"NoNewPrivs:\s+1")
        self.assertRegex(r.stdout, r"Seccomp:\s+2")
        cap = int(next(l for l in r.stdout.splitlines() if l.startswith("CapEff")).split()[1], 16)
        self.assertEqual(cap & (1 << 21), 0, "CAP_SYS_ADMIN kept")
        self.assertNotEqual(cap & (1 << 0), 0, "CAP_CHOWN dropped")
        for bad in ("MOUNTED", "USERNS", "RENAMED", "SYSWRITE"):
            self.assertNotIn(bad, r.stdout)
        self.assertIn("timer_list=0", r.stdout)  # masked: /dev/null bound over it
        self.assertNotIn("cloison", r.stdout)

    # --- limits ----------------------------------------------------------------------------------
    def test_memory_limit_oom_kills_inside(self):
        self.detached("memhog", "/sbin/init", opts=("--memory", "32M"))
        r = ct("exec", "memhog", "--", "awk", 'BEGIN { s = "xxxxxxxxxxxxxxxx"; while (1) s = s s }', check=False)
        self.assertEqual(r.returncode, 137, r.stderr)  # SIGKILL from the OOM killer
        st = self.stats("memhog")
        self.assertGreaterEqual(st["oom_kills"], 1)
        self.assertEqual(st["memory_limit"], 32 << 20)
        self.assertEqual(st["status"], "running")  # init survived

    def test_pids_limit_stops_fork_bomb(self):
        self.detached("forky", "/sbin/init", opts=("--pids", "20"))
        r = ct("exec", "forky", "--", "sh", "-c",
               "i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i+1)); done 2>/dev/null; "
               "cat /sys/fs/cgroup/pids.current 2>/dev/null; echo started", check=False, timeout=60)
        st = self.stats("forky")
        self.assertLessEqual(st["pids"], 20)
        self.assertEqual(st["pids_limit"], 20)
        self.assertGreaterEqual(st["pids"], 15, "the bomb should have filled the limit")

    def test_cpu_cap(self):
        self.detached("capped", "/sbin/init", opts=("--cpu-max", "20"))
        ct("exec", "capped", "--", "sh", "-c", "(while :; do :; done) >/dev/null 2>&1 & (while :; do :; done) >/dev/null 2>&1 &")
        time.sleep(0.5)
        a, t0 = self.stats("capped")["cpu_ns"], time.monotonic()
        time.sleep(3)
        b, t1 = self.stats("capped")["cpu_ns"], time.monotonic()
        share = (b - a) / 1e9 / (t1 - t0)
        self.assertGreater(share, 0.14, f"CPU share {share:.3f}")
        self.assertLess(share, 0.26, f"CPU share {share:.3f}")

    # --- lifecycle -------------------------------------------------------------------------------
    def test_exec_tty_is_the_containers_own(self):
        # `ct exec -t` on a terminal: the command's terminal comes from the container's devpts, so it
        # can name it (`tty`) and the device exists in its /dev/pts.
        import pty
        self.detached("ttyct", "sleep", "600")
        master, slave = pty.openpty()
        p = subprocess.Popen([CLOISON, "ct", "exec", "-t", "ttyct", "--", "sh", "-c",
                              'echo "name=$(tty)"; [ -c "$(tty)" ] && echo exists; [ -t 0 ] && echo stdin-tty'],
                             stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the slave side closed: the command ended
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        self.assertEqual(p.wait(timeout=30), 0, out)
        text = out.decode(errors="replace")
        self.assertRegex(text, r"name=/dev/pts/\d+")
        self.assertIn("exists", text)
        self.assertIn("stdin-tty", text)
        self.assertNotIn("not a tty", text)

    def test_detached_pause_resume_exec_stop(self):
        counter = os.path.join(self.rootfs, "tmp", "counter")
        self.detached("busy", "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/counter; sleep 0.02; done")
        time.sleep(0.3)  # the counter is replaced by rename: a reader never sees it half written
        lst = json.loads(ct("list", "--format", "json").stdout)
        self.assertEqual([c["status"] for c in lst if c["name"] == "busy"], ["running"])
        self.assertEqual(ct("exec", "busy", "--", "hostname").stdout.strip(), "busy")
        r = ct("exec", "busy", "--", "sh", "-c", "exit 7", check=False)
        self.assertEqual(r.returncode, 7)
        ct("pause", "busy")
        self.assertIn("paused", ct("list").stdout)
        v1 = open(counter).read()
        time.sleep(0.5)
        self.assertEqual(open(counter).read(), v1, "the counter moved while paused")
        self.assertNotEqual(ct("exec", "busy", "--", "true", check=False).returncode, 0)
        ct("resume", "busy")
        time.sleep(0.3)
        self.assertGreater(int(open(counter).read()), int(v1))
        st = self.stats("busy")
        self.assertGreater(st["cpu_ns"], 0)
        self.assertGreater(st["memory_bytes"], 0)
        self.assertGreaterEqual(st["pids"], 1)
        r = ct("rm", "busy", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("stop it first", r.stderr)
        t = time.monotonic()
        ct("stop", "busy", "--timeout", "1")  # sh as PID 1 ignores SIGTERM: SIGKILL after 1 s
        self.assertGreaterEqual(time.monotonic() - t, 0.9)
        lst = json.loads(ct("list", "--format", "json").stdout)
        self.assertEqual([(c["status"], c["exit_code"]) for c in lst if c["name"] == "busy"], [("stopped", 137)])
        ct("rm", "busy")
        self.assertNotIn("busy", ct("list").stdout)

    def test_init_gives_a_shell_on_the_console(self):
        # mkctroot's inittab: a shell on the console (the detached container's pty, reached through
        # console.sock, as `cloison console` does through cloisond), respawned when it exits.
        self.detached("con", "/sbin/init")
        sock_path = os.path.join(self.state, "containers", "con", "console.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(sock_path)
        self.addCleanup(s.close)

        def until(word):
            seen = b""
            deadline = time.monotonic() + 20
            while word not in seen and time.monotonic() < deadline:
                seen += s.recv(4096)
            return seen

        s.sendall(b"\n")
        self.assertIn(b"con:/# ", until(b"con:/# "))  # the prompt, with the container's hostname
        s.sendall(b"echo $((6 * 7))-$(tty)\n")
        self.assertIn(b"42-/dev/console", until(b"42-/dev/console"))
        s.sendall(b"exit\n")  # respawned, like a getty
        s.sendall(b"\n")
        until(b"con:/# ")
        s.sendall(b"echo again-$((2 + 2))\n")
        self.assertIn(b"again-4", until(b"again-4"))

    def test_foreground_run_leaves_no_record(self):
        ct("run", "--rootfs", self.rootfs, "--name", "fg1", "--", "true")
        ct("run", "--rootfs", self.rootfs, "--name", "fg2", "--keep", "--", "true")
        self.addCleanup(lambda: subprocess.run([CLOISON, "ct", "rm", "fg2"], capture_output=True))
        names = [c["name"] for c in json.loads(ct("list", "--format", "json").stdout)]
        self.assertNotIn("fg1", names)
        self.assertIn("fg2", names)
        self.assertEqual(ct("run", "--rootfs", self.rootfs, "-d", "--keep", "--", "true", check=False).returncode, 2)

    def test_init_stops_cleanly(self):
        # busybox init is asked with SIGPWR (it halts: the kernel ends a namespace's init with SIGINT):
        # a clean stop, recorded as exit 0, well before the timeout.
        self.detached("sys", "/sbin/init")
        time.sleep(0.5)  # init has installed its handlers
        t = time.monotonic()
        ct("stop", "sys", "--timeout", "20")
        self.assertLess(time.monotonic() - t, 15, "busybox init should shut down when asked")
        lst = json.loads(ct("list", "--format", "json").stdout)
        self.assertEqual([(c["status"], c["exit_code"]) for c in lst if c["name"] == "sys"], [("stopped", 0)])

    @unittest.skipUnless(shutil.which("cc"), "no C compiler")
    def test_systemd_like_init_stops_on_its_signal(self):
        # An init named systemd that, like systemd, ignores SIGTERM and halts on SIGRTMIN+3.
        src = os.path.join(self.tmp, "fake-systemd.c")
        with open(src, "w") as f:
            f.write("#include <signal.h>\n#include <unistd.h>\n"
                    "static void halt(int s) { (void)s; _exit(0); }\n"
                    "int main(void) { signal(SIGTERM, SIG_IGN); signal(SIGRTMIN + 3, halt);"
                    " for (;;) pause(); }\n")
        os.makedirs(os.path.join(self.rootfs, "usr/lib/systemd"), exist_ok=True)
        exe = os.path.join(self.rootfs, "usr/lib/systemd/systemd")
        subprocess.run(["cc", "-static", "-O2", "-o", exe, src], check=True)
        self.addCleanup(os.unlink, exe)
        self.detached("sysd", "/usr/lib/systemd/systemd")
        time.sleep(0.3)
        t = time.monotonic()
        ct("stop", "sysd", "--timeout", "20")
        self.assertLess(time.monotonic() - t, 10, "SIGRTMIN+3 should have stopped it (SIGTERM is ignored)")
        lst = json.loads(ct("list", "--format", "json").stdout)
        self.assertEqual([(c["status"], c["exit_code"]) for c in lst if c["name"] == "sysd"], [("stopped", 0)])

    # --- networking ------------------------------------------------------------------------------
    def test_veth_bridge_in_private_netns(self):
        script = f"""
set -e
ip link add ctbr0 type bridge && ip link set ctbr0 up
{CLOISON} ct run --rootfs {self.rootfs} --name peer1 -d --net veth,bridge=ctbr0,ip=10.77.0.2/24 -- /sbin/init
{CLOISON} ct run --rootfs {self.rootfs} --rm --net veth,bridge=ctbr0,ip=10.77.0.3/24 -- ping -c 2 -W 3 10.77.0.2
{CLOISON} ct run --rootfs {self.rootfs} --rm --net veth,ip=10.78.0.2/24,host-ip=10.78.0.1/24,gw=10.78.0.1 -- ping -c 1 -W 3 10.78.0.1
{CLOISON} ct stop peer1 --timeout 0 && {CLOISON} ct rm peer1
"""
        r = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count(" 0% packet loss"), 2, r.stdout)

    # --- root filesystems ------------------------------------------------------------------------
    def test_overlay_and_read_only(self):
        r = ct("run", "--rootfs", self.rootfs, "--name", "ov", "--overlay", "--keep", "--",
               "sh", "-c", "echo changed > /etc/motd-ov && cat /etc/motd-ov")
        self.assertEqual(r.stdout.strip(), "changed")
        self.assertFalse(os.path.exists(os.path.join(self.rootfs, "etc", "motd-ov")))
        upper = os.path.join(self.state, "containers", "ov", "overlay", "upper", "etc", "motd-ov")
        self.assertTrue(os.path.exists(upper))
        ct("rm", "ov")
        r = self.run_ct("sh", "-c", "touch /newfile && echo WROTE", opts=("--read-only",), check=False)
        self.assertNotIn("WROTE", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.rootfs, "newfile")))

    # --- bad input -------------------------------------------------------------------------------
    def test_bad_input(self):
        r = ct("run", "--rootfs", os.path.join(self.tmp, "nope"), "--", "true", check=False)
        self.assertEqual(r.returncode, 125)
        self.assertIn("No such file", r.stderr)
        r = self.run_ct("/bin/definitely-missing", check=False)
        self.assertEqual(r.returncode, 125)
        self.assertIn("definitely-missing", r.stderr)
        for opts, word in ((("--cpu-max", "0"), "cpu-max"), (("--memory", "1k"), "memory"),
                           (("--pids", "abc"), "pids"), (("--cpu-weight", "20000"), "cpu-weight"),
                           (("--name", "../x"), "name"), (("--net", "wifi"), "net")):
            r = self.run_ct("true", opts=opts, check=False)
            self.assertEqual(r.returncode, 2, (opts, r.stderr))
            self.assertIn(word, r.stderr)
        self.detached("dup", "/sbin/init")
        r = ct("run", "--rootfs", self.rootfs, "--name", "dup", "--", "true", check=False)
        self.assertEqual(r.returncode, 125)
        self.assertIn("exists", r.stderr)
        r = ct("exec", "ghost", "--", "true", check=False)
        self.assertIn("no container named 'ghost'", r.stderr)

    def test_missing_controller_and_userns(self):
        # A host without the pids controller: hide its hierarchy in a private mount namespace.
        r = subprocess.run(["unshare", "-m", "sh", "-c",
                            f"umount /sys/fs/cgroup/pids && exec {CLOISON} ct run --rootfs {self.rootfs} --rm "
                            f"--pids 10 -- true"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 125)
        self.assertIn("'pids' cgroup controller is not available", r.stderr)
        # A host without user namespaces: the limit is per user namespace, so set it to 0 in one.
        r = subprocess.run(["unshare", "-U", "-r", "sh", "-c",
                            "echo 0 > /proc/sys/user/max_user_namespaces && "
                            f"exec {CLOISON} ct run --rootfs {self.rootfs} --rm --userns -- true"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 125)
        self.assertIn("user namespaces are disabled", r.stderr)


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    if os.geteuid() != 0:
        print("test_container: needs root (namespaces, cgroups, veth)")
        sys.exit(77)
    unittest.main(verbosity=2)
