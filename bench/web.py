#!/usr/bin/python3
"""bench/web.py — the web interface's bar, each number next to its peer in the same run:

1. "Start" clicked in headless Chromium to the guest's text on the noVNC canvas (OCR of the canvas,
   the default guest with a display, through cloisond --listen), against qemu-system-riscv64 -M virt
   with a virtio GPU started by this script to the same text on its VNC screen (the same RFB client and
   OCR); RUNS each, medians.
2. Frames per second of the VNC stream while the guest scrolls text on tty1: `cloison run --display on
   --vnc` against QEMU's own VNC server (-vnc), the same guest loop, the same RFB client asking for
   incremental updates as fast as they come.
3. cloisond's memory (RSS) idle and with 20 open web consoles (WebSockets over TLS to 20 containers),
   against websockify (Debian's, noVNC's own WebSocket proxy) holding 20 connections to the same
   consoles.
4. HTTPS requests per second for GET /v1/instances with 100 instances (wrk, 2 threads, 8 connections),
   against nginx serving the same JSON bytes as a static file with the same certificate (the ceiling for
   TLS on this machine).

Usage: web.py BUILD_DIR   (root; RUNS=3 by default)
"""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from browser import Browser  # noqa: E402
from guest import free_port, guest_dir  # noqa: E402
from test_display import RFB  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CLOISON, CLOISOND = os.path.join(BUILD, "cloison"), os.path.join(BUILD, "cloisond")
RUNS = int(os.environ.get("RUNS", "3"))
FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
G = guest_dir()
tmp = tempfile.mkdtemp(prefix="cloison-webbench-", dir="/tmp")
SOCK = os.path.join(tmp, "d.sock")
PORT = free_port()
procs = []
BANNER = re.compile(r"built-in shell")  # the shell's banner on tty1 (the default guest's login text)


def cleanup():
    """Instances outlive their daemon by design: removed first, whatever failed."""
    r = subprocess.run([CLOISON, "list", "--format", "json"], capture_output=True, text=True,
                       env=dict(os.environ, CLOISON_SOCKET=SOCK))
    for inst in json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []:
        subprocess.run([CLOISON, "rm", "--force", inst["name"], "-q"], capture_output=True,
                       env=dict(os.environ, CLOISON_SOCKET=SOCK))
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)


def cli(*args, check=True):
    return subprocess.run([CLOISON, *args], capture_output=True, text=True, check=check,
                          env=dict(os.environ, CLOISON_SOCKET=SOCK))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def ocr(path):
    return subprocess.run(["tesseract", path, "-"], capture_output=True, text=True, timeout=120).stdout


def qemu_display(vnc_display, serial=subprocess.DEVNULL):
    p = subprocess.Popen(["qemu-system-riscv64", "-M", "virt", "-m", "256", "-bios", FW, "-kernel", f"{G}/Image",
                          "-initrd", f"{G}/initrd.gz", "-append", "console=ttyS0 quiet",
                          # virtio-gpu needs a modern (virtio 1) transport: QEMU's virt is legacy by default
                          "-global", "virtio-mmio.force-legacy=false",
                          "-device", "virtio-gpu-device", "-vnc", f"127.0.0.1:{vnc_display}",
                          "-serial", "stdio", "-display", "none", "-monitor", "none"],
                         stdin=subprocess.PIPE, stdout=serial, stderr=subprocess.DEVNULL)
    procs.append(p)
    return p


def rfb_connect(port, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return RFB(port)
        except (OSError, EOFError, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def rfb_until_text(c, word, timeout=240):
    """Polls the screen over RFB until OCR finds word (a regular expression); False after timeout."""
    path = os.path.join(tmp, "rfb.ppm")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c.update(0)
        c.save_ppm(path, scale=1)
        if word.search(ocr(path)):
            return True
    return False


def median(xs):
    return statistics.median(xs)


def start_to_screen(b):
    cl, qe = [], []
    row = lambda n: f'#instances tbody tr[data-name="{n}"]'  # noqa: E731
    for i in range(RUNS):
        name = f"scr{i}"
        cli("create", name, "--memory", "256M", "--display", "on", "-q")
        b.wait(f"document.querySelector('{row(name)} .act-start')", 20, "the new row")
        t0 = time.monotonic()
        b.click(f"{row(name)} .act-start")
        b.wait(f"document.querySelector('{row(name)} .act-screen')", 60, "the Screen button")
        b.click(f"{row(name)} .act-screen")
        b.wait("document.querySelector('#screen-state').textContent === 'connected'", 60, "noVNC")
        shot = os.path.join(tmp, "canvas.png")
        while not BANNER.search(ocr(b.screenshot(shot, "#screen canvas", scale=2))):
            if time.monotonic() - t0 > 240:
                raise SystemExit("cloison: no BusyBox banner on the noVNC canvas in 240 s")
        cl.append(time.monotonic() - t0)
        b.click("#screen-close")
        cli("rm", "--force", name, "-q")
        # The peer: QEMU started here, its VNC screen read by the RFB client.
        disp = 40 + i  # VNC display :40.. (port 5940..)
        t0 = time.monotonic()
        q = qemu_display(disp)
        c = rfb_connect(5900 + disp)
        if not rfb_until_text(c, BANNER):
            raise SystemExit("qemu: no BusyBox banner on its VNC screen in 240 s")
        qe.append(time.monotonic() - t0)
        c.s.close()
        q.kill()
        q.wait()
        print(f"  run {i + 1}: cloison (browser, noVNC) {cl[-1]:.1f} s, qemu (VNC client) {qe[-1]:.1f} s", flush=True)
    print(f"start -> guest text on screen: median cloison {median(cl):.1f} s, qemu {median(qe):.1f} s, "
          f"ratio cloison/qemu = {median(cl) / median(qe):.2f}")


def type_when_prompt(p, line, timeout=240):
    """Waits for the serial prompt on p's stdout (read without blocking), then types line."""
    os.set_blocking(p.stdout.fileno(), False)
    seen, deadline = b"", time.monotonic() + timeout
    while b"guest# " not in seen:
        if time.monotonic() > deadline:
            raise SystemExit("no prompt on the serial console: " + seen[-300:].decode(errors="replace"))
        p.stdin.write(b"\n")
        p.stdin.flush()
        time.sleep(0.5)
        try:
            seen += p.stdout.read() or b""
        except BlockingIOError:
            pass
    p.stdin.write(line.encode() + b"\n")
    p.stdin.flush()


def count_fps(c, seconds=10):
    c.update(0)
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        c.update(1)
        n += 1
    return n / (time.monotonic() - t0)


def vnc_fps():
    scroll = "while :; do ls -l /bin /sbin; done > /dev/tty1 2>&1 &"
    cl, qe = [], []
    for i in range(RUNS):
        port = free_port()
        p = subprocess.Popen([CLOISON, "run", "--mem", "256", "--display", "on", "--vnc", f"127.0.0.1:{port}"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        procs.append(p)
        type_when_prompt(p, scroll)
        c = rfb_connect(port)
        time.sleep(2)
        cl.append(count_fps(c))
        c.s.close()
        p.kill()
        p.wait()
        q = qemu_display(50 + i, serial=subprocess.PIPE)
        type_when_prompt(q, scroll)
        c = rfb_connect(5950 + i)
        time.sleep(2)
        qe.append(count_fps(c))
        c.s.close()
        q.kill()
        q.wait()
        print(f"  run {i + 1}: cloison {cl[-1]:.1f} fps, qemu {qe[-1]:.1f} fps", flush=True)
    print(f"VNC updates per second while the guest scrolls: median cloison {median(cl):.1f}, "
          f"qemu {median(qe):.1f}, ratio cloison/qemu = {median(cl) / median(qe):.2f}")


def consoles_memory(daemon, token):
    import websocket
    rootfs = os.path.join(tmp, "ctroot")
    names = [f"con{i}" for i in range(20)]
    for n in names:
        cli("create", "--type", "container", n, "--rootfs", rootfs, "--start", "-q")
    time.sleep(2)
    idle = rss_kib(daemon.pid)
    socks = []
    for n in names:
        ws = websocket.create_connection(f"wss://127.0.0.1:{PORT}/v1/instances/{n}/console",
                                         sslopt={"cert_reqs": ssl.CERT_NONE},
                                         subprotocols=["binary", "cloison.bearer." + token], timeout=10)
        ws.send_binary(b"\r")
        ws.recv_data()
        socks.append(ws)
    time.sleep(1)
    busy = rss_kib(daemon.pid)
    for ws in socks:
        ws.close()
    time.sleep(2)
    # The peer: one websockify (noVNC's proxy; it forks a process per connection) holding 20 connections to
    # a TCP target that answers like a console (a prompt, then silence): what a proxy costs per console.
    target = socket.socket()
    target.bind(("127.0.0.1", 0))
    target.listen(64)
    held = []

    def serve():
        while True:
            try:
                c, _ = target.accept()
            except OSError:
                return
            c.sendall(b"guest# ")
            held.append(c)

    import threading
    threading.Thread(target=serve, daemon=True).start()
    wport = free_port()
    wsk = subprocess.Popen(["websockify", f"127.0.0.1:{wport}", f"127.0.0.1:{target.getsockname()[1]}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(wsk)
    deadline = time.monotonic() + 60
    while subprocess.run(["ss", "-Hltn", f"sport = :{wport}"], capture_output=True, text=True).stdout == "":
        if time.monotonic() > deadline:
            raise SystemExit("websockify did not listen")
        time.sleep(0.2)

    def tree_rss(pid):
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        return rss_kib(pid) + sum(tree_rss(int(k)) for k in kids if os.path.exists(f"/proc/{k}"))

    wsk_idle = tree_rss(wsk.pid)
    socks = []
    for i in range(len(names)):
        ws = websocket.create_connection(f"ws://127.0.0.1:{wport}/", subprotocols=["binary"], timeout=10)
        ws.recv_data()
        socks.append(ws)
    time.sleep(1)
    wsk_busy = tree_rss(wsk.pid)
    for ws in socks:
        ws.close()
    wsk.kill()
    wsk.wait()
    target.close()
    for n in names:
        cli("rm", "--force", n, "-q")
    print(f"memory with 20 open consoles: cloisond {idle / 1024:.1f} MiB idle, {busy / 1024:.1f} MiB with 20 "
          f"(+{(busy - idle) / 20:.0f} KiB each); websockify {wsk_idle / 1024:.1f} MiB idle, "
          f"{wsk_busy / 1024:.1f} MiB with 20 (+{(wsk_busy - wsk_idle) / 20:.0f} KiB each); "
          f"ratio (with 20) cloisond/websockify = {busy / wsk_busy:.2f}")


def unix_rps(path, threads=8, seconds=10):
    """Requests per second on cloisond's unix socket, one connection per request (its server's way)."""
    import threading
    count, stop = [0] * threads, time.monotonic() + seconds

    def worker(k):
        req = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        while time.monotonic() < stop:
            s = socket.socket(socket.AF_UNIX)
            s.connect(SOCK)
            s.sendall(req)
            while s.recv(1 << 20):
                pass
            s.close()
            count[k] += 1

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(count) / (time.monotonic() - t0)


def https_rps(token):
    rootfs = os.path.join(tmp, "ctroot")
    for i in range(100):
        cli("create", "--type", "container", f"idle{i:03d}", "--rootfs", rootfs, "-q")
    wrk = ["wrk", "-t2", "-c8", "-d10s", "--latency"]
    cl = subprocess.run(wrk + ["-H", f"Authorization: Bearer {token}", f"https://127.0.0.1:{PORT}/v1/instances"],
                        capture_output=True, text=True).stdout
    # The peer: nginx, the same bytes as a static file, the same certificate and key.
    body = subprocess.run(["curl", "-sk", "-H", f"Authorization: Bearer {token}",
                           f"https://127.0.0.1:{PORT}/v1/instances"], capture_output=True).stdout
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    with open(os.path.join(www, "instances"), "wb") as f:
        f.write(body)
    nport = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 2; pid {tmp}/nginx.pid; error_log {tmp}/nginx.err;
events {{ worker_connections 256; }}
http {{ access_log off; default_type application/json;
  server {{ listen 127.0.0.1:{nport} ssl; ssl_certificate {tmp}/state/tls/server.crt;
    ssl_certificate_key {tmp}/state/tls/server.key; ssl_protocols TLSv1.2 TLSv1.3; root {www}; }} }}
""")
    ng = subprocess.Popen(["nginx", "-c", conf, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    procs.append(ng)
    time.sleep(1)
    ngx = subprocess.run(wrk + [f"https://127.0.0.1:{nport}/instances"], capture_output=True, text=True).stdout
    ng.terminate()
    ng.wait()
    rate = lambda out: float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # noqa: E731
    p50 = lambda out: re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)  # noqa: E731
    unix = unix_rps("/v1/instances")
    print(f"GET /v1/instances with 100 instances ({len(body)} bytes), HTTPS, wrk 2 threads 8 connections 10 s: "
          f"cloisond {rate(cl):.0f} req/s (p50 {p50(cl)}), nginx static {rate(ngx):.0f} req/s (p50 {p50(ngx)}), "
          f"ratio cloisond/nginx = {rate(cl) / rate(ngx):.2f}; the same handler on the unix socket (8 client "
          f"threads): {unix:.0f} req/s, HTTPS/unix = {rate(cl) / unix:.2f}")
    for i in range(100):
        cli("rm", f"idle{i:03d}", "-q")


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench/web.py: run as root (VMs and containers under cloisond)")
    for tool in ("chromium", "qemu-system-riscv64", "tesseract", "websockify", "wrk", "nginx"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            raise SystemExit(f"bench/web.py: {tool} is missing (scripts/setup.sh installs it)")
    log = open(os.path.join(tmp, "daemon.log"), "w")
    daemon = subprocess.Popen([CLOISOND, "--state-dir", os.path.join(tmp, "state"), "--run-dir",
                               os.path.join(tmp, "run"), "--socket", SOCK, "--listen", f"127.0.0.1:{PORT}"],
                              stdout=log, stderr=log)
    procs.append(daemon)
    while not os.path.exists(SOCK):
        time.sleep(0.05)
    token = cli("token", "create", "bench").stdout.strip()
    print(f"web interface bench: {RUNS} runs each, default guest ({open(G + '/kernel.version').read().strip()})",
          flush=True)
    parts = os.environ.get("PARTS", "screen,fps,memory,rps").split(",")  # a subset when iterating
    if "screen" in parts:
        b = Browser(tmp)
        try:
            b.navigate(f"https://127.0.0.1:{PORT}/")
            b.eval(f"document.querySelector('#token').value = {json.dumps(token)}")
            b.click("#login-submit")
            b.wait("!document.querySelector('#app').classList.contains('hidden')", 20, "signed in")
            start_to_screen(b)
        finally:
            b.close()
    if "fps" in parts:
        vnc_fps()
    if "memory" in parts or "rps" in parts:
        subprocess.run(["bash", os.path.join(ROOT, "tools/guest/mkctroot.sh"), os.path.join(tmp, "ctroot")],
                       check=True, capture_output=True)
    if "memory" in parts:
        consoles_memory(daemon, token)
    if "rps" in parts:
        https_rps(token)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    try:
        main()
    finally:
        cleanup()
