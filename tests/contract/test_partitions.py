"""PostgreSQL's monthly partitions (migration 0006, store/partitions.py) and the records horizon
(store/horizon.py): rows land in their month, dedupe holds across months and across dropped
months, a month is dropped only when nothing still needs it, and the migration keeps the rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lineformat import FORMATS
from pgdb import create_pg_database, drop_pg_database
from sqlalchemy import create_engine, insert, select, text, update

from revbridge.bootstrap import Runtime, build
from revbridge.core.clock import FixedClock
from revbridge.ledger.period import PeriodStatus
from revbridge.settings import Settings
from revbridge.store import audit, horizon, partitions, periods, workitems
from revbridge.store.messages import Arrival
from revbridge.store.schema import event_lines, events, journals, message_keys, messages

pytestmark = pytest.mark.postgres

JAN = datetime(2025, 1, 15, 12, tzinfo=UTC)
FEB = datetime(2025, 2, 10, 12, tzinfo=UTC)
MAR = datetime(2025, 3, 5, 12, tzinfo=UTC)


@pytest.fixture
def url() -> Iterator[str]:
    """A database of its own: these tests create and drop partitions."""
    found = create_pg_database("rbpart")
    yield found
    drop_pg_database(found)


@pytest.fixture
def rt(url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build(
        Settings(home=tmp_path, db=url),
        clock=FixedClock(JAN),
        formats=FORMATS,
        upgrade=True,
        posting=False,
        with_reference_config=False,
    )
    yield runtime
    runtime.close()


def at(rt: Runtime, moment: datetime) -> None:
    clock = rt.clock
    assert isinstance(clock, FixedClock)
    clock.set(moment)


def accept(rt: Runtime, body: str) -> str:
    return rt.store.accept(Arrival(channel="test", format="lines", payload=body.encode())).message_id


def homes(rt: Runtime, table: str) -> dict[str, str]:
    """Row id -> the partition that holds it."""
    with rt.db.reading() as conn:
        rows = conn.execute(text(f"SELECT id::text, tableoid::regclass::text FROM {table}"))
        return {r[0]: r[1] for r in rows}


def test_partitions_exist_after_upgrade(rt: Runtime) -> None:
    now = partitions.month_of(datetime.now(UTC))
    ahead = partitions.months_from(now, partitions.AHEAD + 1)
    with rt.db.reading() as conn:
        for table in ("messages", "events"):
            assert partitions.is_partitioned(conn, table)
            assert set(ahead) <= set(partitions.existing_months(conn, table))
            assert conn.execute(text("SELECT to_regclass(:n)"), {"n": f"{table}_default"}).scalar()
        assert not partitions.is_partitioned(conn, "message_keys")
        assert not partitions.is_partitioned(conn, "event_keys")


def test_rows_land_in_their_month(rt: Runtime) -> None:
    jan = [accept(rt, "ID j1\nCHARGE cj1 1.00"), accept(rt, "ID j2\nCHARGE cj2 2.00")]
    rt.worker().drain()
    at(rt, FEB)
    feb = accept(rt, "ID f1\nCHARGE cf1 3.00")
    rt.worker().drain()
    placed = homes(rt, "messages")
    assert {placed[m] for m in jan} == {"messages_p2025_01"} and placed[feb] == "messages_p2025_02"
    with rt.db.reading() as conn:
        rows = conn.execute(text("SELECT key, tableoid::regclass::text FROM events")).all()
        assert dict(rows) == {"cj1": "events_p2025_01", "cj2": "events_p2025_01", "cf1": "events_p2025_02"}
        assert set(partitions.existing_months(conn, "messages")) >= set(
            partitions.months_from(date(2025, 1, 1), partitions.AHEAD + 2)
        )
        for table in ("messages_default", "events_default"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


def test_a_row_in_the_default_partition_moves_to_its_month_when_it_is_made(rt: Runtime) -> None:
    mid = accept(rt, "ID d1\nCHARGE cd1 1.00")
    with rt.db.transaction() as conn:  # a clock far off: a month no partition covers yet
        conn.execute(
            update(messages).where(messages.c.id == mid).values(received_at=datetime(2024, 6, 3, tzinfo=UTC))
        )
    assert homes(rt, "messages")[mid] == "messages_default"
    with rt.db.transaction() as conn:
        partitions.lock(conn)
        assert partitions.create_month(conn, "messages", date(2024, 6, 1))
    assert homes(rt, "messages")[mid] == "messages_p2024_06"


def test_dedupe_holds_across_months_and_after_a_month_is_dropped(rt: Runtime) -> None:
    first = accept(rt, "ID k1\nCHARGE c1 5.00")
    rt.worker().drain()
    at(rt, FEB)
    again = rt.store.accept(Arrival(channel="test", format="lines", payload=b"ID k1\nCHARGE c1 5.00"))
    assert again.status == "duplicate" and again.duplicate_of == first
    rt.worker().drain()
    dropped = horizon.drop_months(rt.db, horizon=date(2025, 2, 1), now=FEB, actor="t", anchor=None)
    assert [m.month for m in dropped.dropped] == [date(2025, 1, 1)]
    assert first not in homes(rt, "messages")
    at(rt, MAR)
    late = rt.store.accept(Arrival(channel="test", format="lines", payload=b"ID k1\nCHARGE c1 5.00"))
    assert late.status == "duplicate" and late.duplicate_of == first
    # The event c1 was recorded in January, whose partition is gone: the same event in another
    # message is recognised (nothing new recorded), other content under its key is a conflict.
    same = accept(rt, "ID k2\nCHARGE c1 5.00")
    other = accept(rt, "ID k3\nCHARGE c1 6.00")
    rt.worker().drain()
    with rt.db.reading() as conn:
        assert conn.execute(select(events.c.key).where(events.c.message_id == same)).all() == []
        status = dict(
            conn.execute(
                select(messages.c.id, messages.c.status).where(messages.c.id.in_([same, other]))
            ).all()
        )
    assert status == {same: "processed", other: "excepted"}
    assert [i.code for i in workitems.list_items(rt.db, message_id=other)] == ["EVENT_CONFLICT"]


def _line(event_key: str, journal_id: str | None) -> dict[str, object]:
    return {
        "event_key": event_key,
        "document_key": event_key,
        "revision": "r1",
        "lane": "realtime",
        "legal_entity": "LE1",
        "posting_date": date(2025, 1, 15),
        "account": "1200",
        "role": "ar",
        "side": "debit",
        "amount_minor": 100,
        "currency": "USD",
        "facility": "F01",
        "cost_center": "CC",
        "payer_class": "SELF",
        "service_line": "ED",
        "journal_id": journal_id,
        "received_at": JAN,
        "created_at": JAN,
    }


def _journal(journal_id: str, status: str) -> dict[str, object]:
    return {
        "id": journal_id,
        "lane": "realtime",
        "legal_entity": "LE1",
        "posting_date": date(2025, 1, 15),
        "reference": journal_id,
        "moved_from": "[]",
        "status": status,
        "connector": "embedded",
        "attempts": 1,
        "uncertain": 0,
        "first_received_at": JAN,
        "created_at": JAN,
    }


def blockers(rt: Runtime, first_kept: date) -> dict[str, dict[str, int]]:
    report = horizon.inspect(rt.db, horizon=first_kept)
    return {f"{m.month:%Y-%m}": m.blockers for m in report.months}


def test_a_month_is_dropped_only_when_nothing_needs_it(rt: Runtime) -> None:
    kept = accept(rt, "ID a1\nCHARGE ca1 1.00")
    bad = accept(rt, "ID a2\nBAD UNMAPPED_DEPARTMENT")
    rt.worker().drain()
    late = accept(rt, "ID a3\nCHARGE ca3 3.00")  # processed in February: its event is February's
    at(rt, FEB)
    feb = accept(rt, "ID b1\nCHARGE cb1 1.00")
    first_kept = date(2025, 2, 1)
    assert blockers(rt, first_kept) == {"2025-01": {"non_terminal": 1, "open_work_items": 1}}
    rt.worker().drain()
    assert homes(rt, "events") and _event_home(rt, "ca3") == ("events_p2025_02", late)
    item = workitems.list_items(rt.db, message_id=bad)[0]
    with rt.db.transaction() as conn:
        workitems.close(conn, [item.id], status="resolved", actor="t", reason="fixed", now=FEB)
        conn.execute(insert(event_lines), [_line("ca1", None)])
    assert blockers(rt, first_kept) == {"2025-01": {"unposted": 1}}
    with rt.db.transaction() as conn:
        conn.execute(insert(journals), [_journal("J1", "posted")])
        conn.execute(update(event_lines).where(event_lines.c.event_key == "ca1").values(journal_id="J1"))
        conn.execute(insert(event_lines), [_line("ca3", "J1")])  # the straggler's line: same journal
    assert blockers(rt, first_kept) == {"2025-01": {"open_periods": 1}}
    refused = horizon.drop_months(rt.db, horizon=first_kept, now=FEB, actor="t", anchor=None)
    assert refused.dropped == () and [m.month for m in refused.months] == [date(2025, 1, 1)]
    assert kept in homes(rt, "messages")
    periods.set_status(rt.db, "LE1", "2025-01", PeriodStatus.CLOSED, actor="t", now=FEB, anchor=None)
    keys_before = dedupe_keys(rt)
    assert len(keys_before) == 4
    report = horizon.drop_months(rt.db, horizon=first_kept, now=FEB, actor="t", anchor=None)
    assert [m.month for m in report.dropped] == [date(2025, 1, 1)]
    gone = report.months[0]
    assert (gone.messages, gone.events) == (3, 2)  # ca1, and ca3 from February's partition
    assert set(homes(rt, "messages")) == {feb}
    with rt.db.reading() as conn:
        assert conn.execute(select(events.c.key)).scalars().all() == ["cb1"]
        assert conn.execute(text("SELECT to_regclass('messages_p2025_01')")).scalar() is None
        assert conn.execute(text("SELECT to_regclass('events_p2025_01')")).scalar() is None
        assert len(conn.execute(select(event_lines.c.id)).all()) == 2  # the subledger stays
        drops = [e for e in audit.entries(conn) if e.action == "retention.drop_month"]
    assert dedupe_keys(rt) == keys_before  # dedupe keys outlive their month
    assert [(e.target, e.details) for e in drops] == [("2025-01", {"messages": "3", "events": "2"})]
    assert audit.check(rt.db)[1] == []


def dedupe_keys(rt: Runtime) -> list[str]:
    with rt.db.reading() as conn:
        return list(
            conn.execute(select(message_keys.c.dedupe_key).order_by(message_keys.c.dedupe_key)).scalars()
        )


def _event_home(rt: Runtime, key: str) -> tuple[str, str]:
    with rt.db.reading() as conn:
        row = conn.execute(
            text("SELECT tableoid::regclass::text, message_id FROM events WHERE key = :k"), {"k": key}
        ).one()
        return row[0], row[1]


def cli(home: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "REVBRIDGE_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "revbridge", *args, "--db", db_url],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def test_the_purge_command_drops_months(rt: Runtime, url: str, tmp_path: Path) -> None:
    accept(rt, "ID c1\nCHARGE cc1 1.00")
    pending = accept(rt, "ID c2\nCHARGE cc2 2.00")
    rt.worker().drain()
    with rt.db.transaction() as conn:
        conn.execute(update(messages).where(messages.c.id == pending).values(status="pending"))
    dry = cli(tmp_path, url, "purge", "--drop-months-older-than", "1", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    found = json.loads(dry.stdout)["records"]
    assert found["dropped"] == [] and found["months"][0]["month"] == "2025-01"
    assert found["months"][0]["blockers"] == {"non_terminal": 1}
    refused = cli(tmp_path, url, "purge", "--drop-months-older-than", "1")
    assert refused.returncode == 0 and "2025-01: kept (non_terminal 1)" in refused.stdout
    with rt.db.transaction() as conn:
        conn.execute(update(messages).where(messages.c.id == pending).values(status="processed"))
    done = cli(tmp_path, url, "purge", "--drop-months-older-than", "1", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["records"]
    now = datetime.now(UTC)
    assert report["horizon"] == f"{horizon.horizon_for(now, 1):%Y-%m}"
    assert report["dropped"][0] == "2025-01" and report["months"][0]["messages"] == 2
    assert homes(rt, "messages") == {}
    with rt.db.reading() as conn:  # nothing before the horizon is left; the current month stays
        assert min(partitions.existing_months(conn, "messages")) >= horizon.horizon_for(now, 1)
        assert partitions.month_of(now) in partitions.existing_months(conn, "events")
    lite = f"sqlite:///{tmp_path / 'lite.db'}"
    assert cli(tmp_path, lite, "db", "upgrade").returncode == 0
    sqlite = cli(tmp_path, lite, "purge", "--drop-months-older-than", "1")
    assert sqlite.returncode == 2 and "needs PostgreSQL" in sqlite.stderr


def test_concurrent_processes_create_each_month_once(url: str, rt: Runtime) -> None:
    engines = [create_engine(url) for _ in range(4)]
    when = datetime(2031, 5, 2, tzinfo=UTC)
    try:
        for engine in engines:  # each engine stands for a process: forget what this one knows
            partitions.forget(engine)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda e: partitions.ensure(e, when), engines))
    finally:
        for engine in engines:
            engine.dispose()
    with rt.db.reading() as conn:
        for table in ("messages", "events"):
            assert set(partitions.months_from(date(2031, 5, 1), partitions.AHEAD + 1)) <= set(
                partitions.existing_months(conn, table)
            )


def test_intake_never_waits_long_for_a_new_month(url: str, rt: Runtime) -> None:
    """A reader holding the default partition blocks the DDL; intake gives up on it within the
    lock timeout, stores the message in the default partition and tries again later."""
    at(rt, datetime(2032, 7, 1, tzinfo=UTC))
    blocker = create_engine(url)
    try:
        with blocker.connect() as conn:
            conn.execute(text("BEGIN"))
            conn.execute(text("LOCK TABLE messages_default IN ACCESS SHARE MODE"))
            started = time.monotonic()
            mid = accept(rt, "ID w1\nCHARGE cw1 1.00")
            waited = time.monotonic() - started
            conn.execute(text("ROLLBACK"))
    finally:
        blocker.dispose()
    assert waited < 10
    assert homes(rt, "messages")[mid] == "messages_default"
    partitions.forget(rt.db.engine)  # the retry a minute later, now
    at(rt, datetime(2032, 7, 2, tzinfo=UTC))
    accept(rt, "ID w2\nCHARGE cw2 1.00")
    assert homes(rt, "messages")[mid] == "messages_p2032_07"


def test_a_month_in_use_is_reported_busy_and_dropped_at_the_next_run(url: str, rt: Runtime) -> None:
    accept(rt, "ID u1\nCHARGE cu1 1.00")
    rt.worker().drain()
    reader = create_engine(url)
    try:
        with reader.connect() as conn:  # a long read on January: the DETACH cannot have it
            conn.execute(text("BEGIN"))
            conn.execute(text("LOCK TABLE messages_p2025_01 IN ACCESS SHARE MODE"))
            busy = horizon.drop_months(rt.db, horizon=date(2025, 2, 1), now=FEB, actor="t", anchor=None)
            conn.execute(text("ROLLBACK"))
    finally:
        reader.dispose()
    assert busy.dropped == () and [m.blockers for m in busy.months] == [{"busy": 1}]
    assert homes(rt, "messages")
    done = horizon.drop_months(rt.db, horizon=date(2025, 2, 1), now=FEB, actor="t", anchor=None)
    assert [m.month for m in done.dropped] == [date(2025, 1, 1)] and homes(rt, "messages") == {}
