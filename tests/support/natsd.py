"""A NATS JetStream server of the test's own, so it can be stopped and started again mid-run.

The shared server at 127.0.0.1:4222 serves every test on the machine; a broker restart there
would break the others. ``/usr/sbin/nats-server`` (Debian's nats-server) runs here from a
temporary directory on a free port with a file store under it (``-sd``). ``stop`` ends it with
SIGTERM (a clean shutdown) or SIGKILL (as when the host dies: the file store must recover what
it acknowledged to publishers), and ``start`` brings it back on the same port and the same store,
so a client configured with its URL finds the streams and durable consumers it left.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats

NATS_SERVER = Path("/usr/sbin/nats-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Natsd:
    root: Path  # the store (root/store) and the log (root/nats.log)
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30) -> None:
        """Start the server and return once JetStream answers (after a restart it first
        recovers the streams from the store)."""
        log = self.root / "nats.log"
        args = [str(NATS_SERVER), "-a", "127.0.0.1", "-p", str(self.port), "-js"]
        args += ["-sd", str(self.root / "store"), "-l", str(log)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited at start: {log.read_text()[-2000:]}")
            if asyncio.run(self._answers()):
                return
            time.sleep(0.1)
        self.stop(kill=True)
        raise RuntimeError("nats-server's JetStream did not answer in time")

    async def _answers(self) -> bool:
        try:
            client = await nats.connect(self.url, connect_timeout=1, allow_reconnect=False, error_cb=_quiet)
        except Exception:  # not listening yet
            return False
        try:
            await client.jetstream().account_info()
            return True
        except Exception:  # listening, JetStream not ready yet
            return False
        finally:
            await client.close()

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (shut down cleanly) or SIGKILL (no flush, no goodbye to clients)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


async def _quiet(exc: Exception) -> None:
    """Not listening yet is what ``start`` waits out, not an error to log with a traceback."""


def start_natsd(root: Path) -> Natsd:
    root.mkdir(parents=True, exist_ok=True)
    server = Natsd(root.resolve())
    server.start()
    return server
