"""`revbridge serve` in a subprocess for the soak (bench/soak.py), as a user starts it: a fresh
home, ``revbridge db upgrade``, a ``system`` key from ``revbridge apikey create``, serve on free
ports picked here, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`revbridge serve` in a subprocess, as a user starts it, with its home and API key."""

    def __init__(self, home: Path, *, db: str | None, workers: int, log_level: str) -> None:
        self.home = home
        self.http_port, self.mllp_port = free_port(), free_port()
        self.env = dict(os.environ, REVBRIDGE_HOME=str(home), REVBRIDGE_LOG_LEVEL=log_level)
        self.env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])
        )
        if db:
            self.env["REVBRIDGE_DB"] = db
        self.db_url = db or f"sqlite:///{(home / 'revbridge.db').resolve()}"
        self.workers = workers
        self.inbox = home / "inbox"
        self.process: subprocess.Popen[bytes] | None = None
        self.command = [sys.executable, "-m", "revbridge"]

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*self.command, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"revbridge {args[0]} failed: {done.stderr[-2000:]}")
        return done.stdout

    def start(self) -> str:
        """Create the schema and an API key, start serve, wait until both ports answer; the key."""
        self.cli("db", "upgrade")
        key = str(
            json.loads(self.cli("apikey", "create", "--role", "system", "--name", "soak", "--json"))["key"]
        )
        log = (self.home / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [*self.command, "serve", *self.options()],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while not all(self._answers(p) for p in (self.http_port, self.mllp_port)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {(self.home / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.2)
        return key

    def options(self) -> list[str]:
        return [
            "--port",
            str(self.http_port),
            "--mllp-port",
            str(self.mllp_port),
            "--workers",
            str(self.workers),
        ]

    @staticmethod
    def _answers(port: int) -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    def stop(self) -> int | None:
        """Ctrl-C, as a user stops it; killed if it has not stopped within a minute."""
        if self.process is None:
            return None
        self.process.send_signal(2)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
