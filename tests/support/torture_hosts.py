"""Two "hosts" for the torture run: the intake nodes in one network namespace, the workers in
another, each behind its own veth address on a bridge; the root namespace (senders, the ERP, the
checker) is 10.77.N.1 on that bridge.

PostgreSQL listens on 127.0.0.1 only, so a socat forwarder in the root namespace relays
10.77.N.1:5432 to it. Without root or without ``ip netns`` everything runs on loopback. The
subnet and names carry this process's id, so runs side by side do not collide; ``close`` removes
what ``open`` made, and is safe to call after a half-finished ``open``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

PG_PORT = 5432


@dataclass
class Hosts:
    mode: str  # "netns" or "loopback"
    root: str  # the root namespace's address as the others see it
    serve_ip: str
    worker_ip: str
    serve_ns: str | None = None
    worker_ns: str | None = None
    _bridge: str | None = None
    _links: list[str] = field(default_factory=list)
    _forwarder: subprocess.Popen[bytes] | None = None

    def prefix(self, role: str) -> list[str]:
        """The argv prefix that runs a command on the host of ``role`` (serve or worker)."""
        ns = self.serve_ns if role == "serve" else self.worker_ns
        return ["ip", "netns", "exec", ns] if ns else []

    def db_url(self, url: str) -> str:
        """``url`` as a process on another host reaches it: through the forwarder."""
        return url.replace("127.0.0.1", self.root) if self.mode == "netns" else url

    def close(self) -> None:
        if self._forwarder is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._forwarder.pid, signal.SIGTERM)
            self._forwarder.wait(timeout=10)
            self._forwarder = None
        for ns in (self.serve_ns, self.worker_ns):
            if ns:
                _ip("netns", "del", ns, check=False)
        for link in self._links:
            _ip("link", "del", link, check=False)
        if self._bridge:
            _ip("link", "del", self._bridge, check=False)
        self._links.clear()
        self._bridge = self.serve_ns = self.worker_ns = None


def open_hosts(*, want_netns: bool = True) -> Hosts:
    """Two namespaces when this process may make them, loopback otherwise."""
    why = _netns_unavailable() if want_netns else "not asked for"
    if why:
        print(f"hosts: loopback ({why})", file=sys.stderr, flush=True)
        return Hosts("loopback", "127.0.0.1", "127.0.0.1", "127.0.0.1")
    n = os.getpid() % 200 + 20
    tag = f"rbt{os.getpid() % 100000}"
    hosts = Hosts(
        "netns",
        f"10.77.{n}.1",
        f"10.77.{n}.2",
        f"10.77.{n}.3",
        serve_ns=f"{tag}s",
        worker_ns=f"{tag}w",
    )
    try:
        _build(hosts, tag, n)
    except BaseException:
        hosts.close()
        raise
    print(
        f"hosts: network namespaces {hosts.serve_ns} ({hosts.serve_ip}: serve) and "
        f"{hosts.worker_ns} ({hosts.worker_ip}: workers); root side {hosts.root}",
        file=sys.stderr,
        flush=True,
    )
    return hosts


def _netns_unavailable() -> str:
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None or shutil.which("socat") is None:
        return "ip or socat missing"
    probe = f"rbtprobe{os.getpid() % 100000}"
    if _ip("netns", "add", probe, check=False) != 0:
        return "ip netns add failed"
    _ip("netns", "del", probe, check=False)
    return ""


def _build(hosts: Hosts, tag: str, n: int) -> None:
    hosts._bridge = f"{tag}b"
    _ip("link", "add", hosts._bridge, "type", "bridge")
    _ip("addr", "add", f"{hosts.root}/24", "dev", hosts._bridge)
    _ip("link", "set", hosts._bridge, "up")
    for ns, ip, end in ((hosts.serve_ns, hosts.serve_ip, "s"), (hosts.worker_ns, hosts.worker_ip, "w")):
        assert ns is not None
        outer, inner = f"{tag}{end}o", f"{tag}{end}i"
        _ip("netns", "add", ns)
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        hosts._links.append(outer)
        _ip("link", "set", inner, "netns", ns)
        _ip("link", "set", outer, "master", hosts._bridge)
        _ip("link", "set", outer, "up")
        _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", inner)
        _ip("-n", ns, "link", "set", inner, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
    hosts._forwarder = subprocess.Popen(
        [
            "socat",
            f"TCP-LISTEN:{PG_PORT},bind={hosts.root},reuseaddr,fork,backlog=256",
            f"TCP:127.0.0.1:{PG_PORT}",
        ],
        start_new_session=True,
    )
    _wait_listening(hosts.root, PG_PORT)


def _wait_listening(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


def _ip(*args: str, check: bool = True) -> int:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.returncode
