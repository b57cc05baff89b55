"""The worker contract on SQLite and PostgreSQL: terminal states, retries, leases."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lineformat import FORMATS
from runtime import build_runtime
from sqlalchemy import Connection, event, select

from revbridge.core.clock import FixedClock
from revbridge.pipeline import yielding
from revbridge.pipeline.worker import LARGE_MESSAGE_EVENTS
from revbridge.store import events, queue, workitems
from revbridge.store.messages import Arrival
from revbridge.store.schema import messages

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _put(rt, payload: str, key: str = "") -> str:  # type: ignore[no-untyped-def]
    return rt.store.accept(
        Arrival(channel="test", format="lines", payload=payload.encode(), dedupe_key=key)
    ).message_id


def _status(rt, mid: str) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    with rt.db.reading() as conn:
        row = conn.execute(
            select(messages.c.status, messages.c.terminal_reason).where(messages.c.id == mid)
        ).one()
    return row.status, row.terminal_reason


def test_terminal_states(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS, clock=FixedClock(T0))
    try:
        ok = _put(rt, "CHARGE c1 10.00\nCHARGE c2 5.50")
        bad = _put(rt, "CHARGE c3 1\nBAD MISSING_AMOUNT")
        ignored = _put(rt, "IGNORE")
        repeat = _put(rt, "ID again\nCHARGE c1 10.00")
        conflict = _put(rt, "ID other\nCHARGE c2 7.00")
        assert rt.worker().drain() == 5
        assert _status(rt, ok) == ("processed", "2 events")
        assert _status(rt, bad) == ("excepted", "MISSING_AMOUNT")
        assert _status(rt, ignored) == ("ignored", "test.ignore")
        assert _status(rt, repeat)[0] == "processed"
        assert _status(rt, conflict) == ("excepted", "EVENT_CONFLICT")
        assert events.count(rt.db) == 3  # c1, c2, c3: the repeat and the conflict add nothing
        items = workitems.list_items(rt.db)
        assert sorted((i.code, i.message_id, i.locator) for i in items) == sorted(
            [("MISSING_AMOUNT", bad, "line[2]"), ("EVENT_CONFLICT", conflict, "line[2]")]
        )
        counts = rt.status()["messages"]
        assert counts["processed"] == 2 and counts["excepted"] == 2 and counts["ignored"] == 1
        assert counts["pending"] == 0 and counts["processing"] == 0
    finally:
        rt.close()


def test_a_raising_parser_is_retried_then_excepted_and_the_queue_flows(db_url: str, tmp_path: Path) -> None:
    clock = FixedClock(T0)
    rt = build_runtime(db_url, tmp_path, formats=FORMATS, clock=clock, max_attempts=3, retry_base_seconds=1.0)
    try:
        poison = _put(rt, "RAISE\nNAME Sentinel-Quillfeather")
        later = _put(rt, "CHARGE after 1")
        worker = rt.worker()
        worker.drain()
        assert _status(rt, later)[0] == "processed"
        status, reason = _status(rt, poison)
        assert status == "pending" and reason == "lines parser raised ValueError"
        for _ in range(2):
            clock.advance(timedelta(minutes=5))
            worker.drain()
        assert _status(rt, poison)[0] == "excepted"
        (item,) = workitems.list_items(rt.db, code="PARSER_FAILED")
        assert item.message_id == poison
        assert "Sentinel" not in item.message and "ValueError" in item.message
        with rt.db.reading() as conn:
            attempts = conn.execute(select(messages.c.attempts).where(messages.c.id == poison)).scalar_one()
        assert attempts == 3
    finally:
        rt.close()


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_finish(db_url: str, tmp_path: Path) -> None:
    clock = FixedClock(T0)
    rt = build_runtime(db_url, tmp_path, formats=FORMATS, clock=clock, lease_seconds=30)
    try:
        mid = _put(rt, "CHARGE c1 1")
        dead = rt.worker(owner="dead-worker")
        (claimed,) = queue.claim(
            rt.db, owner="dead-worker", now=clock.now(), lease=timedelta(seconds=30), limit=10
        )
        assert claimed.id == mid
        live = rt.worker(owner="live-worker")
        assert live.run_once() == 0  # still leased
        clock.advance(timedelta(seconds=31))
        assert live.run_once() == 1
        assert _status(rt, mid)[0] == "processed"
        assert dead.process(claimed) is None  # lease lost: nothing written twice
        assert events.count(rt.db) == 1
    finally:
        rt.close()


def test_purged_or_unknown_format_messages_are_excepted_not_lost(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        mid = rt.store.accept(Arrival(channel="test", format="nosuch", payload=b"x")).message_id
        rt.worker().drain()
        assert _status(rt, mid) == ("excepted", "UNSUPPORTED_FORMAT")
    finally:
        rt.close()


def test_a_large_message_commits_after_the_small_ones_claimed_with_it(db_url: str, tmp_path: Path) -> None:
    """An ERA of thousands of claims must not hold a patient payment claimed in the same batch
    until it is done: the small messages are durable before the large one's transaction."""
    clock = FixedClock(T0)
    rt = build_runtime(db_url, tmp_path, formats=FORMATS, clock=clock)
    try:
        small = _put(rt, "CHARGE s1 1")
        large = _put(rt, "\n".join(f"CHARGE big{n} 1" for n in range(LARGE_MESSAGE_EVENTS)))
        other = _put(rt, "CHARGE s2 2")
        claimed = queue.claim(rt.db, owner="w", now=clock.now(), lease=timedelta(seconds=60), limit=10)
        assert [c.id for c in claimed] == [small, large, other]
        seen: list[dict[str, str]] = []

        def snapshot(conn: Connection) -> None:  # before each commit, what that transaction holds
            rows = conn.exec_driver_sql("SELECT id, status FROM messages").all()
            seen.append({str(mid): str(status) for mid, status in rows})

        event.listen(rt.db.engine, "commit", snapshot)
        try:
            results = rt.worker(owner="w").process_batch(claimed)
        finally:
            event.remove(rt.db.engine, "commit", snapshot)
        assert [r.message_id for r in results] == [small, other, large]
        # The small ones commit first (in one transaction, or in more when one runs past
        # MAX_TRANSACTION_SECONDS on a slow machine), the large one last, in its own.
        states = [(s[small], s[other], s[large]) for s in seen]
        assert states[-2:] == [
            ("processed", "processed", "processing"),
            ("processed", "processed", "processed"),
        ]
        assert len(states) <= 3 and all(s[2] == "processing" for s in states[:-1])
        assert events.count(rt.db) == LARGE_MESSAGE_EVENTS + 2
    finally:
        rt.close()


def test_an_idle_worker_wakes_when_a_message_arrives(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    stop = threading.Event()
    worker = threading.Thread(target=rt.worker().run, args=(stop,), kwargs={"idle_sleep": 60.0})
    worker.start()
    try:
        time.sleep(0.3)  # the worker found nothing and sleeps for up to a minute
        mid = _put(rt, "CHARGE c1 1")
        deadline = time.monotonic() + 10
        while _status(rt, mid)[0] != "processed" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _status(rt, mid)[0] == "processed"
    finally:
        stop.set()
        rt.arrivals.notify()
        worker.join(timeout=5)
        rt.close()


def test_a_batch_commits_in_short_transactions_and_every_message_ends_once(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's transaction ends once its time is up (intake must not wait behind a whole batch
    for SQLite's one writer; two workers must not hold a batch's row locks against each other on
    PostgreSQL): with no time at all, each message commits alone, and every one still ends exactly
    once with its events, a message in error included."""
    monkeypatch.setattr(yielding, "TRANSACTION_SECONDS", 0.0)
    clock = FixedClock(T0)
    rt = build_runtime(db_url, tmp_path, formats=FORMATS, clock=clock)
    try:
        ids = [_put(rt, f"CHARGE t{n} {n + 1}") for n in range(5)]
        bad = _put(rt, "CHARGE t9 1\nBAD MISSING_AMOUNT")
        claimed = queue.claim(rt.db, owner="w", now=clock.now(), lease=timedelta(seconds=60), limit=10)
        commits: list[int] = []
        event.listen(rt.db.engine, "commit", lambda _conn: commits.append(1))
        results = rt.worker(owner="w").process_batch(claimed)
        assert sorted(r.message_id for r in results) == sorted([*ids, bad])
        assert len(commits) == 6  # one transaction per message
        assert [_status(rt, mid)[0] for mid in ids] == ["processed"] * 5
        assert _status(rt, bad) == ("excepted", "MISSING_AMOUNT")
        assert events.count(rt.db) == 6
    finally:
        rt.close()

    monkeypatch.setattr(yielding, "TRANSACTION_SECONDS", 60.0)
    rt = build_runtime(db_url, tmp_path / "long", formats=FORMATS, clock=clock)
    try:
        for n in range(5):
            _put(rt, f"CHARGE u{n} 1")
        claimed = queue.claim(rt.db, owner="w", now=clock.now(), lease=timedelta(seconds=60), limit=10)
        commits.clear()
        event.listen(rt.db.engine, "commit", lambda _conn: commits.append(1))
        assert len(rt.worker(owner="w").process_batch(claimed)) == 5
        assert len(commits) == 1  # time enough: the batch is one transaction (one fsync)
    finally:
        rt.close()


def test_a_lost_lease_in_a_batched_transaction_undoes_that_message_alone(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction's messages send their writes together at its end (pipeline/batched.py): when
    one of them has lost its lease, the whole transaction is undone and run again message by
    message, so the others commit with their events and nothing of the lost one is written."""
    monkeypatch.setattr(yielding, "TRANSACTION_SECONDS", 60.0)  # the three in one transaction
    clock = FixedClock(T0)
    rt = build_runtime(db_url, tmp_path, formats=FORMATS, clock=clock)
    try:
        ids = [_put(rt, f"CHARGE v{n} {n + 1}") for n in range(3)]
        claimed = queue.claim(rt.db, owner="w", now=clock.now(), lease=timedelta(seconds=30), limit=10)
        later = clock.now() + timedelta(seconds=31)
        (taken,) = queue.claim(rt.db, owner="other", now=later, lease=timedelta(seconds=30), limit=1)
        assert taken.id == ids[0]
        commits: list[int] = []
        event.listen(rt.db.engine, "commit", lambda _conn: commits.append(1))
        results = rt.worker(owner="w").process_batch(claimed)
        assert sorted(r.message_id for r in results) == sorted(ids[1:])
        assert len(commits) == 1  # the batched run undone, the guarded run committed
        assert [_status(rt, mid)[0] for mid in ids] == ["processing", "processed", "processed"]
        assert events.for_message(rt.db, ids[0]) == []  # its new owner records them
        assert events.count(rt.db) == 2  # v1 and v2's charges only
    finally:
        rt.close()
