"""Opening work items: one per problem, due by its service level, never twice while open."""

from __future__ import annotations

from datetime import timedelta

from workitem_setup import T0

from revbridge import workqueue
from revbridge.bootstrap import Runtime
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.store import workitems


def _problem(code: ProblemCode, locator: str, severity: Severity = Severity.ERROR) -> Problem:
    return Problem(
        code=code,
        message=f"{code} at {locator}",
        where=SourceRef("m-1", locator),
        severity=severity,
        details=(("value", "RAD9"),),
    )


def test_each_problem_opens_one_item_due_by_its_severity(rt: Runtime) -> None:
    dept = _problem(ProblemCode.UNMAPPED_DEPARTMENT, "FT1[2]-13")
    date = _problem(ProblemCode.INVALID_DATE, "FT1[1]-4", Severity.WARNING)
    with rt.db.transaction() as tx:
        opened = workqueue.open_items(tx, [dept, date, dept], now=T0, message_id="m-1", facility="F01")
    assert [i.code for i in opened] == ["UNMAPPED_DEPARTMENT", "INVALID_DATE"]  # the repeat is one item
    items = {i.code: i for i in workqueue.find(rt.db, workqueue.Selection(), now=T0)}
    assert set(items) == {"UNMAPPED_DEPARTMENT", "INVALID_DATE"}
    assert items["UNMAPPED_DEPARTMENT"].due_at == T0 + timedelta(days=1)
    assert items["INVALID_DATE"].due_at == T0 + timedelta(days=3)
    found = items["UNMAPPED_DEPARTMENT"]
    assert (found.facility, found.locator, found.message_id, found.details) == (
        "F01",
        "FT1[2]-13",
        "m-1",
        {"value": "RAD9"},
    )


def test_a_problem_met_again_opens_nothing_while_its_item_is_open(rt: Runtime) -> None:
    dept = _problem(ProblemCode.UNMAPPED_DEPARTMENT, "FT1[2]-13")
    with rt.db.transaction() as tx:
        (first,) = workqueue.open_items(tx, [dept], now=T0, message_id="m-1")
    with rt.db.transaction() as tx:
        assert workqueue.open_items(tx, [dept], now=T0 + timedelta(hours=1), message_id="m-1") == ()
        # the same problem of another message is another item
        assert len(workqueue.open_items(tx, [dept], now=T0, message_id="m-2")) == 1
    (item,) = workqueue.find(rt.db, workqueue.Selection(code="UNMAPPED_DEPARTMENT"), now=T0)[:1]
    workqueue.resolve(rt.db, rt.clock, [item.id], reason="mapped", actor="test", anchor=None)
    with rt.db.transaction() as tx:  # once resolved, the problem found again is new work
        assert len(workqueue.open_items(tx, [dept], now=T0, message_id="m-1")) == 1
    assert first.fingerprint == workitems.fingerprint("UNMAPPED_DEPARTMENT", "m-1", "FT1[2]-13", None)


def test_service_levels_are_a_parameter(rt: Runtime) -> None:
    levels = workqueue.ServiceLevels(error=timedelta(hours=4))
    with rt.db.transaction() as tx:
        workqueue.open_items(
            tx, [_problem(ProblemCode.UNMAPPED_PAYER, "N1[1]")], now=T0, message_id=None, levels=levels
        )
    (item,) = workqueue.find(rt.db, workqueue.Selection(), now=T0)
    assert item.due_at == T0 + timedelta(hours=4)
    assert levels.due(Severity.INFO, T0) == T0 + timedelta(days=7)
