"""The work-item store behind ``revbridge.workqueue``, on SQLite and PostgreSQL: opening without
repeats, what stands behind an item, groups, assignees, the items of messages, the messages a
replay may take, and the closing and retry transactions that lock what they change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lineformat import FORMATS
from runtime import build_runtime
from sqlalchemy import update

from revbridge import workqueue
from revbridge.bootstrap import Runtime
from revbridge.core.clock import FixedClock
from revbridge.core.errors import InputError
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode
from revbridge.store import queue, workitems
from revbridge.store.messages import Arrival
from revbridge.store.queue import ReplayChoice
from revbridge.store.schema import work_items
from revbridge.store.workitems import NewItem

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(db_url, tmp_path, formats=FORMATS, clock=FixedClock(T0), max_attempts=1)
    yield runtime
    runtime.close()


def _run(rt: Runtime, *payloads: str) -> list[str]:
    ids = [
        rt.store.accept(Arrival(channel="t", format="lines", payload=p.encode(), dedupe_key="")).message_id
        for p in payloads
    ]
    rt.worker().drain()
    return ids


def _draft(n: int, *, facility: str | None = None, locator: str = "FT1[{n}]-13") -> NewItem:
    problem = Problem(
        code=ProblemCode.UNMAPPED_DEPARTMENT,
        message="department RAD9 is not mapped",
        where=SourceRef("m-1", locator.format(n=n)),
        details=(("department", "RAD9"),),
    )
    return NewItem.of(problem, message_id="m-1", facility=facility, due_at=T0 + timedelta(days=1))


def test_unopened_drafts_are_inserted_once_in_their_order(rt: Runtime) -> None:
    drafts = [_draft(n) for n in range(1, 1201)]  # more than one IN list's worth
    with rt.db.transaction() as tx:
        assert workitems.unopened(tx, [*drafts[:3], drafts[0]]) == tuple(drafts[:3])
        workitems.insert(tx, drafts[:600], now=T0)
    with rt.db.transaction() as tx:
        fresh = workitems.unopened(tx, drafts)
        assert fresh == tuple(drafts[600:])
        workitems.insert(tx, [_draft(0, locator="x" * 300)], now=T0)  # wider than its column: cut
    stored = workitems.list_items(rt.db, limit=10)
    assert stored[0].details == {"department": "RAD9"} and stored[0].due_at == T0 + timedelta(days=1)
    (wide,) = workitems.list_items(rt.db, message_id="m-1", limit=2000)[600:]
    assert len(wide.locator) == 256 and wide.created_at == T0
    with rt.db.transaction() as tx:
        workitems.close(tx, [stored[0].id], status=workitems.RESOLVED, actor="t", reason="x", now=T0)
        assert workitems.unopened(tx, drafts[:2]) == (drafts[0],)  # a closed item holds nothing


def test_standing_names_the_message_state_and_the_failed_journal(rt: Runtime) -> None:
    (excepted,) = _run(rt, "BAD MISSING_AMOUNT")
    with rt.db.transaction() as tx:
        workitems.insert(
            tx,
            [
                NewItem.of(
                    Problem(
                        code=ProblemCode.ERP_REJECTED,
                        message="refused",
                        where=SourceRef("", "journal J-1"),
                        details=(("journal_id", "J-1"),),
                    ),
                    message_id=None,
                    facility=None,
                    due_at=None,
                )
            ],
            now=T0,
        )
    content, journal = workitems.list_items(rt.db)
    with rt.db.transaction() as tx:
        workitems.insert(tx, [_draft(9)], now=T0)
    (closed,) = workitems.list_items(rt.db, message_id="m-1")
    with rt.db.transaction() as tx:
        workitems.close(tx, [closed.id], status=workitems.IGNORED, actor="t", reason="x", now=T0)
        found = workitems.standing(tx, [journal.id, content.id, closed.id, 999])
    assert found == (
        workitems.Standing(
            item_id=content.id,
            code="MISSING_AMOUNT",
            message_id=excepted,
            message_status="excepted",
            journal_id=None,
        ),
        workitems.Standing(
            item_id=journal.id, code="ERP_REJECTED", message_id=None, message_status=None, journal_id="J-1"
        ),
    )


def test_open_groups_and_assignees(rt: Runtime) -> None:
    with rt.db.transaction() as tx:
        workitems.insert(tx, [_draft(1, facility="F02"), _draft(2)], now=T0)
        workitems.insert(tx, [_draft(3, facility="F02")], now=T0 + timedelta(hours=1))
    a, b, c = workitems.list_items(rt.db)
    with rt.db.transaction() as tx:
        workitems.assign(tx, [a.id], assignee="kim", now=T0)
        workitems.assign(tx, [c.id], assignee="", now=T0)
    groups = workitems.open_groups(rt.db)
    assert [(g.code, g.facility, g.count, g.oldest_at) for g in groups] == [
        ("UNMAPPED_DEPARTMENT", None, 1, T0),
        ("UNMAPPED_DEPARTMENT", "F02", 2, T0),
    ]
    assert groups[0].oldest_at.tzinfo is not None
    assert workitems.open_groups(rt.db, code="OTHER") == ()
    assert workitems.open_assignees(rt.db) == ("kim",)
    assert [i.id for i in workitems.list_items(rt.db, unassigned=True)] == [b.id, c.id]


def test_open_items_of_messages_and_messages_a_replay_may_take(rt: Runtime) -> None:
    bad, ok = _run(rt, "BAD MISSING_AMOUNT\nBAD INVALID_VALUE", "CHARGE c1 1")
    pending = rt.store.accept(Arrival(channel="t", format="lines", payload=b"CHARGE c2 1", dedupe_key=""))
    twin = rt.store.accept(Arrival(channel="t", format="lines", payload=b"CHARGE c1 1", dedupe_key=""))
    assert twin.status == "duplicate"
    items = workitems.list_items(rt.db)
    assert workitems.open_for_messages(rt.db, [bad, ok, "nope"]) == frozenset(i.id for i in items)
    with rt.db.transaction() as tx:
        workitems.close(tx, [items[0].id], status=workitems.RESOLVED, actor="t", reason="x", now=T0)
        tx.execute(update(work_items).values(created_at=T0))
    assert workitems.open_for_messages(rt.db, [bad]) == frozenset({items[1].id})
    named = [bad, ok, pending.message_id, twin.message_id]
    assert queue.replayable_messages(rt.db, ReplayChoice(message_ids=tuple(named))) == tuple(
        sorted([bad, ok])
    )
    assert queue.replayable_messages(rt.db, ReplayChoice(code="INVALID_VALUE")) == (bad,)
    assert queue.replayable_messages(rt.db, ReplayChoice(code="MISSING_AMOUNT")) == ()  # its item is closed
    assert queue.replayable_messages(rt.db, ReplayChoice(since=T0, until=T0 + timedelta(seconds=1))) == tuple(
        sorted([bad, ok])
    )
    assert queue.replayable_messages(rt.db, ReplayChoice(since=T0 + timedelta(seconds=1))) == ()


def test_closing_assigning_and_retry_lock_and_audit_what_they_change(rt: Runtime) -> None:
    poison, content = _run(rt, "RAISE", "BAD MISSING_AMOUNT")
    parser, missing = (workitems.list_items(rt.db, message_id=m)[0] for m in (poison, content))
    assert (
        workqueue.assign(rt.db, rt.clock, [parser.id, missing.id], assignee="kim", actor="t", anchor=None)
        == 2
    )
    with pytest.raises(InputError, match="cannot be retried"):
        workqueue.retry(rt.db, rt.clock, [parser.id, missing.id], actor="t", anchor=None)
    done = workqueue.retry(rt.db, rt.clock, [parser.id], actor="t", anchor=None)
    assert done.messages == (poison,) and queue.counts(rt.db)["pending"] == 1
    assert workqueue.resolve(rt.db, rt.clock, [missing.id], reason="fixed", actor="t", anchor=None) == 1
    assert workitems.list_items(rt.db) == []
