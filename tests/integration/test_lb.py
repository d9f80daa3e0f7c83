#!/usr/bin/env python3
"""test_lb.py — a service load balancer run by cloisond (HAProxy) in front of two containers.

Two busybox containers on a bridge, each serving its own page with httpd; `cloison lb create` with an
HTTP health check every 300 ms. Both pages answer through the balancer; one backend stopped: once the
checks noticed (2 failures), every request goes to the survivor and none fails; back, it serves again.
The balancer survives a daemon restart; bad definitions are refused with clear errors; removing it
closes the port.

Usage: test_lb.py CLOISON_BINARY
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import free_port, http_unix  # noqa: E402
from hosts import wait_for  # noqa: E402

CLOISON = CLOISOND = None
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def get(url, timeout=3):
    """The page's text, or None when the request failed."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode().strip()
    except OSError:
        return None


class LoadBalancerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cloison-lb-", dir="/tmp")
        cls.rootfs = os.path.join(cls.tmp, "rootfs")
        subprocess.run(["bash", os.path.join(ROOT, "tools/guest/mkctroot.sh"), cls.rootfs], check=True,
                       capture_output=True)
        cls.bridge = f"lbbr{os.getpid() % 10000}"
        subprocess.run(["ip", "link", "add", cls.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", "10.78.0.1/24", "dev", cls.bridge], check=True)
        subprocess.run(["ip", "link", "set", cls.bridge, "up"], check=True)
        cls.sock = os.path.join(cls.tmp, "d.sock")
        cls.start_daemon()

    @classmethod
    def start_daemon(cls):
        log = open(os.path.join(cls.tmp, "daemon.log"), "a")
        cls.proc = subprocess.Popen([CLOISOND, "--state-dir", os.path.join(cls.tmp, "state"), "--run-dir",
                                     os.path.join(cls.tmp, "run"), "--socket", cls.sock], stdout=log, stderr=log)
        log.close()
        assert wait_for(lambda: os.path.exists(cls.sock) and cls.api("GET", "/v1")[0] == 200, 10)

    @classmethod
    def api(cls, method, path, body=None):
        try:
            return http_unix(cls.sock, method, path, body)
        except OSError:
            return 0, None

    @classmethod
    def tearDownClass(cls):
        for inst in cls.api("GET", "/v1/instances")[1] or []:
            cls.api("DELETE", f"/v1/instances/{inst['name']}?force=1")
        for lb in cls.api("GET", "/v1/lbs")[1] or []:
            cls.api("DELETE", f"/v1/lbs/{lb['name']}")
        time.sleep(1)  # the daemon stops HAProxy once no balancer is left
        cls.proc.send_signal(signal.SIGTERM)
        cls.proc.wait(timeout=10)
        subprocess.run(["ip", "link", "del", cls.bridge])
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args, check=True):
        r = subprocess.run([CLOISON, *args], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, CLOISON_SOCKET=self.sock))
        if check and r.returncode:
            raise AssertionError(f"cloison {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}\n" +
                                 open(os.path.join(self.tmp, "daemon.log")).read()[-3000:])
        return r

    def web(self, name, ip, page):
        self.cli("create", "--type", "container", name, "--rootfs", self.rootfs, "--overlay", "--net",
                 f"veth,bridge={self.bridge},ip={ip}/24", "--", "/bin/sh", "-c",
                 f"mkdir -p /tmp/www && echo {page} > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www")
        self.cli("start", name)

    def states(self, name):
        return [s["state"] for s in self.api("GET", f"/v1/lbs/{name}")[1]["servers"]]

    def test_balancing_and_failover(self):
        self.web("web1", "10.78.0.2", "one")
        self.web("web2", "10.78.0.3", "two")
        self.assertTrue(wait_for(lambda: get("http://10.78.0.2/") == "one" and get("http://10.78.0.3/") == "two", 20))
        port = free_port()
        url = f"http://10.78.0.1:{port}/"
        self.cli("lb", "create", "web", "--listen", f"10.78.0.1:{port}", "--backend", "web1:80", "--backend",
                 "web2:80", "--check", "http:/index.html", "--interval", "300")
        self.assertEqual(wait_for(lambda: self.states("web") == ["UP", "UP"], 15), True,
                         self.api("GET", "/v1/lbs/web"))
        pages = [get(url) for _ in range(20)]
        self.assertEqual(sorted(set(pages)), ["one", "two"], pages)
        self.assertIn("web1:80=UP", self.cli("lb", "list").stdout)
        # One backend goes: once its checks failed (2 x 300 ms), every request reaches the survivor.
        self.cli("stop", "web2")
        self.assertTrue(wait_for(lambda: self.states("web") == ["UP", "DOWN"], 10), self.states("web"))
        pages = [get(url) for _ in range(30)]
        self.assertEqual(pages, ["one"] * 30)
        # Back: it serves again once 2 checks passed.
        self.cli("start", "web2")
        self.assertTrue(wait_for(lambda: self.states("web") == ["UP", "UP"], 15), self.states("web"))
        self.assertIn("two", [get(url) for _ in range(10)])
        # A daemon restart keeps the balancer (its definition is in the database) and HAProxy serving.
        self.proc.kill()
        self.proc.wait()
        self.assertEqual(get(url) in ("one", "two"), True)
        self.start_daemon()
        self.assertTrue(wait_for(lambda: self.states("web") == ["UP", "UP"], 15))
        self.assertIn(get(url), ("one", "two"))
        # Removed: nothing listens there any more.
        self.cli("lb", "rm", "web")
        self.assertTrue(wait_for(lambda: get(url, timeout=1) is None, 10))
        self.assertEqual(self.api("GET", "/v1/lbs/web")[0], 404)

    def test_bad_definitions(self):
        cases = [
            ({"name": "x", "listen": "nowhere", "backends": ["a:1"]}, "listen"),
            ({"name": "x", "listen": "127.0.0.1:80", "backends": []}, "backends"),
            ({"name": "x", "listen": "127.0.0.1:80", "backends": ["a:99999"]}, "backend"),
            ({"name": "x", "listen": "127.0.0.1:80", "backends": ["a b:80"]}, "backend"),
            ({"name": "x", "listen": "127.0.0.1:80", "backends": ["a:80"], "check": "http:/x y"}, "check"),
            ({"name": "x", "listen": "127.0.0.1:80", "backends": ["a:80"], "interval_ms": 5}, "interval"),
            ({"name": "../x", "listen": "127.0.0.1:80", "backends": ["a:80"]}, "name"),
            ({"name": "x", "listen": "127.0.0.1:80", "backends": ["a:80"], "extra": 1}, "expected"),
        ]
        for body, word in cases:
            st, ans = self.api("POST", "/v1/lbs", body)
            self.assertEqual(st, 400, (body, ans))
            self.assertIn(word, ans["error"], body)
        self.cli("lb", "create", "dup", "--listen", "127.0.0.1:1", "--backend", "10.78.0.9:80")
        st, ans = self.api("POST", "/v1/lbs", {"name": "dup", "listen": "127.0.0.1:2", "backends": ["a:1"]})
        self.assertEqual(st, 409, ans)
        # A backend that cannot be resolved is reported, not fatal.
        self.cli("lb", "create", "vmless", "--listen", "127.0.0.1:3", "--backend", "nosuch:80")
        info = self.api("GET", "/v1/lbs/vmless")[1]
        self.assertEqual(info["servers"][0]["state"], "unresolved")
        self.assertIn("no such instance", info["servers"][0]["problem"])
        self.cli("lb", "rm", "dup")
        self.cli("lb", "rm", "vmless")


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    CLOISOND = os.path.join(os.path.dirname(CLOISON), "cloisond")
    unittest.main(verbosity=2)
