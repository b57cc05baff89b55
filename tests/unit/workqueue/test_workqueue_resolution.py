"""Assigning, resolving and ignoring: each change audited in its own transaction, and a request
naming an item that is not open changes nothing."""

from __future__ import annotations

import pytest
from workitem_setup import processed, trail

from revbridge import workqueue
from revbridge.bootstrap import Runtime
from revbridge.core.errors import InputError
from revbridge.store import audit


def _items(rt: Runtime) -> list[int]:
    processed(rt, "BAD MISSING_AMOUNT\nBAD INVALID_VALUE\nBAD INVALID_DATE")
    return [i.id for i in workqueue.find(rt.db, workqueue.Selection(), now=rt.clock.now())]


def test_resolve_and_ignore_close_items_with_the_reason_and_an_audit_entry(rt: Runtime) -> None:
    a, b, _c = _items(rt)
    assert workqueue.resolve(rt.db, rt.clock, [a, a], reason="mapped", actor="kim", anchor=None) == 1
    assert workqueue.ignore(rt.db, rt.clock, [b], reason="sample quirk", actor="lee", anchor=None) == 1
    closed = {i.id: i for i in workqueue.find(rt.db, workqueue.Selection(status=None), now=rt.clock.now())}
    assert (closed[a].status, closed[a].resolved_by, closed[a].resolution) == ("resolved", "kim", "mapped")
    assert (closed[b].status, closed[b].resolution) == ("ignored", "sample quirk")
    assert trail(rt) == [
        ("workitem.resolved", f"workitem/{a}", {"reason": "mapped"}),
        ("workitem.ignored", f"workitem/{b}", {"reason": "sample quirk"}),
    ]
    assert audit.check(rt.db)[1] == []


def test_one_item_not_open_refuses_the_whole_request(rt: Runtime) -> None:
    a, b, c = _items(rt)
    workqueue.resolve(rt.db, rt.clock, [a], reason="done", actor="kim", anchor=None)
    with pytest.raises(InputError, match=f"not open work items: {a}, 999"):
        workqueue.ignore(rt.db, rt.clock, [b, a, 999, c], reason="again", actor="kim", anchor=None)
    still = workqueue.find(rt.db, workqueue.Selection(), now=rt.clock.now())
    assert [i.id for i in still] == [b, c]
    assert len(trail(rt)) == 1


@pytest.mark.parametrize(
    ("ids", "reason", "says"), [([1], "  ", "reason is required"), ([], "x", "at least one")]
)
def test_a_close_needs_a_reason_and_an_item(rt: Runtime, ids: list[int], reason: str, says: str) -> None:
    _items(rt)
    with pytest.raises(InputError, match=says):
        workqueue.resolve(rt.db, rt.clock, ids, reason=reason, actor="kim", anchor=None)
    assert trail(rt) == []


def test_assign_changes_and_audits_only_open_items(rt: Runtime) -> None:
    a, b, c = _items(rt)
    workqueue.resolve(rt.db, rt.clock, [c], reason="done", actor="kim", anchor=None)
    assert workqueue.assign(rt.db, rt.clock, [a, b, c, 999], assignee="lee", actor="kim", anchor=None) == 2
    assert workqueue.assign(rt.db, rt.clock, [b], assignee=None, actor="kim", anchor=None) == 1
    found = {
        i.id: i.assignee for i in workqueue.find(rt.db, workqueue.Selection(status=None), now=rt.clock.now())
    }
    assert found == {a: "lee", b: None, c: None}
    assert trail(rt)[1:] == [
        ("workitem.assign", f"workitem/{a}", {"assignee": "lee"}),
        ("workitem.assign", f"workitem/{b}", {"assignee": "lee"}),
        ("workitem.assign", f"workitem/{b}", {"assignee": ""}),
    ]
