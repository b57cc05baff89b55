"""Retention on SQLite and PostgreSQL: only finished messages past retention lose their payload,
everything derived from them stays, each purge is audited, and the space comes back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lineformat import FORMATS
from sqlalchemy import func, select, update

from revbridge.bootstrap import Runtime, build
from revbridge.settings import Settings
from revbridge.store import audit, retention, workitems
from revbridge.store.messages import Arrival
from revbridge.store.schema import audit_log, events, messages, work_items

BULK = "NAME " + "Z" * 60_000  # large enough to live out of line (SQLite overflow pages, PG TOAST)


def build_runtime(db_url: str, home: Path, **settings: Any) -> Runtime:
    """A runtime without the posting stage: these tests are about stored payloads, and the
    messages' end states must not depend on how the posting rules evolve."""
    return build(
        Settings(home=home, db=db_url, **settings),
        formats=FORMATS,
        upgrade=True,
        posting=False,
        with_reference_config=False,
    )


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(db_url, tmp_path)
    yield runtime
    runtime.close()


def accept(rt: Runtime, body: str) -> str:
    return rt.store.accept(
        Arrival(channel="test", format="lines", payload=f"{body}\n{BULK}".encode())
    ).message_id


def backdate(rt: Runtime, ids: list[str], days: int) -> None:
    with rt.db.transaction() as conn:
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(ids))
            .values(received_at=rt.clock.now() - timedelta(days=days))
        )


def snapshot(rt: Runtime) -> dict[str, dict[str, object]]:
    with rt.db.reading() as conn:
        rows = conn.execute(
            select(
                messages.c.id,
                messages.c.status,
                messages.c.purged_at,
                messages.c.payload.is_(None).label("gone"),
            )
        )
        return {r.id: {"status": r.status, "gone": bool(r.gone), "purged_at": r.purged_at} for r in rows}


def derived_counts(rt: Runtime) -> tuple[int, int]:
    with rt.db.reading() as conn:
        return (
            int(conn.execute(select(func.count()).select_from(events)).scalar_one()),
            int(conn.execute(select(func.count()).select_from(work_items)).scalar_one()),
        )


@pytest.fixture
def history(rt: Runtime) -> dict[str, str]:
    """Old and recent messages in every state that matters."""
    ids = {
        "old_processed": accept(rt, "CHARGE p1 10.00"),
        "old_ignored": accept(rt, "IGNORE"),
        "old_excepted_open": accept(rt, "BAD UNMAPPED_DEPARTMENT"),
        "old_excepted_resolved": accept(rt, "BAD UNMAPPED_PAYER"),
        "recent_processed": accept(rt, "CHARGE p2 20.00"),
    }
    repeat = rt.store.accept(
        Arrival(channel="test", format="lines", payload=f"CHARGE p1 10.00\n{BULK}".encode())
    )
    assert repeat.status == "duplicate" and repeat.duplicate_of == ids["old_processed"]
    with rt.db.reading() as conn:
        ids["old_duplicate"] = conn.execute(
            select(messages.c.id).where(messages.c.status == "duplicate")
        ).scalar_one()
    rt.worker().drain()
    resolved = workitems.list_items(rt.db, message_id=ids["old_excepted_resolved"])
    with rt.db.transaction() as conn:
        workitems.close(
            conn, [resolved[0].id], status="resolved", actor="t", reason="fixed", now=rt.clock.now()
        )
    ids["old_pending"] = accept(rt, "CHARGE p3 30.00")  # never processed
    ids["old_processing"] = accept(rt, "CHARGE p4 40.00")
    with rt.db.transaction() as conn:  # a worker holds this one right now
        conn.execute(
            update(messages).where(messages.c.id == ids["old_processing"]).values(status="processing")
        )
    backdate(rt, [v for k, v in ids.items() if k.startswith("old")], days=40)
    return ids


def test_only_finished_messages_past_retention_lose_their_payload(
    rt: Runtime, history: dict[str, str]
) -> None:
    before = derived_counts(rt)
    cutoff = rt.clock.now() - timedelta(days=30)
    assert retention.candidates(rt.db, cutoff)[0] == 4
    report = retention.purge(
        rt.db, cutoff=cutoff, now=rt.clock.now(), actor="test", anchor=rt.settings.resolved_audit_anchor
    )
    state = snapshot(rt)
    purged = {name for name, mid in history.items() if state[mid]["gone"]}
    assert purged == {"old_processed", "old_duplicate", "old_ignored", "old_excepted_resolved"}
    assert report.purged == 4 and report.held_back == 1  # the open work item keeps its message
    assert all(state[history[n]]["purged_at"] is not None for n in purged)
    assert state[history["old_pending"]]["status"] == "pending" and not state[history["old_pending"]]["gone"]
    assert not state[history["old_processing"]]["gone"]
    assert not state[history["recent_processed"]]["gone"]
    assert derived_counts(rt) == before  # events and work items stay
    assert report.payload_bytes > 4 * 60_000


def test_each_batch_is_audited_and_the_chain_holds(rt: Runtime) -> None:
    ids = [accept(rt, f"CHARGE b{n} 1.00") for n in range(7)]
    rt.worker().drain()
    backdate(rt, ids, days=10)
    report = retention.purge(
        rt.db,
        cutoff=rt.clock.now() - timedelta(days=5),
        now=rt.clock.now(),
        actor="cli:ops",
        anchor=rt.settings.resolved_audit_anchor,
        batch_size=3,
    )
    assert report.purged == 7
    with rt.db.reading() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "retention.purge")).all()
    assert [json.loads(r.details)["messages"] for r in rows] == ["3", "3", "1"]
    assert {r.actor for r in rows} == {"cli:ops"}
    assert sum(int(json.loads(r.details)["bytes"]) for r in rows) == report.payload_bytes
    count, findings = audit.check(rt.db, anchor=rt.settings.resolved_audit_anchor)
    assert findings == [] and count == 3


def settled_size(rt: Runtime, before: int, expected_drop: int) -> int:
    """PostgreSQL: VACUUM keeps the row versions a transaction still running anywhere in the
    cluster might need (other test databases share this server), so right after the purge it may
    reclaim little; a later VACUUM reclaims the rest. Vacuum again until the drop shows, briefly."""
    size = retention.database_bytes(rt.db)
    deadline = time.monotonic() + 20
    while before - size < expected_drop and time.monotonic() < deadline:
        time.sleep(0.25)
        retention.reclaim(rt.db, full=True)
        size = retention.database_bytes(rt.db)
    return size


def test_the_space_is_reclaimed(rt: Runtime, db_url: str) -> None:
    ids = [accept(rt, f"CHARGE s{n} 1.00") for n in range(40)]
    rt.worker().drain()
    backdate(rt, ids, days=400)
    report = retention.purge(
        rt.db,
        cutoff=rt.clock.now() - timedelta(days=365),
        now=rt.clock.now(),
        actor="t",
        anchor=None,
        full=db_url.startswith("postgresql"),
    )
    assert report.purged == 40
    after = report.bytes_after
    if db_url.startswith("postgresql"):
        after = settled_size(rt, report.bytes_before, int(40 * 60_000 * 0.8))
    assert report.bytes_before - after > 40 * 60_000 * 0.8, report
    assert report.vacuum == "full"  # SQLite: the first purge switches the file to incremental vacuum
    more = [accept(rt, f"CHARGE t{n} 1.00") for n in range(10)]
    rt.worker().drain()
    backdate(rt, more, days=400)
    second = retention.purge(
        rt.db, cutoff=rt.clock.now() - timedelta(days=365), now=rt.clock.now(), actor="t", anchor=None
    )
    assert second.purged == 10
    if db_url.startswith("sqlite"):
        assert second.vacuum == "incremental"
        assert second.bytes_before - second.bytes_after > 10 * 60_000 * 0.8, second
    else:  # a plain VACUUM: the space becomes reusable without locking out writers
        assert second.vacuum == "plain"
        assert second.bytes_after <= second.bytes_before


def test_a_purged_message_keeps_its_lineage_and_cannot_be_parsed_again(rt: Runtime) -> None:
    mid = accept(rt, "CHARGE l1 5.00")
    rt.worker().drain()
    backdate(rt, [mid], days=40)
    retention.purge(
        rt.db, cutoff=rt.clock.now() - timedelta(days=30), now=rt.clock.now(), actor="t", anchor=None
    )
    with rt.db.reading() as conn:
        kinds = list(conn.execute(select(events.c.kind).where(events.c.message_id == mid)).scalars())
    assert kinds == ["ChargeCaptured"]


def cli(home: Path, db_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "REVBRIDGE_HOME": str(home), "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "revbridge", *args, "--db", db_url],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def test_the_purge_command(rt: Runtime, db_url: str, tmp_path: Path, history: dict[str, str]) -> None:
    none = cli(tmp_path, db_url, "purge")
    assert none.returncode == 2 and "no retention period" in none.stderr
    dry = cli(tmp_path, db_url, "purge", "--older-than", "30", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    found = json.loads(dry.stdout)
    assert (found["purgeable"], found["held_back"]) == (4, 1)
    assert not snapshot(rt)[history["old_processed"]]["gone"]
    done = cli(tmp_path, db_url, "purge", "--json", REVBRIDGE_RETENTION_DAYS="30")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["purged"] == 4 and report["held_back"] == 1
    assert report["bytes_after"] < report["bytes_before"] or db_url.startswith("postgresql")
    assert snapshot(rt)[history["old_processed"]]["gone"]
    assert json.loads(cli(tmp_path, db_url, "audit", "verify", "--json").stdout)["intact"] is True
