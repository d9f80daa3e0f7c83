#!/usr/bin/env python3
"""soak.py — cloisond under fire: for DURATION seconds (default 600) it serves API load from several
clients (lists, infos, stats, pauses and resumes, starts and stops, snapshots taken and removed,
volumes created and removed) while 40 slow clients trickle requests in, and every few seconds the
daemon is killed with SIGKILL and started again. After each restart, and at the end, every instance
must be consistent (tests/integration/test_daemon.py's consistency(): state matches process,
snapshot directories match the database, integrity_check ok). Prints requests served, failures,
kills survived and inconsistencies found.

Usage: bench/soak.py BUILD_DIR [DURATION_S]
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import test_daemon as td  # noqa: E402


def kill_leftovers(tmp):
    """VM processes outlive their daemon by design: whatever still runs from this soak's directories
    goes, so a failed soak leaves nothing behind."""
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if tmp.encode() in f.read():
                    os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def main():
    tmp = tempfile.mkdtemp(prefix="cloison-soak-", dir="/tmp")
    try:
        return soak(tmp)
    finally:
        kill_leftovers(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def soak(tmp):
    build = os.path.abspath(sys.argv[1])
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 600
    td.CLOISON, td.CLOISOND = os.path.join(build, "cloison"), os.path.join(build, "cloisond")
    spin = os.path.join(tmp, "spin")
    td.build_guest(spin, 0)
    d = td.Daemon(tmp)
    d.start()
    names = [f"vm{i}" for i in range(4)]
    for n in names:
        td.cli("create", n, "--firmware", "none", "--kernel", spin, "--memory", "32M", "--cpu-max", "20")
        td.cli("start", n)
    lock = threading.Lock()
    counts = {"served": 0, "refused": 0, "server_errors": 0, "unreachable": 0}
    stop = threading.Event()
    daemon_up = threading.Event()  # clients may send
    daemon_up.set()
    inflight = [0]

    def client(seed):
        rnd = random.Random(seed)
        k = 0
        while not stop.is_set():
            if not daemon_up.wait(1):
                continue
            n = rnd.choice(names)
            k += 1
            req = rnd.choice([
                ("GET", "/v1/instances", None), ("GET", f"/v1/instances/{n}", None),
                ("GET", f"/v1/instances/{n}/stats", None), ("POST", f"/v1/instances/{n}/pause", None),
                ("POST", f"/v1/instances/{n}/resume", None), ("POST", f"/v1/instances/{n}/start", None),
                ("POST", f"/v1/instances/{n}/stop", None),
                ("POST", f"/v1/instances/{n}/snapshots", {"name": f"s{seed}-{k}"}),
                ("GET", f"/v1/instances/{n}/snapshots", None),
                ("POST", "/v1/storage-pools/default/volumes", {"name": f"v{seed}-{k % 5}.qcow2", "size": "1M"}),
                ("DELETE", f"/v1/storage-pools/default/volumes/v{seed}-{k % 5}.qcow2", None),
                ("GET", "/metrics", None)])
            with lock:
                inflight[0] += 1
            try:
                st, ans = td.api(*req, timeout=30)
                key = "served" if st < 400 else "refused" if st < 500 else "server_errors"
                if req[0] == "GET" and req[1].endswith("/snapshots") and st == 200:
                    for snap in ans[:-3]:  # keep a few
                        td.api("DELETE", f"/v1/instances/{n}/snapshots/{snap['name']}", timeout=30)
            except (OSError, ValueError, IndexError):
                key = "unreachable"  # the daemon was killed under it, or is not back yet
                time.sleep(0.05)
            with lock:
                counts[key] += 1
                inflight[0] -= 1

    def slow_clients():
        socks = []
        while not stop.is_set():
            socks = [s for s in socks if s.fileno() >= 0]
            while len(socks) < 40:
                try:
                    s = socket.socket(socket.AF_UNIX)
                    s.settimeout(0.2)
                    s.connect(td.Daemon.sock)
                    socks.append(s)
                except OSError:
                    break
            for s in socks:
                try:
                    s.send(b"G")
                    if s.recv(1, socket.MSG_DONTWAIT) is not None:
                        s.close()
                except (BlockingIOError, socket.timeout):
                    pass
                except OSError:
                    s.close()
            time.sleep(0.5)
        for s in socks:
            s.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=slow_clients))
    for t in threads:
        t.start()
    def quiesce():
        """No client request and no operation under way: what the instances are is settled."""
        daemon_up.clear()
        td.wait_until(lambda: inflight[0] == 0, 60)
        td.wait_until(lambda: not [o for o in td.api("GET", "/v1/operations")[1] if o["status"] == "running"], 60)

    kills, restarts_ms, problems = 0, [], []
    t_end = time.monotonic() + duration
    while time.monotonic() < t_end:
        daemon_up.set()
        time.sleep(random.uniform(2, 5))
        d.kill(signal.SIGKILL)
        kills += 1
        t0 = time.monotonic()
        d.start()
        restarts_ms.append((time.monotonic() - t0) * 1000)
        daemon_up.set()
        time.sleep(random.uniform(0.5, 2))
        quiesce()
        for n in names:
            td.wait_until(lambda: td.info(n)["status"]["state"] not in ("starting", "stopping"), 15)
            state, p = td.consistency(n, d.state)
            problems += [f"after kill {kills}: {x}" for x in p]
    stop.set()
    for t in threads:
        t.join(60)
    quiesce()
    for n in names:
        td.wait_until(lambda: td.info(n)["status"]["state"] not in ("starting", "stopping"), 15)
        problems += [f"at the end: {x}" for x in td.consistency(n, d.state)[1]]
    for n in names:
        td.api("DELETE", f"/v1/instances/{n}?force=1")
    d.kill(signal.SIGTERM)
    restarts_ms.sort()
    print(f"soak: {duration:.0f} s, requests served {counts['served']}, refused (4xx) {counts['refused']}, "
          f"server errors (5xx) {counts['server_errors']}, failed while the daemon was down {counts['unreachable']}")
    print(f"soak: kills survived {kills}, daemon restart median {restarts_ms[len(restarts_ms) // 2]:.0f} ms, "
          f"inconsistencies found {len(problems)}")
    for p in problems:
        print("soak: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
