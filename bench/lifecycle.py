#!/usr/bin/env python3
"""lifecycle.py — save, restore and live migration: cloison vs QEMU (TCG), same kernel, initrd, firmware.

Save/restore, for 256 MiB and 1 GiB guests booted to their shell:
  save        cloison: `cloison save` (pause, flush, vmstate + sparse memory file);
              QEMU: QMP `migrate exec:cat > FILE` of the running guest until completed
  restore     to first instruction: cloison: spawn of `run --restore` until it logs that the harts
              run; QEMU: spawn of `-incoming exec:cat FILE` until QMP query-status says running
  responsive  spawn until the restored guest's shell answers a command on the serial console
              (QEMU 7.2's restored riscv64 guest stays silent: reported as "silent")
Live migration of a 1 GiB guest, idle and while `dd bs=32M` rewrites 32 MiB without pause:
  total, downtime    as each VMM reports them: downtime from the pause to the last byte sent (QEMU's
                     query-migrate definition; its max-bandwidth raised to 10 GB/s so its default cap does
                     not count); cloison also reports pause to the destination's "running" confirmation
                     (QEMU has no such figure: "silent")
  gap                what the guest sees: it prints a line, then sleeps 20 ms, in a loop; the time between
                     the last line from the source and the first from the destination ("silent": none
                     came), next to the loop's undisturbed interval on the source (the gap's floor)
Each figure is the median of RUNS runs. Usage: lifecycle.py CLOISON RUNS
"""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from guest import Guest, free_port, guest_dir  # noqa: E402

FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
SILENT_AFTER = 10.0  # seconds without an answer: the guest is declared silent
TICKER = 'while true; do echo "tk"; sleep 0.02; done &'
WRITER = "dd if=/dev/zero of=/dev/null bs=32M 2>/dev/null &"


class Qmp:
    def __init__(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.f = self.s.makefile("rwb")
        self.f.readline()  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.f.flush()
        while True:
            msg = json.loads(self.f.readline())
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise RuntimeError(f"QMP {name}: {msg['error']}")

    def close(self):
        self.s.close()


def qemu_argv(mem_mib, qmp, extra=()):
    g = guest_dir()
    return ["qemu-system-riscv64", "-M", "virt", "-m", str(mem_mib), "-smp", "1", "-nographic", "-bios", FW,
            "-kernel", f"{g}/Image", "-initrd", f"{g}/initrd.gz", "-append", "console=ttyS0 quiet",
            "-qmp", f"unix:{qmp},server=on,wait=off", "-no-reboot", *extra]


def api(sock, method, path, body=None):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"{method} {path} HTTP/1.1\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    resp = b""
    while chunk := s.recv(65536):
        resp += chunk
    head, _, payload = resp.partition(b"\r\n\r\n")
    if int(head.split()[1]) != 200:
        raise RuntimeError(payload.decode())
    return json.loads(payload)


def wait_socket(path, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} never appeared")
        time.sleep(0.002)


def answers(g, t0):
    """Seconds from t0 until the guest's shell answers, or None if it stays silent."""
    g.send("echo R$((20+22))\n")
    try:
        m = g.expect(r"R42\r?\n", timeout=SILENT_AFTER)
    except AssertionError:
        return None
    return g.arrival(m.start()) - t0


def save_restore(vmm, cloison, mem_mib, work):
    """Returns (save_ms, first_insn_ms, responsive_ms or None)."""
    if vmm == "cloison":
        sock = os.path.join(work, "src.sock")
        g = Guest(None, argv=[cloison, "run", "-m", f"{mem_mib}M", "--api-sock", sock], timeout=300)
        g.expect("guest# ")
        snap = os.path.join(work, "snap")
        t = time.monotonic()
        api(sock, "POST", "/vm/save", {"dir": snap, "then": "stop"})
        save_ms = (time.monotonic() - t) * 1e3
        g.wait_exit(60)
        t0 = time.monotonic()
        r = Guest(None, argv=[cloison, "run", "--restore", snap, "-v"], timeout=60)
        # The first-instruction time is logged on stderr; read it after the run.
        resp = answers(r, t0)
        r.send("poweroff -f\n")
        r.wait_exit(60)
        m = re.search(r"restored in ([\d.]+) ms", r.stderr)
        first_ms = float(m.group(1)) if m else float("nan")
        shutil.rmtree(snap)
        return save_ms, first_ms, resp * 1e3 if resp is not None else None
    qmp_path = os.path.join(work, "q.qmp")
    state = os.path.join(work, "qemu.state")
    g = Guest(None, argv=qemu_argv(mem_mib, qmp_path), timeout=300)
    q = Qmp(qmp_path)
    g.expect("guest# ")
    q.cmd("migrate-set-parameters", **{"max-bandwidth": 10 << 30})
    t = time.monotonic()
    q.cmd("migrate", uri=f"exec:cat > {state}")
    while q.cmd("query-migrate").get("status") not in ("completed", "failed"):
        time.sleep(0.002)
    save_ms = (time.monotonic() - t) * 1e3
    q.cmd("quit")
    q.close()
    g.kill()
    os.unlink(qmp_path)
    t0 = time.monotonic()
    r = Guest(None, argv=qemu_argv(mem_mib, qmp_path, ["-incoming", f"exec:cat {state}"]), timeout=60)
    q = Qmp(qmp_path)
    while q.cmd("query-status")["status"] != "running":
        time.sleep(0.001)
    first_ms = (time.monotonic() - t0) * 1e3
    resp = answers(r, t0)
    q.cmd("quit")
    q.close()
    r.kill()
    os.unlink(qmp_path)
    os.unlink(state)
    return save_ms, first_ms, resp * 1e3 if resp is not None else None


def tick_interval(g):
    """Median time between the guest's ticker lines when nothing disturbs it (the gap's baseline)."""
    times = [g.arrival(m.end() - 1) for m in re.finditer(rb"tk\r?\n", g.buf)]
    deltas = [(b - a) * 1e3 for a, b in zip(times, times[1:])]
    return statistics.median(deltas) if deltas else float("nan")


def gap(src, dst):
    """Guest-visible gap: last ticker line from the source to the first from the destination."""
    last = [m.end() for m in re.finditer(rb"tk\r?\n", src.buf)]
    try:
        m = dst.expect(r"tk\r?\n", timeout=SILENT_AFTER)
    except AssertionError:
        return None
    return (dst.arrival(m.start()) - src.arrival(last[-1] - 1)) * 1e3


def migrate(vmm, cloison, writing, work):
    """1 GiB guest. Returns (total_ms, downtime_ms, gap_ms or None)."""
    port = free_port()
    if vmm == "cloison":
        ssock, dsock = os.path.join(work, "s.sock"), os.path.join(work, "d.sock")
        src = Guest(None, argv=[cloison, "run", "-m", "1G", "--api-sock", ssock], timeout=300)
        dst = Guest(None, argv=[cloison, "run", "--incoming", f"127.0.0.1:{port}", "--api-sock", dsock],
                    timeout=300)
        src.expect("guest# ")
        if writing:
            src.send(WRITER + "\n")
        src.send(TICKER + "\n")
        src.expect(r"tk\r?\n")
        time.sleep(1)
        base = tick_interval(src)
        res = api(ssock, "POST", "/vm/migrate", {"to": f"127.0.0.1:{port}"})
        seen = gap(src, dst)
        src.wait_exit(60)
        dst.kill()
        src.kill()
        return res["total_ms"], res["downtime_sent_ms"], seen, base, res["downtime_ms"]
    sq, dq = os.path.join(work, "s.qmp"), os.path.join(work, "d.qmp")
    src = Guest(None, argv=qemu_argv(1024, sq), timeout=300)
    dst = Guest(None, argv=qemu_argv(1024, dq, ["-incoming", f"tcp:127.0.0.1:{port}"]), timeout=300)
    s, d = Qmp(sq), Qmp(dq)
    src.expect("guest# ")
    if writing:
        src.send(WRITER + "\n")
    src.send(TICKER + "\n")
    src.expect(r"tk\r?\n")
    time.sleep(1)
    base = tick_interval(src)
    s.cmd("migrate-set-parameters", **{"max-bandwidth": 10 << 30})
    s.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    deadline = time.monotonic() + 120
    while (info := s.cmd("query-migrate")).get("status") not in ("completed", "failed"):
        if time.monotonic() > deadline:
            s.cmd("migrate_cancel")
            break
        time.sleep(0.005)
    seen = gap(src, dst) if info.get("status") == "completed" else None
    for q in (s, d):
        try:
            q.cmd("quit")
        except (RuntimeError, OSError, ValueError):
            pass
        q.close()
    src.kill()
    dst.kill()
    for p in (sq, dq):
        if os.path.exists(p):
            os.unlink(p)
    if info.get("status") != "completed":
        return float("nan"), float("nan"), None, base, None
    return float(info.get("total-time", "nan")), float(info.get("downtime", "nan")), seen, base, None


def fmt(v):
    return "silent" if v is None else f"{v:.1f}"


def median(vals):
    """(median of the runs that produced a number, how many runs were silent)."""
    nums = [v for v in vals if v is not None and v == v]
    return (statistics.median(nums) if nums else None), len(vals) - len(nums)


def cell(m):
    value, silent = m
    if value is None:
        return "silent"
    return f"{value:.1f}" + (f" ({silent} silent)" if silent else "")


def ratio(a, b):
    if a[0] is None or b[0] is None or a[1] or b[1] or not b[0]:
        return "—"  # no ratio against a run where the guest did not answer
    return f"{a[0] / b[0]:.2f}"


def main():
    cloison, runs = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    work = tempfile.mkdtemp(prefix="cloison-bench-lifecycle-")
    rows = []
    try:
        for mem in (256, 1024):
            res = {"cloison": [], "qemu": []}
            for i in range(runs):
                for vmm in ("cloison", "qemu"):
                    r = save_restore(vmm, cloison, mem, work)
                    res[vmm].append(r)
                    print(f"save/restore {mem} MiB run {i + 1} {vmm:8s}: save {r[0]:.1f} ms, first instruction "
                          f"{r[1]:.1f} ms, console responsive {fmt(r[2])} ms", flush=True)
            for k, name in enumerate(("save", "restore to first instruction", "restore to console responsive")):
                c = median([r[k] for r in res["cloison"]])
                q = median([r[k] for r in res["qemu"]])
                rows.append((f"{name}, {mem} MiB", c, q))
        for writing in (False, True):
            label = "writing 32 MiB" if writing else "idle"
            res = {"cloison": [], "qemu": []}
            for i in range(runs):
                for vmm in ("cloison", "qemu"):
                    r = migrate(vmm, cloison, writing, work)
                    res[vmm].append(r)
                    print(f"live migration 1 GiB {label} run {i + 1} {vmm:8s}: total {r[0]:.1f} ms, downtime "
                          f"{r[1]:.1f} ms (to the last byte sent), until the destination runs {fmt(r[4])} ms, "
                          f"guest-visible gap {fmt(r[2])} ms (ticks normally {r[3]:.1f} ms apart)", flush=True)
            for k, name in ((0, "total"), (1, "downtime, pause to last byte sent"),
                            (4, "downtime, pause to destination running"), (2, "guest-visible gap"),
                            (3, "normal tick interval")):
                c = median([r[k] for r in res["cloison"]])
                q = median([r[k] for r in res["qemu"]])
                rows.append((f"live migration {name}, 1 GiB {label}", c, q))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nmedians of {runs} runs (ms; lower is better; ratio = cloison/QEMU; a median over the runs where the "
          "guest answered, with how many stayed silent)")
    print(f"{'':76s} {'cloison':>16s} {'QEMU 7.2':>16s} {'ratio':>6s}")
    for name, c, q in rows:
        print(f"{name:76s} {cell(c):>16s} {cell(q):>16s} {ratio(c, q):>6s}")


if __name__ == "__main__":
    main()
