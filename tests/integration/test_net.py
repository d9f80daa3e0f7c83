#!/usr/bin/env python3
"""test_net.py — virtual networks end to end with the default guest.

- NAT (libslirp): the guest gets 10.0.2.15 by DHCP, reaches a TCP server on the
  host's loopback through the gateway, and the host reaches the guest's busybox
  httpd through a port forward; a taken forward port is a clear error.
- Rate limits: a 10 Mbit/s cap: toward the guest within 10%, from the guest
  never above 11 and not below 6 (measured by the guest's clnet over 6 MiB).
- LAN segments: two VMs on LAN-1 ping each other and exchange a file; a third
  on LAN-2 (same IP subnet) reaches neither, and its capture holds none of
  their frames while LAN-1's capture holds both.
- Host-only: a `cloison net create --type host-only` bridge inside a network
  namespace the test makes; host and guest ping each other over the TAP.

Usage: test_net.py CLOISON_BINARY
"""
import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import Guest, free_port, tcp_sink  # noqa: E402

CLOISON = None
APPEND = "console=ttyS0 quiet"



def pcap_sources(path):
    """The source MAC addresses of the frames in a pcap file, with counts."""
    data = open(path, "rb").read()
    magic, = struct.unpack("<I", data[:4])
    assert magic == 0xA1B2C3D4, "not a pcap file"
    off, seen = 24, {}
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        src = frame[6:12].hex(":")
        seen[src] = seen.get(src, 0) + 1
    return seen


class Nat(unittest.TestCase):
    def tearDown(self):
        if getattr(self, "g", None):
            self.g.kill()

    def test_dhcp_outbound_and_port_forward(self):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        got = {}

        def serve():
            c, _ = srv.accept()
            got["data"] = c.recv(100)
            c.sendall(b"pong:" + got["data"])
            c.close()

        threading.Thread(target=serve, daemon=True).start()
        port = free_port()
        self.g = g = Guest(CLOISON, ["--net", f"user,hostfwd=tcp:127.0.0.1:{port}-:80"], timeout=120)
        g.expect(r"eth0 10\.0\.2\.15/24")
        g.expect("guest# ")
        self.assertIn("default via 10.0.2.2", g.run("ip route"))
        self.assertIn("nameserver 10.0.2.3", g.run("cat /etc/resolv.conf"))
        # Guest -> host through the gateway address.
        self.assertEqual(g.run(f"echo hello | nc 10.0.2.2 {srv.getsockname()[1]}").strip(), "pong:hello")
        self.assertEqual(got["data"], b"hello\n")
        # Host -> guest through the forward.
        g.run("mkdir -p /www && echo served-by-guest > /www/index.html && httpd -h /www -p 80")
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=30).read()
        self.assertEqual(body, b"served-by-guest\n")
        self.assertIn(" 0% packet loss", g.run("ping -c 2 10.0.2.2"))
        # The forward's port is taken now: a second VM asking for it fails at once, clearly.
        r = subprocess.run([CLOISON, "run", "--net", f"user,hostfwd=tcp:127.0.0.1:{port}-:80"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"hostfwd: cannot listen on tcp 127.0.0.1:{port}", r.stderr)
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(60), 0, g.stderr)

    def test_rate_limit_10mbit(self):
        srv = tcp_sink()
        port = free_port()
        self.g = g = Guest(CLOISON, ["--net", f"user,hostfwd=tcp:127.0.0.1:{port}-:5001,rx_bw=10M,tx_bw=10M"],
                           timeout=120)
        g.expect("guest# ")
        out = g.run(f"clnet send 10.0.2.2 {srv.getsockname()[1]} 6", timeout=120)
        tx = float(re.search(r"\(([\d.]+) Mbit/s\)", out).group(1))
        g.send("clnet recv 5001\n")
        for _ in range(50):  # the guest's listener comes up
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"\0" * (6 << 20))
                s.shutdown(socket.SHUT_WR)
                break
            except OSError:
                s.close()
                threading.Event().wait(0.2)
        m = g.expect(r"clnet: (\d+) bytes in [\d.]+ s \(([\d.]+) Mbit/s\)", 120)
        s.close()
        self.assertEqual(int(m.group(1)), 6 << 20)
        rx = float(m.group(2))
        print(f"rate limit 10 Mbit/s: guest->host {tx} Mbit/s, host->guest {rx} Mbit/s", file=sys.stderr)
        # The cap is a ceiling in both directions. Toward the guest it is also met (slirp's TCP keeps
        # the queue full); from the guest, Linux TCP sometimes idles for one RTO (docs/networking.md).
        self.assertTrue(6.0 <= tx <= 11.0, f"tx {tx} Mbit/s outside 6..11")
        # The floor is looser than the ceiling: a busy 2-core CI host once measured 8.5 (usually 9.8).
        self.assertTrue(8.0 <= rx <= 11.0, f"rx {rx} Mbit/s outside 8..11")
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(60), 0, g.stderr)


class Segments(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cloison-net-")
        self.env = dict(os.environ, CLOISON_RUN_DIR=os.path.join(self.dir, "run"))
        self.guests = []

    def tearDown(self):
        for g in self.guests:
            g.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def vm(self, segment, mac, ip, pcap):
        args = [CLOISON, "run", "--net", f"segment={segment},mac={mac},pcap={os.path.join(self.dir, pcap)}",
                "--append", f"{APPEND} cloison_ip={ip}/24"]
        g = Guest(None, argv=args, timeout=180, env=self.env)
        self.guests.append(g)
        return g

    def test_two_segments_are_isolated(self):
        a = self.vm("LAN-1", "52:54:00:00:01:01", "10.9.0.1", "a.pcap")
        b = self.vm("LAN-1", "52:54:00:00:02:02", "10.9.0.2", "b.pcap")
        c = self.vm("LAN-2", "52:54:00:00:03:03", "10.9.0.3", "c.pcap")
        for g in (a, b, c):
            g.expect("guest# ")
        self.assertIn(" 0% packet loss", a.run("ping -c 3 10.9.0.2", timeout=60))
        want = a.run("dd if=/dev/urandom of=/tmp/f bs=1k count=512 2>/dev/null; sha256sum < /tmp/f").split()[0]
        a.run("mkdir -p /www && cp /tmp/f /www/f && httpd -h /www -p 80")
        got = b.run("wget -q -O /tmp/g http://10.9.0.1/f && sha256sum < /tmp/g", timeout=120).split()[0]
        self.assertEqual(got, want)
        # LAN-2 shares the IP subnet but not the wire.
        self.assertIn("100% packet loss", c.run("ping -c 2 -W 1 10.9.0.1", timeout=60))
        self.assertIn("100% packet loss", c.run("ping -c 2 -W 1 10.9.0.2", timeout=60))
        self.assertIn("100% packet loss", a.run("ping -c 2 -W 1 10.9.0.3", timeout=60))
        for g in (a, b, c):
            g.send("poweroff -f\n")
            self.assertEqual(g.wait_exit(60), 0, g.stderr)
        seen_a = pcap_sources(os.path.join(self.dir, "a.pcap"))
        seen_b = pcap_sources(os.path.join(self.dir, "b.pcap"))
        seen_c = pcap_sources(os.path.join(self.dir, "c.pcap"))
        self.assertGreater(seen_b.get("52:54:00:00:01:01", 0), 300)  # A's frames reached B (the file)
        self.assertGreater(seen_a.get("52:54:00:00:02:02", 0), 10)  # and B's reached A
        self.assertGreater(seen_c.get("52:54:00:00:03:03", 0), 0)  # C's capture works: its own ARPs
        self.assertEqual(set(seen_c), {"52:54:00:00:03:03"}, f"LAN-2 saw foreign frames: {seen_c}")
        self.assertNotIn("52:54:00:00:03:03", seen_a)
        # The last VM out removes the segment's directory.
        self.assertFalse(os.path.exists(os.path.join(self.dir, "run", "segments", "LAN-1")))

    def test_bad_specs(self):
        for spec, msg in (("segment=../x", "segment=NAME"), ("user,hostfwd=tcp::x-:80", "hostfwd="),
                          ("user,rx_bw=fast", "rx_bw="), ("user,mac=01:00:00:00:00:01", "mac="),
                          ("nosuchnet", "no network named"), ("user,color=blue", "unknown option")):
            r = subprocess.run([CLOISON, "run", "--net", spec], capture_output=True, text=True, timeout=30,
                               env=dict(self.env, CLOISON_STATE_DIR=self.dir))
            self.assertEqual(r.returncode, 2, spec)
            self.assertIn(msg, r.stderr, spec)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip"), "needs root and iproute2 (network namespaces)")
class HostOnly(unittest.TestCase):
    def setUp(self):
        self.ns = f"cloison-test-{os.getpid()}"
        self.dir = tempfile.mkdtemp(prefix="cloison-hostonly-")
        self.env = dict(os.environ, CLOISON_STATE_DIR=self.dir, CLOISON_RUN_DIR=os.path.join(self.dir, "run"))
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        self.g = None

    def tearDown(self):
        if self.g:
            self.g.kill()
        subprocess.run(["ip", "netns", "del", self.ns])
        shutil.rmtree(self.dir, ignore_errors=True)

    def in_ns(self, *cmd, check=True):
        r = subprocess.run(["ip", "netns", "exec", self.ns, *cmd], capture_output=True, text=True, timeout=120,
                           env=self.env)
        if check and r.returncode:
            raise AssertionError(f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout}{r.stderr}")
        return r

    def test_host_guest_ping_over_bridge(self):
        self.in_ns(CLOISON, "net", "create", "ho", "--type", "host-only", "--subnet", "10.77.0.0/24")
        self.assertIn("inet 10.77.0.1/24", self.in_ns("ip", "addr").stdout)
        self.assertIn("host-only", self.in_ns(CLOISON, "net", "list").stdout)
        self.g = g = Guest(None, argv=["ip", "netns", "exec", self.ns, CLOISON, "run", "--net", "ho",
                                       "--append", f"{APPEND} cloison_ip=10.77.0.2/24"], timeout=180, env=self.env)
        g.expect("guest# ")
        self.assertIn(" 0% packet loss", g.run("ping -c 2 10.77.0.1", timeout=60))
        r = self.in_ns("ping", "-c", "2", "-W", "2", "10.77.0.2", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        g.send("poweroff -f\n")
        self.assertEqual(g.wait_exit(60), 0, g.stderr)
        self.in_ns(CLOISON, "net", "rm", "ho")
        self.assertNotIn("10.77.0.1", self.in_ns("ip", "addr").stdout)


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
