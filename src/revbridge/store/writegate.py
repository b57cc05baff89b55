"""SQLite's one writer, shared fairly by threads and processes, with intake first.

SQLite lets one transaction write at a time. Left to itself, a writer that finds the lock taken
polls it with sleeps of up to 100 ms, so a busy writer can starve another for seconds, and an MLLP
acknowledgement could wait a worker's whole batch plus a sleep. So writers queue here instead:
- inside one process, on a lock (threads take turns as they arrive);
- across processes (``revbridge serve`` and its worker processes on one database file), on an
  exclusive ``flock`` of ``<database>-writer`` beside the file, which the kernel hands to a waiting
  process the moment it is released;
- intake first: a priority writer (intake's group commit, whose callers are waiting for their
  ACK) holds ``<database>-gate`` shared while it waits and writes; any other writer first waits
  until no priority writer is waiting (for at most ``YIELD_SECONDS``, so workers are never starved
  by a saturated intake) and only then queues for the writer's lock; and a worker holding the lock
  asks ``priority_waiting`` between messages and commits at once when intake waits. An
  acknowledgement therefore waits for at most the one message a worker is writing.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

# The longest a worker waits for waiting priority writers before it queues anyway.
YIELD_SECONDS = 0.005


class WriteGate:
    def __init__(self, database: Path | None) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._writer = self._gate = -1
        if database is not None:
            self._writer = _open(Path(f"{database}-writer"))
            self._gate = _open(Path(f"{database}-gate"))

    def acquire(self, *, priority: bool) -> None:
        me = threading.get_ident()
        if self._owner == me:  # a second writing connection in the same thread
            self._depth += 1
            return
        self._lock.acquire()
        try:
            if self._writer >= 0:
                self._acquire_file(priority)
        except BaseException:
            self._lock.release()
            raise
        self._owner, self._depth = me, 1

    def _acquire_file(self, priority: bool) -> None:
        if priority:
            fcntl.flock(self._gate, fcntl.LOCK_SH)
        else:
            _wait_for_priority(self._gate)
        try:
            fcntl.flock(self._writer, fcntl.LOCK_EX)
        except BaseException:
            if priority:
                fcntl.flock(self._gate, fcntl.LOCK_UN)
            raise

    def priority_waiting(self) -> bool:
        """Whether a priority writer (intake, in any process) is waiting for the writer's lock:
        a worker that holds it ends its transaction at the next message boundary."""
        if self._gate < 0:
            return False
        try:
            fcntl.flock(self._gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._gate, fcntl.LOCK_UN)
        return False

    def release(self) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        self._owner = None
        if self._writer >= 0:
            fcntl.flock(self._writer, fcntl.LOCK_UN)
            fcntl.flock(self._gate, fcntl.LOCK_UN)  # a no-op unless this was a priority writer
        self._lock.release()

    def close(self) -> None:
        for fd in (self._writer, self._gate):
            if fd >= 0:
                os.close(fd)
        self._writer = self._gate = -1


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _wait_for_priority(gate: int) -> None:
    """Return once no priority writer waits or writes (or after ``YIELD_SECONDS``)."""
    deadline = time.monotonic() + YIELD_SECONDS
    while True:
        try:
            fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.0005)
            continue
        fcntl.flock(gate, fcntl.LOCK_UN)
        return
