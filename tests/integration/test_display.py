#!/usr/bin/env python3
"""test_display.py — a VM's screen: virtio-gpu with the default Debian guest.

- `cloison run --display on`: the guest's virtio-gpu driver binds, fbcon takes the
  screen (/proc/fb names virtio_gpudrmfb) and a shell runs on tty1.
- Text written to tty1 is on the screen: GET /vm/screenshot on the control socket
  gives a 1024x768 PNG (checked by its header), and tesseract (Debian's OCR) reads
  the text back from it.
- The picture survives a snapshot: saved, restored in a new process, the screenshot
  is the same image byte for byte (the cursor's blinking off, so nothing moves).
- Its keyboard and tablet (virtio-input): text typed through POST /vm/input runs in
  the shell on tty1 (a typed echo reaches the serial console too); a pointer report
  arrives on the tablet's event device with its axes scaled to 0..32767; what a US
  keyboard cannot type is refused.
- VNC (--vnc 127.0.0.1:PORT, libvncserver) against a small RFB 3.8 client written
  here: the first full update shows the guest's text (OCR of the received pixels);
  keys sent as RFB key events run a command in tty1's shell; the next incremental
  update covers only what changed (damage, not a whole frame). A port in use is
  refused at start.
- A display of another size (--display 800x600) is what the guest's mode says; a
  VM without --display answers 409; a bad --display value is refused at the start.

Usage: test_display.py CLOISON_BINARY
"""
import os
import re
import socket
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import Guest, free_port, http_unix, wait_for_socket  # noqa: E402

CLOISON = None


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


def png_pixels(path):
    """Decodes an 8-bit RGB, non-interlaced PNG (what /vm/screenshot writes) into (width, height, RGB bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, colour, interlace) == (8, 2, 0)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, out = zlib.decompress(idat), width * 3, bytearray()
    prev = bytearray(stride)
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if kind == 1:
                row[i] = (row[i] + a) & 255
            elif kind == 2:
                row[i] = (row[i] + b) & 255
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += row
        prev = row
    return width, height, bytes(out)


class RFB:
    """A minimal RFB 3.8 client: no security, raw encoding, 32-bit pixels (R, G, B, X in memory: asked for
    with SetPixelFormat when the server offers another layout, as QEMU's does)."""

    def __init__(self, port):
        """port: a TCP port on 127.0.0.1, or the path of a unix socket."""
        if isinstance(port, str):
            self.s = socket.socket(socket.AF_UNIX)
            self.s.settimeout(30)
            self.s.connect(port)
        else:
            self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        assert self.read(12) == b"RFB 003.008\n"
        self.s.sendall(b"RFB 003.008\n")
        n = self.read(1)[0]
        types = self.read(n)
        assert 1 in types, types  # None
        self.s.sendall(b"\x01")
        assert struct.unpack(">I", self.read(4))[0] == 0
        self.s.sendall(b"\x01")  # ClientInit: shared
        self.width, self.height = struct.unpack(">HH", self.read(4))
        self.format = self.read(16)
        self.name = self.read(struct.unpack(">I", self.read(4))[0])
        rgbx = struct.pack(">BBBBHHHBBBxxx", 32, 24, 0, 1, 255, 255, 255, 0, 8, 16)
        if self.format != rgbx:
            self.s.sendall(b"\x00\x00\x00\x00" + rgbx)  # SetPixelFormat
            self.format = rgbx
        self.s.sendall(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: raw only
        self.fb = bytearray(self.width * self.height * 4)

    def read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                raise EOFError("the VNC server closed the connection")
            out += chunk
        return out

    def update(self, incremental):
        """Asks for an update and reads one; the rectangles it carried."""
        self.s.sendall(struct.pack(">BBHHHH", 3, incremental, 0, 0, self.width, self.height))
        while True:
            kind = self.read(1)[0]
            if kind == 0:
                break
            if kind == 2:  # bell
                continue
            if kind == 1:  # colour map: not with true colour
                raise AssertionError("unexpected colour map entries")
            raise AssertionError(f"unexpected server message {kind}")
        self.read(1)
        rects = []
        for _ in range(struct.unpack(">H", self.read(2))[0]):
            x, y, w, h, enc = struct.unpack(">HHHHi", self.read(12))
            if enc == -223:  # DesktopSize
                self.width, self.height = w, h
                self.fb = bytearray(w * h * 4)
                continue
            if enc == -239:  # cursor shape: pixels and mask
                self.read(w * h * 4 + ((w + 7) // 8) * h)
                continue
            assert enc == 0, enc
            data = self.read(w * h * 4)
            for row in range(h):
                o = ((y + row) * self.width + x) * 4
                self.fb[o:o + w * 4] = data[row * w * 4:(row + 1) * w * 4]
            rects.append((x, y, w, h))
        return rects

    def key(self, keysym, down):
        self.s.sendall(struct.pack(">BBxxI", 4, 1 if down else 0, keysym))

    def type(self, text):
        shifted = '~!@#$%^&*()_+{}|:"<>?ABCDEFGHIJKLMNOPQRSTUVWXYZ'
        for c in text:
            sym = 0xff0d if c == "\n" else ord(c)
            if c in shifted:
                self.key(0xffe1, True)
            self.key(sym, True)
            self.key(sym, False)
            if c in shifted:
                self.key(0xffe1, False)

    def rgb(self):
        """The framebuffer as RGB bytes (the server's pixel format: 32 bits, red at shift 0)."""
        red, green, blue = self.format[10], self.format[11], self.format[12]
        assert self.format[0] == 32 and (red, green, blue) == (0, 8, 16), self.format
        out = bytearray(self.width * self.height * 3)
        out[0::3], out[1::3], out[2::3] = self.fb[0::4], self.fb[1::4], self.fb[2::4]
        return bytes(out)

    def save_ppm(self, path, scale=2):
        """The framebuffer as a PPM, scaled up (OCR reads the 8x16 console font better at twice the size)."""
        rgb, w = self.rgb(), self.width
        rows = []
        for y in range(self.height):
            row = bytearray()
            for x in range(w):
                row += rgb[(y * w + x) * 3:(y * w + x) * 3 + 3] * scale
            rows += [bytes(row)] * scale
        with open(path, "wb") as f:
            f.write(b"P6 %d %d 255\n" % (w * scale, self.height * scale) + b"".join(rows))


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
        g.run("for i in $(seq 100); do ps | grep -q '[s]h -l' && break; sleep 0.1; done; "
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

    def test_keyboard_and_tablet(self):
        g, sock = self.start("--display", "on")
        g.expect("guest# ")
        devices = g.run("cat /proc/bus/input/devices")
        self.assertIn("cloison keyboard", devices)
        self.assertIn("cloison tablet", devices)
        g.run("for i in $(seq 100); do ps | grep -q '[s]h -l' && break; sleep 0.1; done")
        status, body = http_unix(sock, "POST", "/vm/input", {"text": "echo TYPED-$((6 * 7)) > /dev/ttyS0\n"}, None)
        self.assertEqual(status, 200, body)
        g.expect("TYPED-42", timeout=30)
        # The tablet: read four events from its event device while a pointer report is sent (X, Y, the
        # left button, SYN: what did not change, the other buttons, the input core drops).
        tablet = re.search(r'N: Name="cloison tablet".*?H: Handlers=.*?(event\d+)', devices, re.S).group(1)
        g.send(f"dd if=/dev/input/{tablet} bs=24 count=4 2>/dev/null | od -An -tx1 -w24 > /tmp/ev; echo EV''-DONE\n")
        time.sleep(1)
        status, body = http_unix(sock, "POST", "/vm/input", {"pointer": {"x": 1023, "y": 100, "buttons": 1}}, None)
        self.assertEqual(status, 200, body)
        g.expect("EV-DONE", timeout=30)
        g.expect("guest# ")
        events = [bytes.fromhex(line.replace(" ", ""))[16:24] for line in g.run("cat /tmp/ev").splitlines() if line.strip()]
        decoded = [struct.unpack("<HHi", e) for e in events]
        self.assertIn((3, 0, 32767), decoded, decoded)  # EV_ABS ABS_X at the right edge
        self.assertIn((3, 1, 100 * 32767 // 767), decoded, decoded)  # EV_ABS ABS_Y, scaled
        self.assertIn((1, 0x110, 1), decoded, decoded)  # BTN_LEFT pressed
        status, body = http_unix(sock, "POST", "/vm/input", {"text": "caf\u00e9"}, None)
        self.assertEqual(status, 400)
        self.assertIn("cannot type", body["error"])
        status, body = http_unix(sock, "POST", "/vm/input", {"pointer": {"x": -5, "y": 1}}, None)
        self.assertEqual(status, 400)

    def test_vnc(self):
        port = free_port()
        g, sock = self.start("--display", "on", "--vnc", f"127.0.0.1:{port}")
        g.expect("guest# ")
        g.run("for i in $(seq 100); do ps | grep -q '[s]h -l' && break; sleep 0.1; done; "
              "echo 0 > /sys/class/graphics/fbcon/cursor_blink; clear > /dev/tty1; "
              "echo REMOTE SCREEN 2024 > /dev/tty1")
        c = RFB(port)
        self.assertEqual((c.width, c.height, c.name), (1024, 768, b"cloison"))
        ppm = os.path.join(self.tmp, "vnc.ppm")
        text = ""
        for _ in range(30):
            c.update(0)
            c.save_ppm(ppm)
            text = ocr(ppm)
            if "2024" in text:
                break
            time.sleep(1)
        self.assertRegex(text, r"REMOTE\s+SCREEN\s+2024", text)
        # The client's picture is the screen's, pixel for pixel.
        shot = os.path.join(self.tmp, "vnc-screen.png")
        self.assertEqual(screenshot(sock, shot), 200)
        w, h, rgb = png_pixels(shot)
        self.assertEqual((w, h), (c.width, c.height))
        self.assertTrue(rgb == c.rgb(), "the VNC picture differs from the screenshot")
        # Keys typed through VNC run in tty1's shell; its echo goes to the serial console.
        c.type("echo VNC-KEYS-$((3 * 5)) > /dev/ttyS0\n")
        g.expect("VNC-KEYS-15", timeout=30)
        # Damage: an incremental update after one more line covers a strip, not the whole screen.
        c.update(1)  # whatever changed while typing
        g.run("echo ONE MORE LINE > /dev/tty1")
        rects = c.update(1)
        self.assertTrue(rects, "no update after the guest wrote to the screen")
        area = sum(w * h for _, _, w, h in rects)
        self.assertLess(area, 1024 * 768 // 4, rects)
        # A second server on the same port is refused.
        bad = subprocess.run([CLOISON, "run", "--display", "on", "--vnc", f"127.0.0.1:{port}"],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(bad.returncode, 1, bad.stderr)
        self.assertIn("cannot listen", bad.stderr)
        bad = subprocess.run([CLOISON, "run", "--vnc", "127.0.0.1:notaport"], capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
        self.assertNotEqual(bad.returncode, 0)
        # On a unix socket: private to its owner, the same server.
        path = os.path.join(self.tmp, "vnc.sock")
        g2, _ = self.start("--display", "on", "--vnc", "unix:" + path, sock="api2.sock")
        wait_for_socket(path, g2.proc)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        u = RFB(path)
        self.assertEqual((u.width, u.height, u.name), (1024, 768, b"cloison"))
        u.s.close()

    def test_mode_size_and_no_display(self):
        g, sock = self.start("--display", "800x600")
        g.expect("guest# ")
        modes = g.run("cat /sys/class/drm/card*-Virtual-1/modes | head -n1")
        self.assertEqual(modes.strip(), "800x600")
        # The guest reads the display's EDID: 128 bytes, the preferred mode 800 pixels wide.
        edid = "od -An -tx1 -v /sys/class/drm/card*-Virtual-1/edid | tr -d ' \\n'"
        blob = bytes.fromhex(g.run(edid))
        self.assertEqual(len(blob), 128)
        self.assertEqual(blob[:8], b"\x00\xff\xff\xff\xff\xff\xff\x00")
        self.assertEqual(sum(blob) % 256, 0)
        self.assertEqual(blob[56] | (blob[58] >> 4) << 8, 800)
        # Another size: the guest is told (a display event) and reads the new EDID.
        status, body = http_unix(sock, "POST", "/vm/display", {"width": 1280, "height": 800}, None)
        self.assertEqual((status, body["width"], body["height"]), (200, 1280, 800))
        for _ in range(50):
            blob = bytes.fromhex(g.run(edid))
            if blob[56] | (blob[58] >> 4) << 8 == 1280:
                break
            time.sleep(0.2)
        self.assertEqual((blob[56] | (blob[58] >> 4) << 8, blob[59] | (blob[61] >> 4) << 8), (1280, 800))
        self.assertEqual(http_unix(sock, "POST", "/vm/display", {"width": 5, "height": 5}, None)[0], 400)
        g2, sock2 = self.start(sock="plain.sock")
        g2.expect("guest# ")
        status, body = http_unix(sock2, "GET", "/vm/screenshot", None, None)
        self.assertEqual(status, 409)
        self.assertIn("no display", body["error"])
        self.assertEqual(g2.run("cat /proc/fb"), "")
        status, body = http_unix(sock2, "POST", "/vm/input", {"text": "x"}, None)
        self.assertEqual(status, 409)
        self.assertIn("no display", body["error"])
        bad = subprocess.run([CLOISON, "run", "--display", "5x5"], capture_output=True, text=True, timeout=30)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("WIDTHxHEIGHT", bad.stderr)


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
