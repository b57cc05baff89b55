"""Grouping and finding: counts by code and facility with the oldest age, the filters' values,
and the selections the page, the CLI and the API ask for."""

from __future__ import annotations

from datetime import timedelta

from workitem_setup import T0, processed

from revbridge import workqueue
from revbridge.bootstrap import Runtime
from revbridge.core.clock import FixedClock


def _queue(rt: Runtime, clock: FixedClock) -> list[str]:
    """Two MISSING_AMOUNT items of facility-less messages an hour apart, one INVALID_VALUE."""
    first = processed(rt, "BAD MISSING_AMOUNT")
    clock.advance(timedelta(hours=1))
    return first + processed(rt, "BAD MISSING_AMOUNT\nBAD INVALID_VALUE")


def test_open_items_are_counted_by_code_with_the_oldest_age(rt: Runtime, clock: FixedClock) -> None:
    _queue(rt, clock)
    clock.advance(timedelta(hours=2))
    found = workqueue.groups(rt.db, now=clock.now())
    assert [(g.code, g.facility, g.count) for g in found] == [
        ("INVALID_VALUE", None, 1),
        ("MISSING_AMOUNT", None, 2),
    ]
    missing = found[1]
    assert missing.oldest_at == T0 and missing.oldest_age == timedelta(hours=3)
    assert missing.as_json() == {
        "code": "MISSING_AMOUNT",
        "facility": None,
        "count": 2,
        "oldest_created_at": T0.isoformat(),
        "oldest_age_seconds": 3 * 3600,
    }
    assert [g.code for g in workqueue.groups(rt.db, now=clock.now(), code="INVALID_VALUE")] == [
        "INVALID_VALUE"
    ]


def test_closed_items_leave_the_groups_and_the_choices(rt: Runtime, clock: FixedClock) -> None:
    _queue(rt, clock)
    items = workqueue.find(rt.db, workqueue.Selection(code="INVALID_VALUE"), now=clock.now())
    workqueue.assign(rt.db, rt.clock, [items[0].id], assignee="kim", actor="test", anchor=None)
    assert workqueue.choices(rt.db) == workqueue.Choices(
        codes=("INVALID_VALUE", "MISSING_AMOUNT"), facilities=(), assignees=("kim",)
    )
    workqueue.ignore(rt.db, rt.clock, [items[0].id], reason="sample", actor="test", anchor=None)
    assert [g.code for g in workqueue.groups(rt.db, now=clock.now())] == ["MISSING_AMOUNT"]
    assert workqueue.choices(rt.db) == workqueue.Choices(
        codes=("MISSING_AMOUNT",), facilities=(), assignees=()
    )


def test_a_selection_finds_by_status_assignee_and_age(rt: Runtime, clock: FixedClock) -> None:
    _queue(rt, clock)
    everything = workqueue.find(rt.db, workqueue.Selection(), now=clock.now())
    oldest, *rest = everything
    workqueue.assign(rt.db, rt.clock, [rest[0].id], assignee="kim", actor="test", anchor=None)
    workqueue.resolve(rt.db, rt.clock, [rest[1].id], reason="fixed", actor="test", anchor=None)

    def ids(**selection: object) -> list[int]:
        found = workqueue.find(rt.db, workqueue.Selection(**selection), now=clock.now())  # type: ignore[arg-type]
        return [i.id for i in found]

    assert ids() == [oldest.id, rest[0].id]
    assert ids(status=None) == [i.id for i in everything]
    assert ids(status=workqueue.RESOLVED) == [rest[1].id]
    assert ids(assignee="kim") == [rest[0].id]
    assert ids(unassigned=True) == [oldest.id]
    assert ids(unassigned=True, assignee="kim") == [oldest.id]  # unassigned wins
    assert ids(older_than=timedelta(minutes=30)) == [oldest.id]
    assert ids(facility="F01") == []
    assert workqueue.find(rt.db, workqueue.Selection(status=None), now=clock.now(), limit=1) == (oldest,)
