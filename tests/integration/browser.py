"""browser.py — headless Chromium (Debian's `chromium`) driven through its DevTools protocol, for the
web interface's tests and bench/web.sh.

Chromium starts with its own profile directory and a DevTools port it picks (read back from
DevToolsActivePort); the page is driven over that WebSocket with Debian's python3-websocket: navigate,
evaluate JavaScript (promises awaited), dispatch real key events, capture screenshots. Run with
/usr/bin/python3 (Debian's modules).
"""
import base64
import json
import os
import subprocess
import tempfile
import time
import urllib.request

import websocket  # python3-websocket


def read(path):
    with open(path) as f:
        return f.read()


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, workdir, width=1400, height=1100):
        self.dir = tempfile.mkdtemp(prefix="chromium-", dir=workdir)
        self.log = open(os.path.join(self.dir, "chromium.log"), "w")
        # --ignore-certificate-errors: the daemon's certificate is self-signed, made by the test itself.
        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             # The machine's network is closed: no background connections, updates or sync attempts.
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-quic",
             "--ignore-certificate-errors", f"--user-data-dir={self.dir}/profile",
             "--remote-debugging-port=0", "--remote-allow-origins=*", f"--window-size={width},{height}",
             "about:blank"],
            stdout=self.log, stderr=self.log, start_new_session=True)
        port_file = os.path.join(self.dir, "profile", "DevToolsActivePort")
        deadline = time.monotonic() + 60
        while not (os.path.exists(port_file) and read(port_file).count("\n") >= 1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise BrowserError("chromium did not start: " + read(self.log.name)[-2000:])
            time.sleep(0.1)
        port = int(read(port_file).split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=120, suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)
            del self.events[:-500]

    def eval(self, expression):
        """The value of a JavaScript expression (a promise is awaited); its exception raised."""
        r = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise BrowserError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expression, timeout=30, what=None):
        """Polls until the expression is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()")
            if v:
                return v
            if time.monotonic() > deadline:
                raise BrowserError(f"waited {timeout} s for {what or expression}")
            time.sleep(0.2)

    def navigate(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && location.href !== 'about:blank'", 60, "the page to load")

    def click(self, selector):
        self.eval(f"document.querySelector({json.dumps(selector)}).click()")

    def type(self, text):
        """Real key events on the focused element, as a keyboard would send them ('\\r': Enter)."""
        for ch in text:
            if ch in "\r\n":
                for kind in ("rawKeyDown", "char", "keyUp"):
                    self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                              windowsVirtualKeyCode=13, nativeVirtualKeyCode=13,
                              **({"text": "\r"} if kind == "char" else {}))
            else:
                self.call("Input.dispatchKeyEvent", type="char", text=ch, key=ch)

    def screenshot(self, path, clip_selector=None, scale=1):
        params = {"format": "png"}
        if clip_selector:
            r = self.eval(f"(() => {{ const r = document.querySelector({json.dumps(clip_selector)})"
                          ".getBoundingClientRect(); return [r.x + scrollX, r.y + scrollY, r.width, r.height]; })()")
            params["clip"] = {"x": r[0], "y": r[1], "width": r[2], "height": r[3], "scale": scale}  # page coordinates
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", **params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, 15)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, 9)
                    self.proc.wait()
            self.log.close()
