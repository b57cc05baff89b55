"""SQLite's write gate across processes: intake (a priority writer) goes before a worker that
arrived after it, and writers in different processes never overlap."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import threading
import time
from multiprocessing.queues import Queue
from pathlib import Path

import pytest

from revbridge.store import writegate
from revbridge.store.writegate import WriteGate

CTX = mp.get_context("fork")  # the children build their own gate; nothing else is shared


def _writer(
    path: str, name: str, priority: bool, start_at: float, hold: float, log: Queue[tuple[str, float, float]]
) -> None:
    writegate.YIELD_SECONDS = 30.0  # wait for the priority writer for as long as it takes
    gate = WriteGate(Path(path))
    time.sleep(max(0.0, start_at - time.time()))
    gate.acquire(priority=priority)
    got = time.time()
    time.sleep(hold)
    left = time.time()
    gate.release()
    log.put((name, got, left))


def _run(tmp_path: Path, plan: list[tuple[str, bool, float, float]]) -> list[tuple[str, float, float]]:
    log: Queue[tuple[str, float, float]] = CTX.Queue()
    t0 = time.time() + 0.5
    procs = [
        CTX.Process(target=_writer, args=(str(tmp_path / "db.sqlite"), name, priority, t0 + at, hold, log))
        for name, priority, at, hold in plan
    ]
    for p in procs:
        p.start()
    entries = sorted((log.get(timeout=30) for _ in procs), key=lambda e: e[1])
    for p in procs:
        p.join(timeout=10)
    return entries


def test_intake_goes_before_a_worker_that_queued_after_it(tmp_path: Path) -> None:
    # a worker writes for 0.6 s; intake queues at 0.2 s, a second worker at 0.4 s: when the first
    # worker is done, intake writes next although the second worker is also waiting
    entries = _run(
        tmp_path,
        [("worker-1", False, 0.0, 0.6), ("intake", True, 0.2, 0.1), ("worker-2", False, 0.4, 0.1)],
    )
    assert [name for name, _, _ in entries] == ["worker-1", "intake", "worker-2"]
    for (_, _, left), (_, got, _) in itertools.pairwise(entries):
        assert got >= left  # one writer at a time


def test_writers_in_different_processes_take_turns(tmp_path: Path) -> None:
    entries = _run(tmp_path, [(f"w{n}", n % 2 == 0, 0.0, 0.05) for n in range(6)])
    assert len(entries) == 6
    for (_, _, left), (_, got, _) in itertools.pairwise(entries):
        assert got >= left


def test_a_worker_waits_for_intake_only_so_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A saturated intake must not starve the workers: past YIELD_SECONDS a worker queues for
    the writer anyway (here intake holds the gate all along)."""
    monkeypatch.setattr(writegate, "YIELD_SECONDS", 0.05)
    intake, worker = WriteGate(tmp_path / "db.sqlite"), WriteGate(tmp_path / "db.sqlite")
    intake.acquire(priority=True)
    try:
        started = time.monotonic()
        writegate._wait_for_priority(worker._gate)  # another open file: as another process holds it
        waited = time.monotonic() - started
    finally:
        intake.release()
    assert 0.045 <= waited < 0.5
    started = time.monotonic()
    writegate._wait_for_priority(worker._gate)  # nobody waiting: no wait at all
    assert time.monotonic() - started < 0.04


def test_a_writing_worker_sees_that_intake_waits(tmp_path: Path) -> None:
    """Between messages a worker asks whether intake waits for the writer; it does exactly while
    a priority writer is queued (here in another thread, through another open file, as another
    process would)."""
    worker, intake = WriteGate(tmp_path / "db.sqlite"), WriteGate(tmp_path / "db.sqlite")
    worker.acquire(priority=False)
    assert not worker.priority_waiting()
    queued = threading.Thread(target=lambda: (intake.acquire(priority=True), intake.release()))
    queued.start()
    deadline = time.monotonic() + 5
    while not worker.priority_waiting():
        assert time.monotonic() < deadline, "the waiting intake was not seen"
        time.sleep(0.01)
    worker.release()
    queued.join(timeout=5)
    assert not queued.is_alive()
    assert not worker.priority_waiting()
