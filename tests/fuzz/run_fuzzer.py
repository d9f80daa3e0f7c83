#!/usr/bin/env python3
"""run_fuzzer.py — runs a libFuzzer harness for a bounded time on a seed
corpus generated here (valid inputs for each path, so mutations start deep).

Usage: run_fuzzer.py FUZZER WORKDIR SECONDS
"""
import os
import shutil
import struct
import subprocess
import sys


def seed_image():
    hdr = bytearray(64)
    struct.pack_into("<II", hdr, 0, 0x0000006F, 0)          # code0: jal x0, 0
    struct.pack_into("<QQ", hdr, 8, 0x200000, 0x10000)      # text_offset, image_size
    hdr[0x30:0x38] = b"RISCV\0\0\0"
    hdr[0x38:0x3C] = b"RSC\x05"
    return bytes(hdr) + bytes(256)


def seed_elf():
    code = struct.pack("<I", 0x0000006F)
    ehdr = bytearray(64)
    ehdr[0:4] = b"\x7fELF"
    ehdr[4], ehdr[5], ehdr[6] = 2, 1, 1                        # 64-bit, little-endian, v1
    struct.pack_into("<HHIQQQIHHHHHH", ehdr, 16, 2, 243, 1, 0x80000000, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 120, 0x80000000, 0x80000000, len(code), len(code) + 16, 4)
    return bytes(ehdr) + phdr + code


def seed_virtqueue():
    """Header (qsize 8, event_idx, desc/avail/used offsets) + RAM with one 2-descriptor chain."""
    ram = bytearray(0x4000)
    base = 0x80000000
    struct.pack_into("<QIHH", ram, 0x0000, base + 0x3000, 16, 1, 1)   # desc 0: readable, NEXT -> 1
    struct.pack_into("<QIHH", ram, 0x0010, base + 0x3100, 64, 2, 0)   # desc 1: writable
    struct.pack_into("<QIHH", ram, 0x0020, base + 0x3200, 32, 4, 0)   # desc 2: indirect table
    struct.pack_into("<QIHH", ram, 0x3200, base + 0x3300, 8, 1, 1)
    struct.pack_into("<QIHH", ram, 0x3210, base + 0x3400, 8, 2, 0)
    struct.pack_into("<HHHH", ram, 0x1000, 0, 2, 0, 2)                # avail: idx 2, ring [0, 2]
    hdr = struct.pack("<HHIII", 3, 1, 0x0000, 0x1000, 0x2000)
    return hdr + bytes(ram)


def seed_virtio_balloon():
    """Header (features: stats and free page reporting; queue size 8; a target of 4 pages) + RAM: one
    buffer on each queue: 4 page numbers to inflate, 2 to deflate, 2 statistics, one free page."""
    ram = bytearray(0x6000)
    base = 0x80000000
    bufs = [(0x4000, 16), (0x4100, 8), (0x4200, 20), (0x5000, 0x1000)]
    for q, (off, length) in enumerate(bufs):
        struct.pack_into("<QIHH", ram, 0x1000 * q, base + off, length, 0, 0)
        struct.pack_into("<HHH", ram, 0x1000 * q + 0x800, 0, 1, 0)       # avail: idx 1, ring [0]
    struct.pack_into("<4I", ram, 0x4000, (base + 0x5000) >> 12, 0xFFFFFFFF, base >> 12, (base >> 12) - 1)
    struct.pack_into("<2I", ram, 0x4100, (base + 0x5000) >> 12, 7)
    struct.pack_into("<HQHQ", ram, 0x4200, 4, 1 << 20, 5, 1 << 22)
    hdr = struct.pack("<IH2xI", (1 << 1) | (1 << 5), 3, 4)
    return hdr + bytes(ram)


def seed_virtio_net():
    """Header (features: VERSION_1 low half is set separately; CSUM, GUEST_CSUM, MAC, MRG_RXBUF; queue
    size 8; three frames to receive) + RAM: one TX chain (header + 60-byte frame), four RX buffers."""
    ram = bytearray(0x6000)
    base = 0x80000000
    for i in range(4):                                                  # RX desc i: 0x100 bytes, writable
        struct.pack_into("<QIHH", ram, 16 * i, base + 0x3000 + 0x100 * i, 0x100, 2, 0)
    struct.pack_into("<HH4H", ram, 0x800, 0, 4, 0, 1, 2, 3)            # RX avail: idx 4
    struct.pack_into("<QIHH", ram, 0x1000, base + 0x4000, 12, 1, 1)    # TX desc 0: header, NEXT -> 1
    struct.pack_into("<QIHH", ram, 0x1010, base + 0x4100, 60, 0, 0)    # TX desc 1: frame
    struct.pack_into("<HHH", ram, 0x1800, 0, 1, 0)                     # TX avail: idx 1
    ram[0x4100:0x4106] = b"\xff" * 6
    hdr = struct.pack("<IH3H", (1 << 0) | (1 << 1) | (1 << 5) | (1 << 15), 3, 60, 300, 1514)
    return hdr + bytes(ram)


def seed_virtio_vsock():
    """Header (queue size 16, the host program writes in the first round) + RAM: four receive buffers,
    the guest's RESPONSE to the host program's connection and a 5-byte RW packet on it, one event
    buffer."""
    ram = bytearray(0x4000)
    base = 0x80000000
    for i in range(4):                                                  # RX desc i: 0x100 bytes, writable
        struct.pack_into("<QIHH", ram, 16 * i, base + 0x3000 + 0x100 * i, 0x100, 2, 0)
    struct.pack_into("<HH4H", ram, 0x800, 0, 4, 0, 1, 2, 3)
    struct.pack_into("<QIHH", ram, 0x1000, base + 0x3800, 44, 0, 0)     # TX desc 0: RESPONSE
    struct.pack_into("<QIHH", ram, 0x1010, base + 0x3900, 49, 0, 0)     # TX desc 1: RW "hello"
    struct.pack_into("<HH2H", ram, 0x1800, 0, 2, 0, 1)
    struct.pack_into("<QQIIIHHIII", ram, 0x3800, 3, 2, 1024, 1 << 30, 0, 1, 2, 0, 65536, 0)
    struct.pack_into("<QQIIIHHIII", ram, 0x3900, 3, 2, 1024, 1 << 30, 5, 1, 5, 0, 65536, 0)
    ram[0x3900 + 44:0x3900 + 49] = b"hello"
    struct.pack_into("<QIHH", ram, 0x2000, base + 0x3a00, 4, 2, 0)     # event desc 0
    struct.pack_into("<HHH", ram, 0x2800, 0, 1, 0)
    return struct.pack("<HBx", 4, 1) + bytes(ram)


def agent_frame(kind, payload=b""):
    return struct.pack("<BxxxI", kind, len(payload)) + payload


def seed_qcow2(work):
    """Small qcow2 images written by qemu-img/qemu-io (512-byte clusters keep them small), each behind
    a script: le16 length, then 8-byte ops (read, write, zero, discard, flush, status, resize)."""
    script = bytes([1, 4, 0, 0, 9, 0, 0x5a, 0, 0, 0, 0, 0, 31, 0, 0, 0, 3, 8, 0, 0, 2, 0, 0, 0,
                    2, 40, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 1])
    seeds = {}
    for name, create, io in (("plain", ["-o", "cluster_size=512"], "write -P 0x11 0 3k"),
                             ("v2", ["-o", "cluster_size=512,compat=0.10"], "write -P 0x22 1k 2k"),
                             ("zero", ["-o", "cluster_size=512,refcount_bits=1"], "write -z 0 4k")):
        path = os.path.join(work, "seed-" + name + ".qcow2")
        if os.path.exists(path):
            os.unlink(path)
        if subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", *create, path, "64k"]).returncode:
            continue
        subprocess.run(["qemu-io", "-c", io, path], capture_output=True)
        with open(path, "rb") as f:
            seeds[name] = struct.pack("<H", len(script)) + script + f.read()
    return seeds


def seed_virtio_gpu():
    """The 2D path a driver takes: display info, create a 16x16 resource, back it with RAM, transfer,
    scan out, flush, move the cursor; each command with its 16-bit length."""
    def cmd(kind, body=b""):
        c = struct.pack("<IIQIB3x", kind, 0, 0, 0, 0) + body
        return struct.pack("<H", len(c)) + c
    return (cmd(0x100) + cmd(0x101, struct.pack("<IIII", 1, 2, 16, 16)) +
            cmd(0x106, struct.pack("<II", 1, 1) + struct.pack("<QII", 0x80000000, 1024, 0)) +
            cmd(0x105, struct.pack("<IIIIQII", 0, 0, 16, 16, 0, 1, 0)) +
            cmd(0x103, struct.pack("<IIIIII", 0, 0, 16, 16, 0, 1)) +
            cmd(0x104, struct.pack("<IIIIII", 0, 0, 16, 16, 1, 0)) +
            cmd(0x301, struct.pack("<IIII", 0, 3, 4, 0) + struct.pack("<IIII", 1, 0, 0, 0)) +
            cmd(0x107, struct.pack("<II", 1, 0)) + cmd(0x102, struct.pack("<II", 1, 0)))


def seed_layers(work):
    """Small OCI layers: files, a directory, a whiteout, an opaque directory, hard and symbolic links
    (one to the harness's sentinel directory), uncompressed and gzip."""
    import io
    import tarfile

    def layer(members, mode="w"):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as t:
            for name, kind, arg in members:
                ti = tarfile.TarInfo(name)
                if kind == "dir":
                    ti.type = tarfile.DIRTYPE
                elif kind == "sym":
                    ti.type, ti.linkname = tarfile.SYMTYPE, arg
                elif kind == "hard":
                    ti.type, ti.linkname = tarfile.LNKTYPE, arg
                else:
                    ti.size = len(arg)
                t.addfile(ti, io.BytesIO(arg) if kind == "file" else None)
        return buf.getvalue()
    base = [("etc", "dir", None), ("etc/passwd", "file", b"root:x:0:0::/:/bin/sh\n"),
            ("etc/link", "hard", "etc/passwd"), ("bin", "dir", None), ("bin/sh", "sym", "/bin/busybox")]
    return {"plain": layer(base),
            "whiteouts": layer([("etc/.wh.passwd", "file", b""), ("bin/.wh..wh..opq", "file", b""),
                                ("bin/new", "file", b"x")], "w:gz"),
            "symlink": layer([("out", "sym", "../sentinel"), ("out/planted", "file", b"x"),
                              ("out/.wh.keep", "file", b"")])}


def main():
    fuzzer, work, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    corpus = os.path.join(work, "corpus")
    shutil.rmtree(corpus, ignore_errors=True)
    os.makedirs(corpus)
    env = dict(os.environ)
    if "vmstate" in os.path.basename(fuzzer):
        seeds = {}  # the harness writes a valid vmstate of its own VM at start-up
        env["CLOISON_FUZZ_SEED_DIR"] = corpus
    elif "websocket" in os.path.basename(fuzzer):
        def frame(opcode, payload, fin=True):  # a client frame: masked
            mask = b"\x11\x22\x33\x44"
            return (bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)]) + mask +
                    bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        seeds = {"session": frame(2, b"ls\r") + frame(1, b"echo", fin=False) + frame(0, b" hi\r") +
                 frame(9, b"ping") + frame(8, b"\x03\xe8")}
    elif "http" in os.path.basename(fuzzer):
        seeds = {"get": b"GET /vm HTTP/1.1\r\nHost: x\r\n\r\n",
                 "post": b"POST /vm/save HTTP/1.1\r\ncontent-length: 15\r\n\r\n{\"dir\": \"/tmp\"}"}
    elif "fuzz_def" in os.path.basename(fuzzer):
        seeds = {"vm": b'{"name":"a","autostart":true,"vm":{"memory":"64M","cpus":2,"disks":["/d,ro"],'
                       b'"nets":["user"]},"limits":{"cpu_weight":100,"cpu_max":50,"cpuset":"0-1"}}',
                 "ct": b'{"name":"b","type":"container","container":{"rootfs":"/","argv":["/bin/sh"],'
                       b'"net":"none"},"limits":{"pids":64}}',
                 "limits": b'{"cpu_max":25,"memory":"1G","disk_bps":"10M"}'}
    elif "virtio_gpu" in os.path.basename(fuzzer):
        seeds = {"picture": seed_virtio_gpu()}
    elif "virtio_balloon" in os.path.basename(fuzzer):
        seeds = {"queues": seed_virtio_balloon()}
    elif "virtio_vsock" in os.path.basename(fuzzer):
        seeds = {"conn": seed_virtio_vsock()}
    elif "fuzz_ovf" in os.path.basename(fuzzer):
        seeds = {"ovf": b'''<?xml version="1.0"?><Envelope xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
<References><File ovf:id="f1" ovf:href="disk1.vmdk"/></References><DiskSection><Disk ovf:fileRef="f1"
ovf:format="vmdk"/></DiskSection><VirtualSystem ovf:id="v"><Name>n</Name><VirtualHardwareSection>
<Item><ResourceType>3</ResourceType><VirtualQuantity>2</VirtualQuantity></Item><Item>
<AllocationUnits>byte * 2^20</AllocationUnits><ResourceType>4</ResourceType><VirtualQuantity>64</VirtualQuantity>
</Item></VirtualHardwareSection></VirtualSystem></Envelope>''',
                 "manifest": b'{"format": "cloison-image/1", "name": "a", "cpus": 2, "memory": 1048576, '
                             b'"boot": {"append": "x", "kernel": false, "initrd": false}}',
                 "container": b'{"format": "cloison-image/1", "type": "container", "name": "c", '
                              b'"container": {"argv": ["/bin/sh", "-c", "x"], "env": ["A=1"], "workdir": "/w"}}'}
    elif "fuzz_layer" in os.path.basename(fuzzer):
        seeds = seed_layers(work)
    elif "fuzz_agent" in os.path.basename(fuzzer):
        seeds = {"exec": b"\x00" + agent_frame(16, b"hi\n") + agent_frame(17, b"oops") + agent_frame(18, b"\x03\0\0\0"),
                 "pull": b"\x01" + agent_frame(21, b"abc") + agent_frame(21),
                 "info": b"\x02" + agent_frame(19, b"agent=1\nhostname=g\n"),
                 "error": b"\x02" + agent_frame(20, b"no\x01such")}
    elif "fuzz_p9" in os.path.basename(fuzzer):
        def m(kind, body):
            return struct.pack("<IBH", 7 + len(body), kind, 1) + body

        def st(text):
            return struct.pack("<H", len(text)) + text
        session = (m(100, struct.pack("<I", 65536) + st(b"9P2000.L")) +
                   m(104, struct.pack("<II", 1, 0xFFFFFFFF) + st(b"root") + st(b"") + struct.pack("<I", 0)) +
                   m(110, struct.pack("<IIH", 1, 2, 1) + st(b"file")) +
                   m(12, struct.pack("<II", 2, 2)) +
                   m(116, struct.pack("<IQI", 2, 0, 100)) +
                   m(118, struct.pack("<IQI", 2, 0, 4) + b"abcd") +
                   m(110, struct.pack("<IIH", 1, 3, 1) + st(b"link")) +
                   m(22, struct.pack("<I", 3)) +
                   m(14, struct.pack("<I", 1) + st(b"new") + struct.pack("<III", 0o102, 0o644, 0)) +
                   m(110, struct.pack("<IIH", 1, 4, 0)) + m(12, struct.pack("<II", 4, 0o200000)) +
                   m(40, struct.pack("<IQI", 4, 0, 200)) + m(120, struct.pack("<I", 2)))
        seeds = {"rw": b"\x00" + session, "ro-small": b"\x03" + session}
    elif "virtio_net" in os.path.basename(fuzzer):
        seeds = {"frames": seed_virtio_net()}
    elif "virtqueue" in os.path.basename(fuzzer):
        seeds = {"chain": seed_virtqueue()}
    elif "qcow2" in os.path.basename(fuzzer):
        seeds = seed_qcow2(work)
    elif "jit" in os.path.basename(fuzzer):
        # A loop body: loads and stores through the data pointers, gcc's zero-extension into an
        # address, W ops, mul/div, FP, an AMO, LR/SC, a forward branch, an inner loop with AES-style
        # table lookups (a shared probe) and stores, a vector copy; VLEN 128.
        words = [0x0005B503, 0x0085A603, 0x00C50533, 0x00A6B823, 0x02051713, 0x01F75713, 0x00F70733,
                 0x0005C803, 0x0FF87813, 0x0038089B, 0x02A882BB, 0x02C55333, 0xD2257053, 0x020070D3,
                 0x0016BC27, 0x00A6B3AF, 0x1006BE2F, 0x18A6BEAF, 0x00C51463, 0x00B54533, 0x00A69123,
                 0x00300F13, 0xFFFF0F13, 0x01E682A3, 0x01855413, 0x3FC47413, 0x00B40433, 0x00046483,
                 0x01055913, 0x3FC97913, 0x00B90933, 0x00096983, 0x0134C4B3, 0x0296A023, 0xFC0F18E3,
                 0xCC0472D7, 0x02058087, 0x020680A7]
        body = b"".join(struct.pack("<I", w) for w in words)
        seeds = {"loop": b"\x00" + body, "loop-user": b"\x04" + body}  # M-mode; U-mode under Sv39
    elif "insn" in os.path.basename(fuzzer):
        # vsetvli t0, zero, e8, m8; vle8.v v8, (ra); vadd.vv v16, v8, v8; vse8.v v16, (sp);
        # fadd.h ft0, ft1, ft2; clz a0, a1; cbo.zero (a2); c.mul s0, s1 — at VLEN 1024
        words = [0x003072D7, 0x02008407, 0x02840857, 0x02010827, 0x042080D3 & 0xFFFFF07F, 0x60059513,
                 0x0046200F]
        seeds = {"mix": b"\x03" + b"".join(struct.pack("<I", w) for w in words) + struct.pack("<H", 0x9C45)}
    else:
        seeds = {
            "image": b"\x00\xc0" + seed_image() + b"initrd" * 8,
            "elf": b"\x01\xff" + seed_elf(),
        }
    for name, data in seeds.items():
        with open(os.path.join(corpus, name), "wb") as f:
            f.write(data)
    r = subprocess.run([fuzzer, f"-max_total_time={seconds}", "-rss_limit_mb=2048", "-print_final_stats=1",
                        f"-artifact_prefix={work}/", corpus], env=env)
    # libFuzzer exits non-zero (77 on a deadly signal, which Meson would read as "skipped") on any finding.
    sys.exit(0 if r.returncode == 0 else 1)


if __name__ == "__main__":
    main()
