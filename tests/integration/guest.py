"""guest.py — drive `cloison run` through its console, expect-style.

A Guest starts cloison with pipes for stdin/stdout, reads the console in a
background thread, and offers expect() and run() (type a command, wait for
its output and the next prompt). Used by the integration tests.
"""
import os
import re
import socket
import subprocess
import threading
import time

PROMPT = "guest# "


def http_unix(sock, method, path, body=None, raw=None, timeout=30):
    """One HTTP request on a unix socket (a VM's control socket, cloisond's); returns (status, body):
    the body parsed as JSON, its text when it is not JSON, None when empty. raw: bytes sent as they are."""
    import json
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        if raw is None:
            data = json.dumps(body).encode() if body is not None else b""
            raw = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data
        s.sendall(raw)
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
    finally:
        s.close()
    head, _, text = resp.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if not text.strip():
        return status, None
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode(errors="replace")


def wait_for_socket(path, proc, timeout=30):
    """Waits for a VM process to create its socket at path; fails (with the process's stderr when it
    ended and kept it) if the process exits first or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            err = ""
            if proc.poll() is not None and getattr(proc, "stderr", None):
                err = proc.stderr.read().decode(errors="replace")
            raise AssertionError(f"control socket {path} never appeared {err}")
        time.sleep(0.05)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tcp_sink():
    """A listener on 127.0.0.1 that accepts one connection and reads it to the end in a thread.
    Returns the listening socket (its port: getsockname()[1])."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def drain():
        c, _ = srv.accept()
        while c.recv(1 << 20):
            pass
        c.close()

    threading.Thread(target=drain, daemon=True).start()
    return srv


def guest_dir():
    cache = os.environ.get("CLOISON_CACHE") or os.path.expanduser("~/.cache/cloison")
    return os.path.join(cache, "guest")


class Guest:
    def __init__(self, cloison, args=(), timeout=180, argv=None, env=None):
        """Runs `cloison run ARGS`, or any console-on-stdio VMM given as argv (benchmarks)."""
        self.timeout = timeout
        self.proc = subprocess.Popen(
            argv or [cloison, "run", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.buf = b""
        self.arrivals = []  # (monotonic time, len(buf) after the read): when each byte arrived
        self.pos = 0
        self.lock = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            data = self.proc.stdout.read1(65536)
            with self.lock:
                if not data:
                    self.eof = True
                    self.lock.notify_all()
                    return
                self.buf += data
                self.arrivals.append((time.monotonic(), len(self.buf)))
                self.lock.notify_all()

    @property
    def output(self):
        return self.buf.decode("utf-8", "replace")

    def expect(self, pattern, timeout=None):
        """Waits for a regex after the last match; returns the match."""
        deadline = time.monotonic() + (timeout or self.timeout)
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        with self.lock:
            while True:
                m = rx.search(self.buf, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or getattr(self, "eof", False):
                    tail = self.buf[-2000:].decode("utf-8", "replace")
                    why = "timed out" if left <= 0 else self._exit_report()
                    raise AssertionError(f"{why} waiting for {pattern!r}; console tail:\n{tail}")
                self.lock.wait(min(left, 0.5))

    def arrival(self, offset):
        """The monotonic time at which byte `offset` of the output arrived."""
        with self.lock:
            for t, end in self.arrivals:
                if end > offset:
                    return t
        return None

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def press_enter_until(self, pattern, tries=30):
        """Presses Enter every 2 s until `pattern` arrives (a console attached late, or one whose
        shell starts at the first Enter), then lets the answers to the extra presses pass."""
        for _ in range(tries):
            self.send("\n")
            try:
                m = self.expect(pattern, timeout=2)
                break
            except AssertionError:
                pass
        else:
            raise AssertionError(f"no {pattern!r} after {tries} presses of Enter:\n{self.output[-2000:]}")
        time.sleep(1)
        with self.lock:
            self.pos = len(self.buf)
        return m

    def run(self, command, timeout=None):
        """Types a command, returns its output.

        The output is bracketed by markers typed as "@@S""n" but printed as "@@Sn": the
        terminal's echo of the command line (which line editing may redraw) never matches.
        """
        n = time.monotonic_ns()
        self.send(f'echo "@@S""{n}"; {command}; echo "@@E""{n}"\n')
        m = self.expect(rf"(?s)@@S{n}\r?\n(.*?)@@E{n}\r?\n", timeout)
        return m.group(1).decode("utf-8", "replace").replace("\r", "").rstrip("\n")

    def _exit_report(self):
        """The console ended: how the process ended and the end of its stderr."""
        try:
            code = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            return "console closed, process still running,"
        err = self.proc.stderr.read().decode("utf-8", "replace")[-2000:]
        return f"process exited with status {code} (stderr: {err!r})"

    def wait_exit(self, timeout=None):
        try:
            return self.proc.wait(timeout or self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # never leave a hung VM behind (reading its stderr would block)
            self.proc.wait()
            raise
        finally:
            self.stderr = self.proc.stderr.read().decode("utf-8", "replace")
            self.proc.stderr.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass
