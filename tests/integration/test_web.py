#!/usr/bin/python3
"""test_web.py — cloisond's remote listener (--listen) and its web interface.

Security, over real HTTPS to a daemon on a loopback port:
- Every route of the API answers 401 without a token and with a wrong one: the routes are read from
  docs/api.md's table and from the action table in src/daemon/api.c (each action must be documented),
  placeholders filled in; so are unknown paths and WebSocket upgrades. A valid token opens them.
- TLS only: plain HTTP on the port gets no HTTP answer; the certificate served is the one the daemon
  made at first start (its SHA-256 fingerprint as the daemon logged it), its key file private.
- Tokens: stored only as SHA-256 hashes (the database holds no token), listed by name, revoked at once
  (the next request is 401); the remote side cannot manage them (403).
- Failed authentications are logged and limited per client address: the 11th within a minute is 429,
  even with a valid token, while another address is served.

Consoles and the browser, with the default Debian guest (a VM with a display):
- WebSockets: the serial console answers a command typed over wss://; no token, no upgrade (401).
- Headless Chromium (Debian's, through its DevTools protocol): an unauthenticated browser gets the
  login page and no data; after signing in with a token it lists the instance, starts it, types a
  command into the xterm.js serial console and sees its output, opens the noVNC screen and sees the
  guest's text there (OCR of the canvas), stops it; screenshots are kept as test artifacts.

Usage: test_web.py CLOISON_BINARY
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import free_port, guest_dir  # noqa: E402

CLOISON = CLOISOND = ARTIFACTS = None
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WRONG = "cloison_" + "0" * 64


def read(path):
    with open(path) as f:
        return f.read()


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed: the test checks its fingerprint instead
    return ctx


def documented_routes():
    """(method, path template) pairs from docs/api.md's cloisond table and src/daemon/api.c's actions."""
    routes = set()
    with open(os.path.join(ROOT, "docs/api.md")) as f:
        for line in f:
            if not line.startswith("| `"):
                continue
            pending, last, base = [], None, None
            for item in re.findall(r"`([^`]+)`", line.split("|")[1]):
                m = re.match(r"^(?:(GET|POST|PATCH|PUT|DELETE)\s*)?(/\S*)?$", item.strip())
                if not m or not any(m.groups()):
                    continue
                method, path = m.groups()
                if method:
                    pending.append(method)  # "`GET`, `POST /v1/x`": both methods apply to the path
                if path is None:
                    continue
                path = re.sub(r"\[.*?\]", "", path).split("?")[0]
                if not (path.startswith("/v1") or path == "/metrics"):
                    if base is None:
                        continue  # the VM control socket's table
                    path = base.rsplit("/", 1)[0] + path  # "`/stop`" after "`POST .../start`"
                for method in pending or [last]:
                    routes.add((method, path))
                last, base, pending = (pending or [last])[-1], path, []
    return routes


def action_routes():
    """The instance actions src/daemon/api.c routes: (method, path template)."""
    with open(os.path.join(ROOT, "src/daemon/api.c")) as f:
        code = f.read()
    return {(meth, f"/v1/instances/NAME/{name}" + ("/SNAP" if sub == "true" else ""))
            for name, meth, sub in re.findall(r'\{"(\w+)", "(GET|POST|PATCH|DELETE)", (true|false), act_\w+\}', code)}


def concrete(path):
    for k, v in (("NAME", "probe"), ("POOL", "default"), ("VOLUME", "v.qcow2"), ("SNAP", "s1"), ("ID", "1")):
        path = path.replace(k, v)
    return path


class Web(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cloison-web-", dir="/tmp")
        cls.state = os.path.join(cls.tmp, "state")
        cls.sock = os.path.join(cls.tmp, "d.sock")
        cls.port = free_port()
        cls.log_path = os.path.join(cls.tmp, "daemon.log")
        cls.log = open(cls.log_path, "w")
        cls.proc = subprocess.Popen([CLOISOND, "--state-dir", cls.state, "--run-dir", os.path.join(cls.tmp, "run"),
                                     "--socket", cls.sock, "--listen", f"127.0.0.1:{cls.port}"],
                                    stdout=cls.log, stderr=cls.log)
        deadline = time.monotonic() + 30
        while "serving the API" not in read(cls.log_path):
            if cls.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("cloisond did not start: " + read(cls.log_path))
            time.sleep(0.05)
        cls.token = cls.cli("token", "create", "admin").stdout.strip()
        cls.source = 1  # a new loopback source address for every batch of wrong tokens (the limit is per address)

    @classmethod
    def tearDownClass(cls):
        cls.cli("rm", "--force", "webvm", check=False)
        t0 = time.monotonic()
        cls.proc.terminate()  # a console left open by test_websocket_console: the daemon ends it
        cls.proc.wait(timeout=30)
        if getattr(cls, "held", None):
            assert time.monotonic() - t0 < 10, "cloisond took long to stop with a WebSocket open"
            cls.held.close()
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def cli(cls, *args, check=True, timeout=120):
        env = dict(os.environ, CLOISON_SOCKET=cls.sock)
        r = subprocess.run([CLOISON, *args], capture_output=True, text=True, timeout=timeout, env=env)
        if check and r.returncode != 0:
            raise AssertionError(f"cloison {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def https(self, method, path, token=None, body=None, source="127.0.0.1", headers=None):
        """One request; (status, headers, body parsed as JSON when it is)."""
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=tls_context(), timeout=60,
                                        source_address=(source, 0))
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed

    def fresh_source(self):
        Web.source += 1
        return f"127.0.{Web.source // 250 + 10}.{Web.source % 250 + 1}"

    def test_every_route_refuses_without_a_valid_token(self):
        routes, actions = documented_routes(), action_routes()
        self.assertGreater(len(routes), 50, sorted(routes))  # the table was read, not skipped
        self.assertGreater(len(actions), 20, sorted(actions))
        self.assertEqual(actions - routes, set(), "routed in api.c, missing from docs/api.md")
        routes |= actions
        for action in ("start", "console", "vnc", "screenshot", "snapshots/SNAP"):
            self.assertTrue(any(p.endswith("/NAME/" + action) for _, p in routes), action)
        probes = sorted((m, concrete(p)) for m, p in routes)
        probes += [("GET", "/v2/nothing"), ("DELETE", "/v1/instances"), ("GET", "/v1/tokens")]
        src = self.fresh_source()
        for i, (method, path) in enumerate(probes):
            body = {} if method in ("POST", "PATCH", "PUT") else None
            status, headers, answer = self.https(method, path, body=body)
            self.assertEqual(status, 401, f"{method} {path} without a token: {answer}")
            self.assertEqual(answer["code"], "unauthorized", f"{method} {path}")
            self.assertIn("Bearer", headers.get("www-authenticate", ""), f"{method} {path}")
            if i % 8 == 7:
                src = self.fresh_source()  # below the per-address limit on failures
            status, _, answer = self.https(method, path, token=WRONG, body=body, source=src)
            self.assertEqual(status, 401, f"{method} {path} with a wrong token: {answer}")
        # Other ways to present nothing valid.
        for auth in ("Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer " + self.token[:-1], "bearer  " + WRONG):
            status, _, _ = self.https("GET", "/v1/instances", headers={"Authorization": auth},
                                      source=self.fresh_source())
            self.assertEqual(status, 401, auth)
        # WebSocket upgrades need the same.
        for path in ("/v1/instances/probe/console", "/v1/instances/probe/vnc"):
            for proto in (None, "binary, cloison.bearer." + WRONG):
                headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
                if proto:
                    headers["Sec-WebSocket-Protocol"] = proto
                status, _, _ = self.https("GET", path, headers=headers, source=self.fresh_source())
                self.assertEqual(status, 401, (path, proto))
        # The same requests with the token are served (what they answer is the API's business).
        self.assertEqual(self.https("GET", "/v1", token=self.token)[0], 200)
        self.assertEqual(self.https("GET", "/v1/instances", token=self.token)[0], 200)
        self.assertEqual(self.https("GET", "/v1/instances/probe", token=self.token)[0], 404)
        status, _, text = self.https("GET", "/metrics", token=self.token)
        self.assertEqual(status, 200)
        self.assertIn(b"cloisond_api_requests_total", text)
        # The web interface's files need none (they hold no data); its page carries a strict policy.
        status, headers, page = self.https("GET", "/ui/")
        self.assertEqual(status, 200)
        self.assertIn(b'id="login"', page)
        self.assertIn("default-src 'self'", headers["content-security-policy"])
        self.assertEqual(self.https("GET", "/")[0], 302)
        for bad in ("/ui/%2e%2e/%2e%2e/etc/passwd", "/ui/.hidden", "/ui/vendor/novnc/../../../etc/passwd"):
            self.assertEqual(self.https("GET", bad)[0], 404, bad)

    def test_tls_only_and_the_certificate(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(b"GET /v1 HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        self.assertFalse(answer.startswith(b"HTTP/"), answer[:80])
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with tls_context().wrap_socket(raw) as t:
                der = t.getpeercert(binary_form=True)
                self.assertIn(t.version(), ("TLSv1.2", "TLSv1.3"))
        fp = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        self.assertIn(f"certificate SHA-256 {fp}", read(self.log_path))
        key = os.path.join(self.state, "tls", "server.key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        with open(os.path.join(self.state, "tls", "server.crt"), "rb") as f:
            self.assertEqual(ssl.PEM_cert_to_DER_cert(f.read().decode()), der)

    def test_tokens_hashed_listed_revoked(self):
        t2 = self.cli("token", "create", "ci-bot").stdout.strip()
        self.assertRegex(t2, r"^cloison_[0-9a-f]{64}$")
        self.assertEqual(self.https("GET", "/v1", token=t2)[0], 200)
        listed = json.loads(self.cli("token", "list", "--format", "json").stdout)
        self.assertEqual(sorted(t["name"] for t in listed), ["admin", "ci-bot"])
        self.assertNotIn(t2, json.dumps(listed))
        db = sqlite3.connect(os.path.join(self.state, "cloisond.db"))
        rows = dict(db.execute("SELECT name, hash FROM tokens").fetchall())
        db.close()
        self.assertEqual(rows["ci-bot"], hashlib.sha256(t2.encode()).hexdigest())
        with open(os.path.join(self.state, "cloisond.db"), "rb") as f:
            self.assertNotIn(t2.encode(), f.read())
        # Managed on the host only.
        status, _, answer = self.https("POST", "/v1/tokens", token=t2, body={"name": "more"})
        self.assertEqual(status, 403, answer)
        self.assertEqual(self.https("DELETE", "/v1/tokens/admin", token=t2)[0], 403)
        self.assertEqual(self.cli("token", "create", "bad name", check=False).returncode, 1)
        self.assertEqual(self.cli("token", "create", "ci-bot", check=False).returncode, 1)  # taken
        r = self.cli("token", "rm", "ci-bot")
        self.assertIn("revoked token ci-bot", r.stdout)
        self.assertEqual(self.https("GET", "/v1", token=t2)[0], 401)
        self.assertEqual(self.cli("token", "rm", "ci-bot", check=False).returncode, 1)
        self.assertEqual(self.https("GET", "/v1", token=self.token)[0], 200)

    def test_failed_authentications_limited_and_logged(self):
        src = self.fresh_source()
        for i in range(10):
            self.assertEqual(self.https("GET", "/v1", token=WRONG, source=src)[0], 401, i)
        status, headers, answer = self.https("GET", "/v1", token=WRONG, source=src)
        self.assertEqual(status, 429, answer)
        self.assertEqual(answer["code"], "rate-limited")
        self.assertIn("retry-after", headers)
        self.assertEqual(self.https("GET", "/v1", token=self.token, source=src)[0], 429)  # even a good one
        self.assertEqual(self.https("GET", "/v1", token=self.token, source=self.fresh_source())[0], 200)
        log = read(self.log_path)
        self.assertIn(f"GET /v1 from {src}: invalid token (10 in the last minute)", log)
        self.assertIn(f"10 failed authentications from {src} within a minute", log)

    def test_consoles_and_browser(self):
        if not os.path.exists(os.path.join(guest_dir(), "Image")):
            self.skipTest("no default guest (make guest)")
        import websocket  # python3-websocket
        from browser import Browser
        self.cli("create", "webvm", "--memory", "256M", "--display", "on")
        base = f"https://127.0.0.1:{self.port}"
        b = Browser(self.tmp)
        self.addCleanup(b.close)
        shots = os.path.join(ARTIFACTS, "web")
        os.makedirs(shots, exist_ok=True)

        # Without a token: the login page, and nothing from the API.
        b.navigate(base + "/")
        self.assertEqual(b.eval("location.pathname"), "/ui/")
        b.wait("!document.querySelector('#login').classList.contains('hidden')", 10, "the login form")
        self.assertTrue(b.eval("document.querySelector('#app').classList.contains('hidden')"))
        self.assertNotIn("webvm", b.eval("document.body.innerText"))
        self.assertEqual(b.eval("fetch('/v1/instances').then(r => r.status)"), 401)
        b.screenshot(os.path.join(shots, "1-login.png"))
        b.eval("document.querySelector('#token').value = 'cloison_wrong'")
        b.click("#login-submit")
        b.wait("document.querySelector('#login-error').textContent.includes('not valid')", 10, "a refusal")

        # Signed in: the list, then start.
        b.eval(f"document.querySelector('#token').value = {json.dumps(self.token)}")
        b.click("#login-submit")
        row = "#instances tbody tr[data-name=\"webvm\"]"
        b.wait(f"document.querySelector('{row} .state')?.textContent === 'stopped'", 20, "webvm stopped")
        b.screenshot(os.path.join(shots, "2-list.png"))
        b.click(f"{row} .act-start")
        b.wait(f"document.querySelector('{row} .state')?.textContent === 'running'", 60, "webvm running")

        # The serial console (xterm.js over a WebSocket).
        b.wait(f"document.querySelector('{row} .act-console')", 10)
        b.click(f"{row} .act-console")
        b.wait("document.querySelector('#terminal .xterm-rows')", 20, "the terminal")
        screen_text = "document.querySelector('#terminal .xterm-rows').innerText"
        b.eval("document.querySelector('#terminal textarea').focus()")
        deadline = time.monotonic() + 180
        while "guest#" not in b.eval(screen_text):  # booting: Enter brings a prompt once the shell runs
            self.assertLess(time.monotonic(), deadline, b.eval(screen_text))
            b.type("\r")
            time.sleep(1)
        b.type("echo web-$((6*7))\r")
        b.wait(f"{screen_text}.includes('web-42')", 30, "the command's output")
        b.type("echo 0 > /sys/class/graphics/fbcon/cursor_blink; clear > /dev/tty1; "
               "echo SCREEN FROM THE WEB 31415 > /dev/tty1\r")
        b.screenshot(os.path.join(shots, "3-console.png"))

        # A second client of the same console (a plain WebSocket) is told it is in use by the browser.
        ws = websocket.create_connection(f"wss://127.0.0.1:{self.port}/v1/instances/webvm/console",
                                         sslopt={"cert_reqs": ssl.CERT_NONE},
                                         subprotocols=["binary", "cloison.bearer." + self.token], timeout=10)
        told = b""
        try:
            while b"in use" not in told:
                told += ws.recv_data()[1]
        except (websocket.WebSocketException, OSError):
            pass
        ws.close()
        self.assertIn(b"in use by another client", told)

        # The screen (noVNC over a WebSocket): the text written to tty1, read back from the canvas.
        b.click(f"{row} .act-screen")
        b.wait("document.querySelector('#screen-state').textContent === 'connected'", 30, "noVNC connected")
        b.eval("document.querySelector('#screen-panel').scrollIntoView()")
        text = ""
        for _ in range(20):
            time.sleep(1)
            shot = b.screenshot(os.path.join(shots, "4-screen.png"), "#screen canvas")
            text = subprocess.run(["tesseract", shot, "-"], capture_output=True, text=True, timeout=120).stdout
            if "31415" in text:
                break
        self.assertRegex(text, r"SCREEN\s+FROM\s+THE\s+WEB\s+31415", text)
        lit = b.eval("(() => { const c = document.querySelector('#screen canvas');"
                     " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
                     " for (let i = 0; i < d.length; i += 4) if (d[i] | d[i + 1] | d[i + 2]) n++; return n; })()")
        self.assertGreater(lit, 200)  # text on black: the OCR above says which

        # A snapshot from the instance's page (an operation, followed to its end), then the graphs.
        b.click(f"{row} td.name")
        b.wait("!document.querySelector('#detail').classList.contains('hidden')", 10, "the detail panel")
        b.eval("document.querySelector('#snapshot-name').value = 'web-snap'")
        b.click("#snapshot-take")
        b.wait("[...document.querySelectorAll('#snapshots li')].some(li => li.textContent.startsWith('web-snap'))",
               60, "the snapshot in the list")
        self.assertEqual([s["name"] for s in self.https("GET", "/v1/instances/webvm/snapshots",
                                                         token=self.token)[2]], ["web-snap"])
        b.wait("document.querySelector('#message').textContent === 'snapshot webvm: done'", 10)
        # Creating and deleting from the page.
        b.eval("document.querySelector('#create-name').value = 'formvm'; "
               "document.querySelector('#create-memory').value = '128M'")
        b.eval("document.querySelector('#create-form').requestSubmit()")
        formrow = "#instances tbody tr[data-name=\"formvm\"]"
        b.wait(f"document.querySelector('{formrow} .state')?.textContent === 'stopped'", 20, "formvm listed")
        self.assertEqual(self.https("GET", "/v1/instances/formvm", token=self.token)[2]["vm"]["memory"],
                         128 << 20)
        b.eval("window.confirm = () => true")  # the page asks before deleting
        b.click(f"{formrow} .act-delete")
        b.wait(f"!document.querySelector('{formrow}')", 20, "formvm gone")
        self.assertEqual(self.https("GET", "/v1/instances/formvm", token=self.token)[0], 404)

        # Stop from the page: the console says it closed, the list says stopped.
        b.click("#screen-close")
        b.click(f"{row} .act-stop")
        b.wait(f"document.querySelector('{row} .state')?.textContent === 'stopped'", 90, "webvm stopped")
        b.wait(f"{screen_text}.includes('[console closed]')", 10, "the console to close")
        b.screenshot(os.path.join(shots, "5-stopped.png"))
        # Signing out forgets the token: the page asks again and holds no data.
        b.click("#logout")
        b.wait("!document.querySelector('#login').classList.contains('hidden')", 10)
        self.assertIsNone(b.eval("sessionStorage.getItem('cloison-token')"))
        b.navigate(base + "/ui/")
        b.wait("!document.querySelector('#login').classList.contains('hidden')", 10)
        self.assertNotIn("webvm", b.eval("document.body.innerText"))

    def test_websocket_console(self):
        """A console over wss:// outside the browser: the token as a subprotocol, or the header."""
        if not os.path.exists(os.path.join(guest_dir(), "Image")):
            self.skipTest("no default guest (make guest)")
        import websocket
        self.cli("create", "wsvm", "--memory", "192M")
        self.addCleanup(self.cli, "rm", "--force", "wsvm", check=False)
        self.cli("start", "wsvm")
        url = f"wss://127.0.0.1:{self.port}/v1/instances/wsvm/console"
        ctx = {"cert_reqs": ssl.CERT_NONE}
        for proto in (None, ["binary", "cloison.bearer." + WRONG]):
            with self.assertRaises(websocket.WebSocketBadStatusException) as e:
                websocket.create_connection(url, sslopt=ctx, subprotocols=proto, timeout=10,
                                            source_address=(self.fresh_source(), 0))
            self.assertEqual(e.exception.status_code, 401)
        ws = websocket.create_connection(url, sslopt=ctx, subprotocols=["binary", "cloison.bearer." + self.token],
                                         timeout=2)
        self.assertEqual(ws.subprotocol, "binary")
        out, deadline = b"", time.monotonic() + 180
        while b"ws-42" not in out.split(b"echo ws-")[-1] or b"echo ws-" not in out:
            self.assertLess(time.monotonic(), deadline, out[-500:])
            try:
                out += ws.recv_data()[1]
            except websocket.WebSocketTimeoutException:
                ws.send_binary(b"echo ws-$((6*7))\r" if b"guest# " in out else b"\r")
        # The browser goes away without a close frame (a killed tab): the console is free again within
        # seconds (the daemon's next ping finds it gone); the next client, with the token in the
        # Authorization header, gets a prompt.
        ws.sock.shutdown(socket.SHUT_RDWR)
        ws.sock.close()
        got, deadline = b"", time.monotonic() + 25
        while b"guest# " not in got and time.monotonic() < deadline:
            ws = websocket.create_connection(url, sslopt=ctx, header=["Authorization: Bearer " + self.token],
                                             timeout=2)
            got = b""
            try:
                ws.send_binary(b"\r")
                while b"guest# " not in got and b"in use" not in got:
                    got += ws.recv_data()[1]
            except (websocket.WebSocketException, OSError):
                pass
            ws.close()
            time.sleep(0.2)
        self.assertIn(b"guest# ", got)
        # One left open: stopping the daemon (tearDownClass) must not wait for it.
        Web.held = websocket.create_connection(url, sslopt=ctx, header=["Authorization: Bearer " + self.token],
                                               timeout=2)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    CLOISON = os.path.abspath(sys.argv.pop(1))
    CLOISOND = os.path.join(os.path.dirname(CLOISON), "cloisond")
    ARTIFACTS = os.path.join(os.path.dirname(CLOISON), "meson-logs", "artifacts")
    if os.geteuid() != 0:
        print("SKIP: the daemon's VMs need root")
        sys.exit(77)
    unittest.main(verbosity=2)
