"""Events out from the work queue and the ERP outbox (issue 19): a journal the ERP refuses is
announced ``journal.rejected`` with the ``workitem.opened`` of its item, in the transaction that
records the refusal; the retry resolves the item (``workitem.resolved``); a second refusal is a
new announcement with a new id; the post is ``journal.posted`` once; a message whose parser fails
is ``message.excepted`` with the codes of its open items."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from workitem_setup import processed

from revbridge import workqueue
from revbridge.bootstrap import Runtime
from revbridge.connectors.base import ConnectorRejected, Limits, Receipt
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R
from revbridge.store import announcements, journals
from revbridge.store.messages import Arrival


@dataclass
class Erp:
    name: str = "erp"
    limits: Limits = field(default_factory=lambda: Limits(backoff_base=0.01, backoff_cap=0.02))
    refusing: bool = True

    def submit(self, journal: Journal) -> Receipt:
        if self.refusing:
            raise ConnectorRejected("account 1010 is blocked")
        return Receipt(reference=journal.id, document="D-1")

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


def _announced(rt: Runtime) -> list[tuple[str, str, dict[str, object]]]:
    return [(p.kind, p.event_id, p.data) for p in announcements.listed(rt.db)]


def test_a_refused_journal_its_item_the_retry_and_the_post_are_announced(rt: Runtime) -> None:
    journal, erp = _journal(), Erp()
    now = rt.clock.now()
    with rt.db.transaction() as tx:
        journals.stage_journal(tx, journal, connector="erp", first_received_at=now, now=now)
    _send(rt, erp)
    (item,) = workqueue.find(rt.db, workqueue.Selection(code="ERP_REJECTED"), now=now)
    rejected, opened = _announced(rt)
    assert rejected[0] == "journal.rejected"
    assert rejected[2] == {
        "journal_id": journal.id,
        "legal_entity": "LE01",
        "connector": "erp",
        "code": "ERP_REJECTED",
        "attempts": 1,
    }
    assert opened[0] == "workitem.opened"
    assert opened[2]["work_item_id"] == item.id and opened[2]["journal_id"] == journal.id
    assert opened[2]["code"] == "ERP_REJECTED" and "message" not in opened[2]

    workqueue.retry(rt.db, rt.clock, [item.id], actor="kim", anchor=None)
    _send(rt, erp)  # refused again: a new announcement, a new id
    workqueue.retry(
        rt.db,
        rt.clock,
        [i.id for i in workqueue.find(rt.db, workqueue.Selection(), now=now)],
        actor="kim",
        anchor=None,
    )
    erp.refusing = False
    _send(rt, erp)
    _send(rt, erp)  # nothing left to send: nothing more announced
    kinds = [kind for kind, _id, _data in _announced(rt)]
    assert kinds == [
        "journal.rejected",
        "workitem.opened",
        "workitem.resolved",
        "journal.rejected",
        "workitem.opened",
        "workitem.resolved",
        "journal.posted",
    ]
    ids = [eid for _kind, eid, _data in _announced(rt)]
    assert len(set(ids)) == len(ids)
    assert ids[0] == announcements.event_id("journal.rejected", journal.id, 1)
    assert ids[3] == announcements.event_id("journal.rejected", journal.id, 2)
    posted = _announced(rt)[-1][2]
    assert posted["journal_id"] == journal.id and posted["erp_document"] == "D-1"
    assert posted["totals"] == [{"currency": "USD", "debits": "10.25", "lines": 2}]
    assert posted["facilities"] == ["F01"] and posted["legal_entity"] == "LE01"
    resolved = _announced(rt)[2][2]
    assert resolved == {"work_item_id": item.id, "code": "ERP_REJECTED", "status": "resolved"}


def test_a_message_whose_parser_failed_is_announced_excepted(rt: Runtime) -> None:
    (poison,) = processed(rt, "RAISE")
    excepted = [(eid, data) for kind, eid, data in _announced(rt) if kind == "message.excepted"]
    assert excepted == [
        (
            announcements.event_id("message.excepted", f"message {poison}"),
            {"message_id": poison, "channel": "test", "format": "lines", "codes": ["PARSER_FAILED"]},
        )
    ]


def test_a_key_reused_with_other_content_is_announced_at_intake(rt: Runtime) -> None:
    first = rt.store.accept(Arrival(channel="test", format="lines", payload=b"CHARGE c1 1", dedupe_key="K1"))
    other = rt.store.accept(Arrival(channel="test", format="lines", payload=b"CHARGE c1 2", dedupe_key="K1"))
    assert other.status == "excepted" and other.message_id != first.message_id
    announced = _announced(rt)
    assert [kind for kind, _eid, _data in announced] == ["workitem.opened", "message.excepted"]
    assert announced[0][2]["code"] == "DUPLICATE_CONFLICT"
    assert announced[0][2]["message_id"] == other.message_id
    assert announced[1][2] == {
        "message_id": other.message_id,
        "channel": "test",
        "format": "lines",
        "codes": ["DUPLICATE_CONFLICT"],
    }
