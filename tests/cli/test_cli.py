#!/usr/bin/env python3
"""test_cli.py — the CLI's conventions, verb by verb, without a daemon or a guest.

- `cloison VERB --help` prints on stdout, nothing on stderr, exits 0, and never contacts cloisond
  (CLOISON_SOCKET points nowhere);
- a mistyped verb or option exits 2 and names the closest one ("did you mean"); a usage error's
  last line says where help is;
- `cloison --help` and `--version` exit 0;
- `make install`'s step (`meson install --destdir`) puts the binaries, the systemd unit naming the
  installed daemon, bash completion and the man pages where they belong;
- the guest download shows curl's meter (bytes, rate, time left) on a terminal and one line before
  and one after in a log (a file served on loopback, fetched through tools/guest/archive.sh).

Usage: test_cli.py CLOISON_BINARY
"""
import functools
import hashlib
import http.server
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ARCHIVE_SH = os.path.join(HERE, "..", "..", "tools", "guest", "archive.sh")

CLOISON = None
VERBS = ["create", "start", "stop", "restart", "pause", "resume", "rm", "list", "info", "console", "exec",
         "snapshot", "restore", "logs", "limits", "run", "disk", "pool", "volume", "net", "status", "stats",
         "save", "balloon", "clone", "migrate", "receive", "ct", "cluster", "ha", "lb", "file", "agent", "image"]


def read(path):
    with open(path) as f:
        return f.read()


def cl(*args):
    env = dict(os.environ, CLOISON_SOCKET=os.path.join(tempfile.gettempdir(), "no-such-cloisond.sock"))
    return subprocess.run([CLOISON, *args], capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)


class Cli(unittest.TestCase):
    def test_every_verb_has_help(self):
        listed = cl("--help")
        self.assertEqual(listed.returncode, 0)
        for verb in VERBS:
            self.assertIn(f"  {verb} ", listed.stdout)  # the verb list is complete
            with self.subTest(verb=verb):
                r = cl(verb, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, "")
                self.assertIn("cloison", r.stdout)
                self.assertNotIn("cloisond does not answer", r.stdout)

    def test_every_subverb_has_help(self):
        groups = {"ct": ["run", "list", "exec", "pause", "resume", "stop", "rm", "stats"],
                  "pool": ["list", "create", "info", "rm"], "volume": ["list", "create", "copy", "info", "rm"],
                  "net": ["create", "list", "info", "rm"], "cluster": ["create", "join", "status", "token", "leave"],
                  "ha": ["add", "rm", "status"], "lb": ["create", "list", "info", "rm"],
                  "image": ["list", "info", "import", "export", "publish", "rm"], "file": ["push", "pull"],
                  "disk": ["create", "info", "check", "convert", "resize", "rebase", "commit"]}
        for group, subverbs in groups.items():
            for sub in subverbs:
                with self.subTest(verb=f"{group} {sub}"):
                    r = cl(group, sub, "--help")
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(r.stderr, "")
                    self.assertIn("Usage: cloison", r.stdout)
        r = cl("snapshot", "--help")
        for form in ("snapshot list NAME", "snapshot rm NAME SNAPSHOT"):
            self.assertIn(form, r.stdout)

    def test_formats_and_quiet(self):
        for args in (["list"], ["info", "web"], ["stats", "web"], ["pool", "list"], ["volume", "list"],
                     ["net", "list"], ["ct", "list"], ["snapshot", "list", "web"], ["status", "--sock", "x"]):
            with self.subTest(args=args):
                r = cl(*args, "--format", "xml")
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("unknown format 'xml' (table, json, yaml or csv)", r.stderr)
                self.assertRegex(r.stderr.strip().splitlines()[-1], r"^try 'cloison [a-z ]+ --help'$")
        # -q anywhere before `--` silences what a verb says it did; the verb's own output stays.
        d = tempfile.mkdtemp(prefix="cloison-q-")
        self.addCleanup(shutil.rmtree, d)
        r = cl("disk", "create", os.path.join(d, "a.qcow2"), "1M")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Formatting '", r.stdout)
        for args in (["-q", "disk", "create"], ["disk", "create", "-q"], ["disk", "create", "--quiet"]):
            path = os.path.join(d, f"q{len(os.listdir(d))}.qcow2")
            r = cl(*args, path, "1M")
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
            self.assertTrue(os.path.exists(path))
        r = cl("disk", "convert", "-O", "raw", os.path.join(d, "a.qcow2"), os.path.join(d, "a.raw"))
        self.assertEqual(r.stdout, f"converted '{d}/a.qcow2' to '{d}/a.raw' (raw)\n")
        self.assertTrue(cl("-q", "disk", "info", os.path.join(d, "a.raw")).stdout.startswith("image: "))

    def test_mistyped_verbs(self):
        for typo, near in [("rnu", "run"), ("lsit", "list"), ("snapshto", "snapshot"), ("migrat", "migrate")]:
            r = cl(typo)
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stdout, "")
            self.assertIn(f"unknown verb '{typo}'; did you mean '{near}'?", r.stderr)
            self.assertEqual(r.stderr.strip().splitlines()[-1], "try 'cloison --help'")
        r = cl("zzzzzz")
        self.assertNotIn("did you mean", r.stderr)
        r = cl("--verison")
        self.assertEqual(r.returncode, 2)
        self.assertIn("did you mean '--version'?", r.stderr)
        self.assertEqual(cl("--version").returncode, 0)

    def test_mistyped_and_incomplete_options(self):
        cases = [
            (["run", "--dsik", "x"], "cloison run: unknown option '--dsik'; did you mean '--disk'?", "run"),
            (["run", "--mem"], "cloison run: option '--mem' needs a value", "run"),
            (["run", "--stats=1"], "cloison run: option '--stats' takes no value", "run"),
            (["run", "-z"], "cloison run: unknown option '-z'", "run"),
            (["net", "create", "x", "--tpye", "nat"], "unknown option '--tpye'; did you mean '--type'?", "net create"),
            (["clone", "SNAPDIR", "--cuont", "2"], "cloison clone: ", "clone"),
            (["snapshot", "web"], "cloison snapshot: expected NAME SNAPSHOT", "snapshot"),
            (["migrate", "web"], "cloison migrate: expected NAME --to HOST:PORT", "migrate"),
            (["limits", "web", "--cpu-wieght", "5"], "unknown option '--cpu-wieght'; did you mean '--cpu-weight'?",
             "limits"),
            (["limits", "web", "--pids"], "cloison limits: no value for option '--pids'", "limits"),
            (["ct", "rnu"], "cloison ct: unknown verb 'rnu'; did you mean 'run'?", "ct"),
            (["ct", "run", "--rootfs", "/", "--memroy", "1G", "--", "true"],
             "unknown option '--memroy'; did you mean '--memory'?", "ct run"),
            (["disk", "create", "-f"], "cloison disk create: option '-f' needs a value", "disk create"),
            (["disk", "create"], "cloison disk create: expected FILE [SIZE]", "disk create"),
            (["pool", "frob"], "cloison pool: unknown verb or wrong arguments: 'frob'", "pool"),
            (["volume", "info", "nopool"], "cloison volume: 'nopool' is not POOL/NAME", "volume"),
            (["lb", "create", "x", "--lisen", "1"], "unknown option '--lisen'; did you mean '--listen'?", "lb"),
            (["cluster", "create", "x", "--adr", "1"], "unknown option '--adr'; did you mean '--addr'?", "cluster"),
            (["ha", "add", "x", "--bogus", "1"], "cloison ha: unknown option '--bogus'", "ha"),
            (["snapshot", "rm", "web"], "cloison snapshot: expected rm NAME SNAPSHOT", "snapshot"),
            (["list", "--format", "xml"], "cloison list: unknown format 'xml'", "list"),
        ]
        for args, message, verb in cases:
            with self.subTest(args=args):
                r = cl(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertIn(message, r.stderr)
                lines = r.stderr.strip().splitlines()
                self.assertLessEqual(len(lines), 2, r.stderr)  # the error, not the help under it
                self.assertEqual(lines[-1], f"try 'cloison {verb} --help'")

    @unittest.skipUnless(shutil.which("meson"), "no meson")
    def test_install_tree(self):
        build = os.path.dirname(CLOISON)
        dest = tempfile.mkdtemp(prefix="cloison-install-")
        self.addCleanup(shutil.rmtree, dest)
        r = subprocess.run(["meson", "introspect", build, "--buildoptions"], capture_output=True, text=True)
        prefix = next(o["value"] for o in __import__("json").loads(r.stdout) if o["name"] == "prefix")
        r = subprocess.run(["meson", "install", "-C", build, "--destdir", dest, "--no-rebuild", "--quiet"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        root = dest + prefix
        for f in ("bin/cloison", "bin/cloisond"):
            self.assertTrue(os.access(os.path.join(root, f), os.X_OK), f)
        self.assertTrue(os.path.isfile(os.path.join(root, "share/bash-completion/completions/cloison")))
        with open(os.path.join(root, "lib/systemd/system/cloisond.service")) as f:
            self.assertIn(f"ExecStart={prefix}/bin/cloisond\n", f.read())
        # Man pages, made from the help texts: cloison(1), cloisond(8) and one per verb group.
        man = {f: read(os.path.join(root, "share/man", f)) for f in
               ("man1/cloison.1", "man8/cloisond.8", "man1/cloison-run.1", "man1/cloison-ct.1", "man1/cloison-disk.1")}
        self.assertIn('.TH CLOISON "1"', man["man1/cloison.1"])
        self.assertIn('.TH CLOISOND "8"', man["man8/cloisond.8"])
        self.assertIn('.TH CLOISON-RUN "1"', man["man1/cloison-run.1"])
        self.assertIn("cloison-run \\- boot a virtual machine", man["man1/cloison-run.1"])
        self.assertIn("\\-\\-disk", man["man1/cloison-run.1"])  # an option from `cloison run --help`
        self.assertIn("snapshot", man["man1/cloison.1"])
        self.assertIn(".BR cloison-ct (1)", man["man1/cloison-disk.1"])  # SEE ALSO
        r = subprocess.run([os.path.join(root, "bin/cloison"), "--version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^cloison \d")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class DownloadProgress(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cloison-fetch-")
        self.addCleanup(shutil.rmtree, self.dir)
        served = os.path.join(self.dir, "www")
        os.mkdir(served)
        data = os.urandom(3 << 20)
        with open(os.path.join(served, "kernel.deb"), "wb") as f:
            f.write(data)
        self.sha = hashlib.sha256(data).hexdigest()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=served))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def fetch(self, stderr, sha=None):
        url = f"http://127.0.0.1:{self.server.server_address[1]}/kernel.deb"
        script = (f'log() {{ echo "guest-fetch: $*" >&2; }}; die() {{ echo "guest-fetch: error: $*" >&2; exit 1; }}\n'
                  f'. "{ARCHIVE_SH}"\nFETCH_SIZE={3 << 20} fetch "{url}" "{self.dir}/out.deb" {sha or self.sha}\n')
        env = dict(os.environ, CLOISON_CACHE=os.path.join(self.dir, "cache"))
        return subprocess.run(["bash", "-c", script], stdout=subprocess.DEVNULL, stderr=stderr, env=env, timeout=60)

    def test_meter_on_a_terminal(self):
        master, slave = pty.openpty()
        r = self.fetch(slave)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        text = out.decode(errors="replace")
        self.assertEqual(r.returncode, 0, text)
        self.assertIn("guest-fetch: downloading kernel.deb (3 MB)", text)
        for column in ("% Total", "Average Speed", "Left"):  # curl's meter: bytes, rate, time left
            self.assertIn(column, text)
        with open(os.path.join(self.dir, "out.deb"), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), self.sha)

    def test_lines_in_a_log(self):
        log = os.path.join(self.dir, "log")
        with open(log, "w") as f:
            r = self.fetch(f)
        text = read(log)
        self.assertEqual(r.returncode, 0, text)
        lines = text.strip().splitlines()
        self.assertEqual(lines[0], "guest-fetch: downloading kernel.deb (3 MB)")
        self.assertRegex(lines[1], r"^guest-fetch: downloaded kernel.deb: 3 MB in [0-9.]+ s \([0-9.]+ [kMG]?B/s\)$")
        self.assertEqual(len(lines), 2, text)
        with open(log, "w") as f:
            r = self.fetch(f, sha="0" * 64)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("checksum mismatch: kernel.deb", read(log))


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
