"""Worker processes: ``revbridge serve`` parses, posts and sends to the ERP in child processes.

The listeners (MLLP, HTTP, the drop folder) stay in the serving process with nothing else taking
its interpreter lock, so an acknowledgement waits only for its own commit, never for a worker's
parsing or posting. Each child is a plain ``revbridge worker`` process (the same command an
operator runs on another host), started with the serving process's database and settings file;
the environment (``REVBRIDGE_*``) is inherited.

The serving process rings its children through a pipe after each intake commit, so an idle worker
wakes at once instead of at its next poll; the pipe also tells a child that its parent is gone
(end of file), and the child stops. A child that dies (killed, crashed) is started again, with a
growing pause if it keeps dying at once. Nothing is lost when a child dies: its leases expire and
another worker takes its messages; the outbox finds a journal at the ERP before it sends it again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from revbridge.observability.logging import get_logger

log = get_logger("revbridge.service")

# Worker processes run at this lower CPU priority: when the host is busy, the listeners (whose
# senders wait for each ACK) go first, and the workers catch up on the backlog in the quiet.
NICE = 10
# A child that lives shorter than this after its start died "at once": its restart waits longer.
STEADY_SECONDS = 10.0
MAX_PAUSE_SECONDS = 30.0
# How long a stop (Ctrl-C, SIGTERM) gives the children before it kills them.
STOP_SECONDS = 10.0


@dataclass
class _Child:
    number: int
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    bell: int | None = None  # write end of the wake-up pipe
    started: float = 0.0
    pause: float = 1.0
    due: float = 0.0  # when a dead child may start again

    def start(self) -> None:
        read, write = os.pipe()
        os.set_blocking(write, False)
        try:
            self.proc = subprocess.Popen([*self.argv, "--wake-fd", str(read)], pass_fds=(read,))
        finally:
            os.close(read)
        self.bell, self.started = write, time.monotonic()
        log.info("worker_process.started", number=self.number, pid=self.proc.pid)

    def ring(self) -> None:
        if self.bell is None:
            return
        # a full pipe already says "work"; a closed one is a dead child, restarted soon
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(self.bell, b"!")

    def close_bell(self) -> None:
        if self.bell is not None:
            os.close(self.bell)
            self.bell = None


@dataclass
class WorkerProcesses:
    """``count`` children running ``revbridge worker <args>``, kept alive until ``stop``."""

    count: int
    args: Sequence[str] = ()
    threads: int = 1
    _children: list[_Child] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "revbridge",
            "worker",
            "--threads",
            str(self.threads),
            "--nice",
            str(NICE),
        ]
        argv.extend(self.args)
        self._children = [_Child(n, argv) for n in range(self.count)]
        for child in self._children:
            child.start()

    def ring(self) -> None:
        """A message was committed: wake the children (never blocks)."""
        for child in self._children:
            child.ring()

    def pids(self) -> list[int]:
        return [c.proc.pid for c in self._children if c.proc is not None and c.proc.poll() is None]

    def supervise(self, stop: threading.Event, *, interval: float = 0.5) -> None:
        """Start again every child that died, until ``stop``."""
        while not stop.wait(interval):
            with self._lock:
                for child in self._children:
                    self._revive(child, stop)

    def _revive(self, child: _Child, stop: threading.Event) -> None:
        assert child.proc is not None
        code = child.proc.poll()
        if code is None or stop.is_set():
            return
        now = time.monotonic()
        if child.bell is not None:  # first look since it died
            child.close_bell()
            lived = now - child.started
            child.pause = 1.0 if lived >= STEADY_SECONDS else min(child.pause * 2, MAX_PAUSE_SECONDS)
            child.due = now + child.pause
            log.warning("worker_process.exited", number=child.number, code=code, restart_in=child.pause)
        if now >= child.due:
            child.start()

    def terminate(self) -> None:
        """Ask every child to finish what it holds and stop (SIGTERM), without waiting: the
        serving process stops its own threads meanwhile."""
        with self._lock:
            for child in self._children:
                child.close_bell()
                if child.proc is not None and child.proc.poll() is None:
                    child.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """``terminate``, then kill what is left after ``timeout`` seconds: a child in the middle
        of a large remittance would finish it first, and Ctrl-C must not wait minutes for that.
        Killing it loses nothing: its leases expire and a worker takes its messages again."""
        self.terminate()
        deadline = time.monotonic() + timeout
        with self._lock:
            for child in self._children:
                if child.proc is None:
                    continue
                try:
                    child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("worker_process.killed", number=child.number, pid=child.proc.pid)
                    child.proc.kill()
                    child.proc.wait()
