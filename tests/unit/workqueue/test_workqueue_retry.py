"""Bulk retry after a fix: failed journals back to staged, messages whose parsing failed back to
pending, the items resolved and audited; anything a retry cannot fix refuses the request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from workitem_setup import processed, trail

from revbridge import workqueue
from revbridge.bootstrap import Runtime
from revbridge.connectors.base import ConnectorRejected, Limits, Receipt
from revbridge.core.errors import InputError
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R
from revbridge.store import journals, outbox, queue


@dataclass
class Erp:
    """A connector that refuses while ``refusing`` is set, and posts otherwise."""

    name: str = "erp"
    limits: Limits = field(default_factory=lambda: Limits(backoff_base=0.01, backoff_cap=0.02))
    refusing: bool = True
    posted: list[str] = field(default_factory=list)

    def submit(self, journal: Journal) -> Receipt:
        if self.refusing:
            raise ConnectorRejected("account 1010 is blocked")
        self.posted.append(journal.id)
        return Receipt(reference=journal.id, document=f"D-{len(self.posted)}")

    def lookup(self, reference: str) -> Receipt | None:
        return None

    def close(self) -> None:
        pass


def _journal() -> Journal:
    dims = Dimensions(legal_entity="LE01", facility="F01")
    lines = (
        JournalLine.signed(account="1010", role=R.CASH_CLEARING, amount=Money.of("10.25"), dimensions=dims),
        JournalLine.signed(account="1220", role=R.AR_PATIENT, amount=Money.of("-10.25"), dimensions=dims),
    )
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity="LE01",
        currency="USD",
        posting_date=date(2026, 11, 2),
        source_document_key="payment:1",
        lines=tuple(line for line in lines if line is not None),
    )
    return realtime_journal(draft)


def _send(rt: Runtime, erp: Erp) -> None:
    dispatcher = rt.dispatcher(connector_for=lambda _le: erp)
    try:
        dispatcher.drain()
    finally:
        dispatcher.close()


@pytest.fixture
def refused(rt: Runtime) -> tuple[Erp, Journal]:
    """A journal the ERP refused, with the ERP_REJECTED item the outbox opened for it."""
    journal, erp = _journal(), Erp()
    now = rt.clock.now()
    with rt.db.transaction() as tx:
        journals.stage_journal(tx, journal, connector="erp", first_received_at=now, now=now)
    _send(rt, erp)
    return erp, journal


def _open(rt: Runtime, code: str | None = None) -> list[workqueue.WorkItem]:
    return list(workqueue.find(rt.db, workqueue.Selection(code=code), now=rt.clock.now()))


def test_a_journal_the_erp_refused_goes_out_again_after_the_fix(
    rt: Runtime, refused: tuple[Erp, Journal]
) -> None:
    erp, journal = refused
    (item,) = _open(rt, "ERP_REJECTED")
    assert journals.get(rt.db, journal.id).status == "failed"  # type: ignore[union-attr]
    erp.refusing = False  # the account was unblocked
    done = workqueue.retry(rt.db, rt.clock, [item.id], actor="kim", anchor=None)
    assert done == workqueue.Retried(items=(item.id,), journals=(journal.id,), messages=())
    staged = journals.get(rt.db, journal.id)
    assert staged is not None and (staged.status, staged.attempts) == ("staged", 0)
    closed = workqueue.get(rt.db, item.id)
    assert closed is not None and (closed.status, closed.resolution) == ("resolved", "put back for retry")
    assert trail(rt) == [("workitem.retry", f"workitem/{item.id}", {"journal": journal.id})]
    _send(rt, erp)
    assert erp.posted == [journal.id] and _open(rt) == []


def test_a_journal_refused_again_opens_a_new_item(rt: Runtime, refused: tuple[Erp, Journal]) -> None:
    erp, _journal = refused
    (item,) = _open(rt)
    workqueue.retry(rt.db, rt.clock, [item.id], actor="kim", anchor=None)
    _send(rt, erp)
    (again,) = _open(rt)
    assert again.code == "ERP_REJECTED" and again.id != item.id


def test_a_journal_no_longer_failed_refuses_the_retry(rt: Runtime, refused: tuple[Erp, Journal]) -> None:
    _erp, journal = refused
    (item,) = _open(rt)
    with rt.db.transaction() as tx:  # somebody put it back another way meanwhile
        outbox.requeue(tx, [journal.id], now=rt.clock.now())
    with pytest.raises(InputError, match=f"work items {item.id} name journals that are no longer failed"):
        workqueue.retry(rt.db, rt.clock, [item.id], actor="kim", anchor=None)
    assert [i.id for i in _open(rt)] == [item.id] and trail(rt) == []


def test_a_message_whose_parser_failed_runs_again_from_the_start(rt: Runtime) -> None:
    (poison,) = processed(rt, "RAISE")
    (item,) = _open(rt, "PARSER_FAILED")
    done = workqueue.retry(rt.db, rt.clock, [item.id], actor="kim", anchor=None)
    assert done == workqueue.Retried(items=(item.id,), journals=(), messages=(poison,))
    assert queue.counts(rt.db)["pending"] == 1
    assert trail(rt) == [("workitem.retry", f"workitem/{item.id}", {"message": poison})]
    rt.worker().drain()  # the parser still raises: the failure is new work
    (again,) = _open(rt, "PARSER_FAILED")
    assert again.id != item.id and queue.counts(rt.db)["excepted"] == 1


def test_a_problem_in_the_content_is_for_replay_and_refuses_the_whole_retry(
    rt: Runtime, refused: tuple[Erp, Journal]
) -> None:
    _erp, journal = refused
    processed(rt, "CHARGE c1 1\nBAD MISSING_AMOUNT")
    (content,) = _open(rt, "MISSING_AMOUNT")
    (erp_item,) = _open(rt, "ERP_REJECTED")
    with pytest.raises(InputError, match=f"work items {content.id} cannot be retried: .* replay"):
        workqueue.retry(rt.db, rt.clock, [erp_item.id, content.id], actor="kim", anchor=None)
    assert journals.get(rt.db, journal.id).status == "failed"  # type: ignore[union-attr]
    assert len(_open(rt)) == 2 and queue.counts(rt.db)["excepted"] == 1 and trail(rt) == []
    with pytest.raises(InputError, match="not open work items: 999"):
        workqueue.retry(rt.db, rt.clock, [erp_item.id, 999], actor="kim", anchor=None)
