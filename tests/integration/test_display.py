#!/usr/bin/env python3
"""test_display.py — a VM's screen: virtio-gpu with the default Debian guest.

- `cloison run --display on`: the guest's virtio-gpu driver binds, fbcon takes the
  screen (/proc/fb names virtio_gpudrmfb) and a shell runs on tty1.
- Text written to tty1 is on the screen: GET /vm/screenshot on the control socket
  gives a 1024x768 PNG (checked by its header), and tesseract (Debian's OCR) reads
  the text back from it.
- The picture survives a snapshot: saved, restored in a new process, the screenshot
  is the same image byte for byte (the cursor's blinking off, so nothing moves).
- A display of another size (--display 800x600) is what the guest's mode says; a
  VM without --display answers 409; a bad --display value is refused at the start.

Usage: test_display.py CLOISON_BINARY
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import Guest, http_unix  # noqa: E402

CLOISON = None


def wait_for_socket(path, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else ""
            raise AssertionError(f"control socket {path} never appeared {err}")
        time.sleep(0.05)


def screenshot(sock, out):
    """GET /vm/screenshot into out; the HTTP status (curl: the body is binary)."""
    r = subprocess.run(["curl", "-s", "-o", out, "-w", "%{http_code}", "--unix-socket", sock,
                        "http://vm/vm/screenshot"], capture_output=True, text=True, timeout=60)
    return int(r.stdout or 0)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", head
    return struct.unpack(">II", head[16:24])


def ocr(path):
    return subprocess.run(["tesseract", path, "-"], capture_output=True, text=True, timeout=120).stdout


class Display(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cloison-display-")
        self.guests = []

    def tearDown(self):
        for g in self.guests:
            g.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *args, sock="api.sock"):
        path = os.path.join(self.tmp, sock)
        g = Guest(CLOISON, ["--api-sock", path, *args])
        self.guests.append(g)
        wait_for_socket(path, g.proc)
        return g, path

    def test_console_on_screen_and_snapshot(self):
        g, sock = self.start("--display", "on")
        g.expect("guest# ")
        self.assertIn("virtio_gpudrmfb", g.run("cat /proc/fb"))
        # Wait for the shell on tty1, then stop the cursor blinking: the picture must hold still.
        g.run("for i in $(seq 100); do pgrep -f 'sh -l' >/dev/null && break; sleep 0.1; done; "
              "echo 0 > /sys/class/graphics/fbcon/cursor_blink; clear > /dev/tty1; "
              "echo CLOISON DISPLAY 4711 > /dev/tty1")
        shot = os.path.join(self.tmp, "screen.png")
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            self.assertEqual(screenshot(sock, shot), 200)
            text = ocr(shot)
            if "4711" in text:
                break
            time.sleep(1)
        self.assertEqual(png_size(shot), (1024, 768))
        self.assertRegex(text, r"CLOISON\s+DISPLAY\s+4711", text)
        r = http_unix(sock, "POST", "/vm/screenshot", None, None)
        self.assertEqual(r[0], 405, r)
        # Saved and restored: the same picture.
        status, body = http_unix(sock, "POST", "/vm/pause", None, None)
        self.assertEqual(status, 200, body)
        before = os.path.join(self.tmp, "before.png")
        self.assertEqual(screenshot(sock, before), 200)
        snap = os.path.join(self.tmp, "snap")
        status, body = http_unix(sock, "POST", "/vm/save", {"dir": snap, "then": "stop"}, None)
        self.assertEqual(status, 200, body)
        self.assertEqual(g.wait_exit(60), 0)
        r, rsock = self.start("--restore", snap, sock="restored.sock")
        after = os.path.join(self.tmp, "after.png")
        self.assertEqual(screenshot(rsock, after), 200)
        with open(before, "rb") as a, open(after, "rb") as b:
            self.assertEqual(a.read(), b.read(), "the restored screen differs")
        r.send("echo AFTER RESTORE 815 > /dev/tty1\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.assertEqual(screenshot(rsock, after), 200)
            text = ocr(after)
            if "815" in text:
                break
            time.sleep(1)
        self.assertRegex(text, r"AFTER\s+RESTORE\s+815", text)
        self.assertRegex(text, r"CLOISON\s+DISPLAY\s+4711", text)  # still there above it

    def test_mode_size_and_no_display(self):
        g, sock = self.start("--display", "800x600")
        g.expect("guest# ")
        modes = g.run("cat /sys/class/drm/card*-Virtual-1/modes | head -n1")
        self.assertEqual(modes.strip(), "800x600")
        g2, sock2 = self.start(sock="plain.sock")
        g2.expect("guest# ")
        status, body = http_unix(sock2, "GET", "/vm/screenshot", None, None)
        self.assertEqual(status, 409)
        self.assertIn("no display", body["error"])
        self.assertEqual(g2.run("cat /proc/fb"), "")
        bad = subprocess.run([CLOISON, "run", "--display", "5x5"], capture_output=True, text=True, timeout=30)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("WIDTHxHEIGHT", bad.stderr)


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
