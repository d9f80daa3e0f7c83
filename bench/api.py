#!/usr/bin/env python3
"""bench/api.py — cloisond through its API: create+start 20 VMs cloned from one
snapshot and 20 containers; list/info requests per second with 100 instances
defined; the daemon's memory with 100 instances. Peer: 20 QEMU processes
started by a script (qemu-system-riscv64 -M virt, same bare-metal guest), time
until each answers on QMP. Usage: api.py CLOISON_BUILD_DIR"""
import json, os, socket, statistics, subprocess, sys, tempfile, threading, time, shutil

BUILD = os.path.abspath(sys.argv[1])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(os.environ.get("N", "20"))
tmp = tempfile.mkdtemp(prefix="cloison-api-", dir="/tmp")
SOCK = os.path.join(tmp, "d.sock")


def api(method, path, body=None):
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"{method} {path} HTTP/1.1\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    resp = b""
    while (c := s.recv(65536)):
        resp += c
    s.close()
    head, _, text = resp.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(text)


def wait_op(ans):
    op = ans["operation"]["id"]
    st, o = api("GET", f"/v1/operations/{op}?wait=60")
    assert o["status"] == "success", o


guest = os.path.join(tmp, "spin")
subprocess.run(["riscv64-linux-gnu-gcc", "-nostdlib", "-static", "-Wl,-N", "-Wl,--build-id=none",
                "-Wl,-Ttext=0x80000000", "-Wl,--no-warn-rwx-segments", "-DLOOPS=0", "-o", guest,
                os.path.join(ROOT, "tests/guests/spin.S")], check=True)
rootfs = os.path.join(tmp, "rootfs")
subprocess.run(["bash", os.path.join(ROOT, "tools/guest/mkctroot.sh"), rootfs], check=True, capture_output=True)
d = subprocess.Popen([os.path.join(BUILD, "cloisond"), "--state-dir", os.path.join(tmp, "state"), "--run-dir",
                      os.path.join(tmp, "run"), "--socket", SOCK], stderr=open(os.path.join(tmp, "d.log"), "w"))
for _ in range(100):
    try:
        api("GET", "/v1"); break
    except OSError:
        time.sleep(0.05)

# The source VM and its snapshot.
api("POST", "/v1/instances", {"name": "src", "vm": {"kernel": guest, "firmware": "none", "memory": "64M"},
                              "limits": {"ips": 1000000}})
wait_op(api("POST", "/v1/instances/src/start")[1])
wait_op(api("POST", "/v1/instances/src/snapshots", {"name": "s1"})[1])
api("POST", "/v1/instances/src/stop")

vm_times = []
t0 = time.monotonic()
for i in range(N):
    t = time.monotonic()
    st, ans = api("POST", "/v1/instances/src/clone", {"name": f"c{i}", "snapshot": "s1", "start": True})
    assert st == 202, ans
    wait_op(ans)
    vm_times.append(time.monotonic() - t)
vm_total = time.monotonic() - t0

ct_times = []
t0 = time.monotonic()
for i in range(N):
    t = time.monotonic()
    api("POST", "/v1/instances", {"name": f"k{i}", "type": "container",
                                  "container": {"rootfs": rootfs, "overlay": True, "argv": ["/bin/sleep", "3600"]}})
    wait_op(api("POST", f"/v1/instances/k{i}/start")[1])
    ct_times.append(time.monotonic() - t)
ct_total = time.monotonic() - t0

# 100 instances defined: the running ones plus stopped definitions.
i = 0
while len(api("GET", "/v1/instances")[1]) < 100:
    api("POST", "/v1/instances", {"name": f"idle{i}", "vm": {"kernel": guest, "firmware": "none"}})
    i += 1


def rate(path, secs=2.0, threads=4):
    count = [0]
    stop = time.monotonic() + secs
    def run():
        while time.monotonic() < stop:
            api("GET", path)
            count[0] += 1
    ts = [threading.Thread(target=run) for _ in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return count[0] / secs

list_rps, info_rps = rate("/v1/instances"), rate("/v1/instances/c0")
rss = pss = 0
for line in open(f"/proc/{d.pid}/smaps_rollup"):
    if line.startswith("Rss:"): rss = int(line.split()[1])
    if line.startswith("Pss:"): pss = int(line.split()[1])

for inst in api("GET", "/v1/instances")[1]:
    api("DELETE", f"/v1/instances/{inst['name']}?force=1")
d.terminate(); d.wait()

# Peer: QEMU started by a script, the same guest, ready when QMP answers.
q_times = []
qemu = shutil.which("qemu-system-riscv64")
procs = []
if qemu:
    t0 = time.monotonic()
    for i in range(N):
        t = time.monotonic()
        qs = os.path.join(tmp, f"q{i}.qmp")
        p = subprocess.Popen([qemu, "-M", "virt", "-m", "64M", "-bios", "none", "-kernel", guest, "-display",
                              "none", "-serial", "null", "-monitor", "none", "-qmp", f"unix:{qs},server=on,wait=off"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        while True:
            try:
                s = socket.socket(socket.AF_UNIX); s.connect(qs); s.recv(4096); s.close(); break
            except OSError:
                s.close(); time.sleep(0.002)
        q_times.append(time.monotonic() - t)
    q_total = time.monotonic() - t0
    for p in procs:
        p.kill(); p.wait()

med = lambda xs: statistics.median(xs) * 1000
print(f"create+start {N} VMs (clones of one snapshot, through cloisond): total {vm_total:.2f} s, "
      f"median {med(vm_times):.1f} ms per VM")
if q_times:
    print(f"start {N} QEMU processes by script (same guest, until QMP answers): total {q_total:.2f} s, "
          f"median {med(q_times):.1f} ms per VM  -> cloison/QEMU median ratio {med(vm_times) / med(q_times):.2f}")
print(f"create+start {N} containers through cloisond: total {ct_total:.2f} s, median {med(ct_times):.1f} ms")
print(f"with 100 instances defined: list {list_rps:.0f} req/s, info {info_rps:.0f} req/s (4 clients)")
print(f"cloisond memory with 100 instances: RSS {rss} KiB, PSS {pss} KiB")
shutil.rmtree(tmp, ignore_errors=True)
