#!/usr/bin/env python3
"""test_cli.py — the CLI's conventions, verb by verb, without a daemon or a guest.

- `cloison VERB --help` prints on stdout, nothing on stderr, exits 0, and never contacts cloisond
  (CLOISON_SOCKET points nowhere);
- a mistyped verb or option exits 2 and names the closest one ("did you mean"); a usage error's
  last line says where help is;
- `cloison --help` and `--version` exit 0;
- `make install`'s step (`meson install --destdir`) puts the binaries, the systemd unit naming the
  installed daemon, and bash completion where they belong.

Usage: test_cli.py CLOISON_BINARY
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

CLOISON = None
VERBS = ["create", "start", "stop", "restart", "pause", "resume", "rm", "list", "info", "console", "exec",
         "snapshot", "restore", "logs", "limits", "run", "disk", "pool", "volume", "net", "status", "stats",
         "save", "clone", "migrate", "receive", "ct", "cluster", "ha", "lb"]


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
        r = subprocess.run([os.path.join(root, "bin/cloison"), "--version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^cloison \d")


if __name__ == "__main__":
    CLOISON = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
