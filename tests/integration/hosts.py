"""hosts.py — several cloison hosts on one machine, for the cluster tests and bench/cluster.py.

Each Host is a network namespace joined to the others by a bridge in the root namespace (10.89.N.0/24),
with its own cloisond (state directory, API socket) and, through it, its own corosync. Commands run in
the namespace under a private /run (corosync writes /run/corosync.pid). Failures are made the way they
happen: kill -9 of every process of the host, nftables dropping all its traffic, SIGSTOP of all of them.
"""
import json
import os
import shutil
import signal
import subprocess
import time

from guest import http_unix


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class Net:
    """The bridge the hosts' veths plug into."""

    def __init__(self, tag, subnet=89):
        self.tag = tag
        self.bridge = f"clbr{tag}"
        self.subnet = subnet
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "link", "set", self.bridge, "up")
        # The root namespace is a client on the LAN too (.254).
        sh("ip", "addr", "add", f"10.{subnet}.0.254/24", "dev", self.bridge)

    def close(self):
        sh("ip", "link", "del", self.bridge, check=False)


class Host:
    def __init__(self, net, index, tmp, cloisond):
        self.net, self.index = net, index
        self.name = f"h{index}"
        self.ns = f"cl{net.tag}h{index}"
        self.addr = f"10.{net.subnet}.0.{index}"
        self.dir = os.path.join(tmp, self.name)
        self.state = os.path.join(self.dir, "state")
        self.run = os.path.join(self.dir, "run")
        self.priv_run = os.path.join(self.dir, "privrun")
        self.sock = os.path.join(self.dir, "d.sock")
        self.cloisond = cloisond
        self.proc = None
        for d in (self.state, self.run, self.priv_run):
            os.makedirs(d, exist_ok=True)
        sh("ip", "netns", "add", self.ns)
        veth = f"v{net.tag}{index}"
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
        sh("ip", "link", "set", veth, "master", net.bridge, "up")
        self.netns("ip", "addr", "add", f"{self.addr}/24", "dev", "eth0")
        self.netns("ip", "link", "set", "eth0", "up")
        self.netns("ip", "link", "set", "lo", "up")

    def netns(self, *args, check=True):
        return sh("ip", "netns", "exec", self.ns, *args, check=check)

    def start(self, env=None):
        log = open(os.path.join(self.dir, "daemon.log"), "a")
        cmd = (f"mount --bind {self.priv_run} /run && exec {self.cloisond} --state-dir {self.state} "
               f"--run-dir {self.run} --socket {self.sock}")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "sh", "-c", cmd], stdout=log,
                                     stderr=log, env=dict(os.environ, **(env or {})), start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.api("GET", "/v1")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: cloisond did not come up:\n{self.log()}")

    def log(self):
        with open(os.path.join(self.dir, "daemon.log")) as f:
            return f.read()

    def api(self, method, path, body=None, timeout=30):
        return http_unix(self.sock, method, path, body, timeout=timeout)

    def cli(self, cloison, *args, check=True, timeout=60):
        env = dict(os.environ, CLOISON_SOCKET=self.sock)
        r = subprocess.run([cloison, *args], capture_output=True, text=True, timeout=timeout, env=env)
        if check and r.returncode != 0:
            raise AssertionError(f"{self.name}: cloison {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}")
        return r

    def status(self):
        st, body = self.api("GET", "/v1/cluster")
        return body if st == 200 else None

    def pids(self):
        r = sh("ip", "netns", "pids", self.ns, check=False)
        return [int(p) for p in r.stdout.split()]

    def signal_all(self, sig):
        for p in self.pids():
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        """kill -9 of everything the host runs: cloisond, corosync, VMs."""
        for _ in range(5):  # a process forking meanwhile would escape one pass
            self.signal_all(signal.SIGKILL)
            time.sleep(0.05)
        if self.proc:
            self.proc.wait(timeout=10)
        self.proc = None

    def partition(self):
        """Drops every packet in and out of the host, loopback aside."""
        rules = os.path.join(self.dir, "fence.nft")
        with open(rules, "w") as f:
            f.write("table inet fence {\n"
                    "  chain in { type filter hook input priority -300; policy drop; iif lo accept; }\n"
                    "  chain out { type filter hook output priority -300; policy drop; oif lo accept; }\n"
                    "}\n")
        self.netns("nft", "-f", rules)

    def heal(self):
        self.netns("nft", "delete", "table", "inet", "fence", check=False)

    def close(self):
        self.kill()
        sh("ip", "netns", "del", self.ns, check=False)
        sh("ip", "link", "del", f"v{self.net.tag}{self.index}", check=False)


def wait_for(what, seconds, step=0.1):
    """Polls what() until it returns something true; returns it (None after `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        v = what()
        if v:
            return v
        time.sleep(step)
    return None
