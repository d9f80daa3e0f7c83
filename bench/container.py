#!/usr/bin/env python3
"""container.py — start time and idle memory of containers: cloison vs crun and runc.

Start: wall time of one `RUNTIME run` of /bin/true in a fresh container, from fork to reaped, RUNS
times each, interleaved (cloison, crun, runc, cloison, ...) so drift hits all alike; medians.
All three create PID, mount, network, IPC and UTS namespaces and pivot into the same busybox rootfs
(the OCI bundle is `crun spec`'s default with the command and terminal changed).
- cloison: `cloison ct run --rm` with its defaults: a cgroup in every hierarchy (accounting), the
  seccomp filter, masked /proc paths, capabilities dropped.
- crun 1.8.1 refuses cgroup v1/hybrid hosts; it runs in a private mount namespace that sees only a
  cgroup2 mount, with --cgroup-manager=disabled: it creates no cgroup at all (less work than ours).
- runc 1.1.5 creates its cgroups (systemd-less cgroupfs driver).

Idle memory: IDLE containers each running an idle busybox init, started detached; the host memory
they cost is the growth of (MemTotal - MemAvailable) from before to after, divided by IDLE, and the
proportional set size (PSS) of every process they add (containers, supervisors), divided by IDLE.

Usage: container.py CLOISON RUNS IDLE
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CLOISON = os.path.abspath(sys.argv[1])
RUNS = int(sys.argv[2])
IDLE = int(sys.argv[3])
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

tmp = tempfile.mkdtemp(prefix="cloison-bench-ct-")
os.environ["CLOISON_STATE_DIR"] = os.path.join(tmp, "state")
bundle = os.path.join(tmp, "bundle")
os.makedirs(bundle)
subprocess.run(["bash", os.path.join(ROOT, "tools/guest/mkctroot.sh"), os.path.join(bundle, "rootfs")], check=True)
subprocess.run(["crun", "spec"], cwd=bundle, check=True)
spec = json.load(open(os.path.join(bundle, "config.json")))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["/bin/true"]
json.dump(spec, open(os.path.join(bundle, "config.json"), "w"))
rootfs = os.path.join(bundle, "rootfs")

# crun in its private mount namespace: one long-lived helper that runs crun on request and reports times,
# so the namespace setup is not counted.
CRUN_HELPER = r"""
import subprocess, sys, time
for line in sys.stdin:
    n = line.strip()
    t = time.perf_counter()
    r = subprocess.run(["crun", "--cgroup-manager=disabled", "run", "-b", sys.argv[1], "b" + n],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    print("%.6f %d %s" % (time.perf_counter() - t, r.returncode, r.stderr.decode().strip()[:200]), flush=True)
"""
crun = subprocess.Popen(["unshare", "-m", "sh", "-c",
                         "mount --make-rprivate / && mount -t cgroup2 none /sys/fs/cgroup && "
                         'exec python3 -c "$0" "$1"', CRUN_HELPER, bundle],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def timed(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        sys.exit(f"{cmd[0]} failed: {r.stderr}")
    return time.perf_counter() - t


def crun_once(i):
    crun.stdin.write(f"{i}\n")
    crun.stdin.flush()
    secs, rc, err = (crun.stdout.readline().rstrip("\n").split(" ", 2) + [""])[:3]
    if int(rc):
        sys.exit(f"crun failed: {err}")
    return float(secs)


times = {"cloison": [], "crun": [], "runc": []}
for i in range(RUNS + 2):  # the first two rounds warm caches and are not counted
    a = timed([CLOISON, "ct", "run", "--rootfs", rootfs, "--rm", "--", "/bin/true"])
    b = crun_once(i)
    c = timed(["runc", "run", "-b", bundle, f"r{i}"])
    if i >= 2:
        times["cloison"].append(a), times["crun"].append(b), times["runc"].append(c)
crun.stdin.close()
crun.wait()

print(f"\nContainer start: run /bin/true in a fresh container, {RUNS} runs each, interleaved")
print(f"{'runtime':<10} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'vs crun':>8}")
mc = statistics.median(times["crun"])
for k, v in times.items():
    m = statistics.median(v)
    print(f"{k:<10} {m * 1e3:>10.2f} {min(v) * 1e3:>8.2f} {max(v) * 1e3:>8.2f} {m / mc:>7.2f}x")


def used_kib():
    info = dict(l.split(":", 1) for l in open("/proc/meminfo"))
    kib = lambda k: int(info[k].split()[0])
    return kib("MemTotal") - kib("MemAvailable")


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            for line in open(f"/proc/{p}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def all_pids():
    return {int(p) for p in os.listdir("/proc") if p.isdigit()}


def idle_memory(start, stop):
    subprocess.run(["sync"])
    time.sleep(1)
    before, pids0 = used_kib(), all_pids()
    start()
    time.sleep(2)
    after, new = used_kib(), all_pids() - pids0
    pss = pss_kib(new)
    stop()
    return (after - before) / IDLE, pss / IDLE, len(new) / IDLE


def cl_start():
    for i in range(IDLE):
        subprocess.run([CLOISON, "ct", "run", "--rootfs", rootfs, "--name", f"idle{i}", "-d", "--", "/sbin/init"],
                       check=True, stdout=subprocess.DEVNULL)


def cl_stop():
    for i in range(IDLE):
        subprocess.run([CLOISON, "-q", "ct", "rm", "--force", f"idle{i}"], check=True)


def runc_start():
    spec["process"]["args"] = ["/sbin/init"]
    json.dump(spec, open(os.path.join(bundle, "config.json"), "w"))
    for i in range(IDLE):
        subprocess.run(["runc", "run", "-d", "-b", bundle, f"idle{i}"], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def runc_stop():
    for i in range(IDLE):
        subprocess.run(["runc", "delete", "-f", f"idle{i}"], check=True)


print(f"\nIdle memory: {IDLE} containers running busybox init, per container")
print(f"{'runtime':<10} {'host KiB':>10} {'PSS KiB':>9} {'procs':>6}")
for name, start, stop in (("cloison", cl_start, cl_stop), ("runc", runc_start, runc_stop)):
    host, pss, procs = idle_memory(start, stop)
    print(f"{name:<10} {host:>10.0f} {pss:>9.0f} {procs:>6.1f}")
print("(crun detached needs its cgroup manager, which refuses this hybrid host; runc stands in.)")
shutil.rmtree(tmp, ignore_errors=True)
