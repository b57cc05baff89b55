"""The torture run's revbridge processes, and the chaos that kills them.

Intake nodes run ``revbridge serve --workers 0`` (listeners only: MLLP, HTTP, their own drop
folder) on the serve host; worker nodes run ``revbridge worker`` (processing, the posting loop,
the ERP outbox) on the worker host. Each node keeps its slot: the same ports and the same inbox
after every restart, as a service manager would restart it. The supervisor restarts a node that
died (killed by the chaos loop, or by a fault point it was armed with), and counts the deaths:
an exit that was neither our SIGKILL nor a fault point's is a crash, and the run reports it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Node:
    role: str  # serve | worker
    slot: int
    argv: list[str]
    env: dict[str, str]
    log: Path
    mllp_port: int = 0
    http_port: int = 0
    inbox: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    killed_by_us: bool = False
    armed: str = ""  # the REVBRIDGE_FAULTS of the running process
    restart_at: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.role}-{self.slot}"

    def start(self, faults: str) -> None:
        env = dict(self.env)
        if faults:
            env["REVBRIDGE_FAULTS"] = faults
        self.armed, self.killed_by_us = faults, False
        with self.log.open("ab") as out:
            out.write(f"\n--- start {time.strftime('%H:%M:%S')} faults={faults!r}\n".encode())
            self.proc = subprocess.Popen(
                self.argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.killed_by_us = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the node and anything it started
            self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def contract_available(python: str, env: dict[str, str]) -> bool:
    """Whether this revbridge has the process contract (``revbridge worker --threads``; an older
    ``revbridge worker`` ran the message workers only, and ``serve --workers 0`` still posted)."""
    done = subprocess.run(
        [python, "-m", "revbridge", "worker", "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode == 0 and "--threads" in done.stdout


def node_argv(role: str, *, python: str, threads: int) -> list[str]:
    if role == "serve":
        return [python, "-m", "revbridge", "serve", "--workers", "0"]
    return [python, "-m", "revbridge", "worker", "--threads", str(threads)]


@dataclass
class Chaos:
    """Kills a random node every ``interval`` seconds (on average) and restarts the dead."""

    nodes: list[Node]
    interval: float
    faults: dict[str, str]  # role -> REVBRIDGE_FAULTS for the starts that get them armed
    armed_every: int = 2  # every n-th restart of a node runs with its fault point armed
    restarts: Counter[str] = field(default_factory=Counter)  # by node
    restart_delay: tuple[float, float] = (0.2, 1.5)
    kills: Counter[str] = field(default_factory=Counter)  # by role: our SIGKILLs
    fault_deaths: Counter[str] = field(default_factory=Counter)  # by role: fault points fired
    crashes: list[str] = field(default_factory=list)  # any other exit
    _killing: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _calming: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _rng: random.Random = field(default_factory=lambda: random.Random(7))

    def start_all(self) -> None:
        for node in self.nodes:
            node.start("")
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)
        self._thread.start()

    def unleash(self) -> None:
        self._killing.set()

    def calm(self, timeout: float = 30.0) -> None:
        """Stop killing and disarm: every armed node is killed and restarted without fault points
        (by the chaos thread, the only one that starts nodes); returns once none is armed."""
        self._killing.clear()
        self._calming.set()
        deadline = time.monotonic() + timeout
        while self._calming.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _disarm(self, now: float) -> None:
        self.faults = {}
        for node in self.nodes:
            if node.armed and node.alive():
                node.kill()
                self.kills[node.role] += 1
                node.restart_at = now
        self._calming.clear()

    @property
    def total_kills(self) -> int:
        return sum(self.kills.values()) + sum(self.fault_deaths.values())

    def _run(self) -> None:
        next_kill = time.monotonic() + self._gap()
        while not self._stop.is_set():
            now = time.monotonic()
            if self._calming.is_set():
                self._disarm(now)
            self._supervise(now)
            if self._killing.is_set() and now >= next_kill:
                live = [n for n in self.nodes if n.alive()]
                if live:
                    victim = self._rng.choice(live)
                    victim.kill()
                    self.kills[victim.role] += 1
                    victim.restart_at = now + self._rng.uniform(*self.restart_delay)
                next_kill = now + self._gap()
            time.sleep(0.05)

    def _gap(self) -> float:
        return self._rng.uniform(0.5, 1.5) * self.interval

    def _supervise(self, now: float) -> None:
        for node in self.nodes:
            if node.proc is None or node.alive():
                continue
            code = node.proc.returncode
            if not node.killed_by_us:
                if code == -signal.SIGKILL and node.armed:
                    self.fault_deaths[node.role] += 1
                else:
                    self.crashes.append(f"{node.name} exited with {code} (see {node.log})")
                node.killed_by_us = True  # counted once
                node.restart_at = now + self._rng.uniform(*self.restart_delay)
            if now >= node.restart_at:
                self.restarts[node.name] += 1
                due = (self.restarts[node.name] - 1) % self.armed_every == 0
                armed = self.faults.get(node.role, "") if due else ""
                node.start(armed)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for node in self.nodes:
            node.stop()


def python() -> str:
    return sys.executable
