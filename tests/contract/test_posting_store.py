"""The store functions behind the posting stage, on SQLite and PostgreSQL: encounter and charge
context, batch windows, event states and waiting, the period calendar, realtime journals with
their subledger rows, the messages a replay or the waiting loop takes, and the items a replay
clears. pipeline/poster.py composes these around ``rules.post``; these tests pin each one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lineformat import FORMATS
from runtime import build_runtime

from revbridge.bootstrap import Runtime
from revbridge.canonical.events import ChargeCaptured, PatientPaymentReceived
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Problem, ProblemCode
from revbridge.ledger import Dimensions, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.period import PeriodStatus
from revbridge.ledger.role import AccountRole
from revbridge.rules.context import Change, ChargeFacts, ChargeMemory, EncounterChange, EncounterFacts
from revbridge.store import context, events, journals, periods, queue, subledger, windows, workitems
from revbridge.store.messages import Arrival
from revbridge.store.queue import ReplayChoice
from revbridge.workqueue import open_items

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        yield runtime
    finally:
        runtime.close()


def _message(rt: Runtime, ident: str) -> str:
    accepted = rt.store.accept(
        Arrival(channel="test", format="lines", payload=f"ID {ident}\n".encode(), dedupe_key=ident)
    )
    return accepted.message_id


def _charge(key: str, amount: str = "10.00") -> ChargeCaptured:
    return ChargeCaptured(
        key=key,
        source=SourceRef("m", "FT1[1]"),
        occurred_on=date(2024, 3, 1),
        facility="NCA",
        charge_id=key,
        encounter="V1",
        department="ED",
        amount=Money(Decimal(amount), "USD"),
    )


def _registered(encounter: str, payer: str, key: str = "reg") -> EncounterChange:
    return EncounterChange(
        change=Change.REGISTERED,
        facility="F1",
        encounter=encounter,
        event_key=key,
        facts=EncounterFacts(patient_class="O", department="ED", primary_payer_id=payer),
    )


def test_encounter_changes_apply_in_order_and_load_by_key(rt: Runtime) -> None:
    with rt.db.transaction() as tx:
        context.change_encounters(
            tx,
            [
                _registered("V1", "608"),
                _registered("V2", "636", key="reg2"),
                EncounterChange(
                    change=Change.COVERAGE,
                    facility="F1",
                    encounter="V1",
                    event_key="cov",
                    facts=EncounterFacts(primary_payer_id="600"),
                ),
                EncounterChange(change=Change.CANCELLED, facility="F1", encounter="V2", event_key="cx"),
                EncounterChange(  # coverage of an encounter nobody registered changes nothing
                    change=Change.COVERAGE,
                    facility="F1",
                    encounter="V9",
                    event_key="cov9",
                    facts=EncounterFacts(primary_payer_id="1"),
                ),
            ],
            now=T0,
        )
    with rt.db.reading() as tx:
        found = context.encounters(tx, [("F1", "V1"), ("F1", "V2"), ("F1", "V9"), ("F2", "V1")])
    assert found == {("F1", "V1"): EncounterFacts(patient_class="O", department="ED", primary_payer_id="600")}
    with rt.db.transaction() as tx:  # a new registration undoes the cancellation
        context.change_encounters(tx, [_registered("V2", "636", key="again")], now=T0)
    with rt.db.reading() as tx:
        assert set(context.encounters(tx, [("F1", "V2")])) == {("F1", "V2")}


def test_charge_memories_are_kept_and_replaced(rt: Runtime) -> None:
    first = ChargeMemory(
        facility="F1",
        charge_id="T1",
        event_key="k1",
        facts=ChargeFacts(department="ED", payer_class="MEDICAID"),
    )
    with rt.db.transaction() as tx:
        context.remember_charges(tx, [first])
        context.remember_charges(
            tx,
            [
                ChargeMemory(
                    facility="F1",
                    charge_id="T1",
                    event_key="k2",
                    facts=ChargeFacts(department="RAD", payer_class="COMMERCIAL"),
                )
            ],
        )
    with rt.db.reading() as tx:
        assert context.charges(tx, [("F1", "T1"), ("F1", "T2")]) == {
            ("F1", "T1"): ChargeFacts(department="RAD", payer_class="COMMERCIAL")
        }


def test_a_window_is_joined_until_it_closes(rt: Runtime) -> None:
    with rt.db.transaction() as tx:
        key = windows.join(tx, "MHN", now=T0)
        assert windows.join(tx, "MHN", now=T0 + timedelta(seconds=5)) == key
        other = windows.join(tx, "MHS", now=T0)
    with rt.db.transaction() as tx:
        found = {w.key: w for w in windows.open_windows(tx)}
        assert {k: w.line_count for k, w in found.items()} == {key: 0, other: 0}  # no lines written
        assert found[key].opened_at == T0
        windows.close(tx, key, now=T0 + timedelta(minutes=1), line_count=0)
    with rt.db.transaction() as tx:
        assert [w.key for w in windows.open_windows(tx)] == [other]
        assert windows.join(tx, "MHN", now=T0 + timedelta(minutes=2)) != key


def test_event_states_waiting_and_refresh(rt: Runtime) -> None:
    message_id = _message(rt, "A1")
    charges = [_charge("c1"), _charge("c2")]
    until = T0 + timedelta(hours=1)
    with rt.db.transaction() as tx:
        events.record(tx, charges, message_id=message_id, now=T0)
        events.set_states(tx, [("c1", "waiting"), ("c2", "waiting")], wait_until=until)
        events.set_states(tx, [("c2", "staged")], wait_until=until)  # only waiting keeps a time
    with rt.db.reading() as tx:
        waiting = events.waiting(tx, message_id)
    assert waiting.events == (charges[0],)
    assert waiting.until == until
    fixed = _charge("c1", "12.00")  # the parser was fixed: the same key, other content
    other = _message(rt, "A2")
    with rt.db.transaction() as tx:
        assert events.refresh(tx, [fixed, _charge("c3")], message_id=message_id, now=T0) == [
            _charge("c3"),
            fixed,
        ]
        assert events.refresh(tx, [_charge("c2", "99.00")], message_id=other, now=T0) == []  # not its event
    assert events.for_message(rt.db, message_id) == [fixed, charges[1], _charge("c3")]


def test_posting_events_since_skip_context_and_stop_at_the_limit(rt: Runtime) -> None:
    message_id = _message(rt, "B1")
    payment = PatientPaymentReceived(
        key="p1",
        source=SourceRef("m", "$"),
        occurred_on=date(2024, 3, 2),
        facility="NCA",
        payment_id="P1",
        amount=Money(Decimal("5.00"), "USD"),
    )
    with rt.db.transaction() as tx:
        events.record(tx, [_charge("c1"), payment], message_id=message_id, now=T0)
    assert events.posting_events_since(rt.db, T0, limit=10) == [
        (message_id, _charge("c1")),
        (message_id, payment),
    ]
    assert events.posting_events_since(rt.db, T0, limit=1) == [(message_id, _charge("c1"))]
    assert events.posting_events_since(rt.db, T0 + timedelta(seconds=1), limit=10) == []


def test_the_calendar_has_every_period_with_its_last_day(rt: Runtime) -> None:
    for period in ("2024-02", "2024-12"):
        periods.set_status(rt.db, "MHN", period, PeriodStatus.CLOSED, actor="t", now=T0, anchor=None)
    with rt.db.reading() as tx:
        calendar = periods.calendar(tx)
    assert sorted((p.start, p.end) for p in calendar.periods) == [
        (date(2024, 2, 1), date(2024, 2, 29)),
        (date(2024, 12, 1), date(2024, 12, 31)),
    ]
    assert not calendar.is_open("MHN", date(2024, 2, 29)) and calendar.is_open("MHN", date(2024, 3, 1))


def _draft() -> JournalDraft:
    dims = Dimensions(legal_entity="MHN", facility="F1")
    lines = (
        JournalLine.signed(
            account="1010",
            role=AccountRole.CASH_CLEARING,
            amount=Money.of("5.00", "USD"),
            dimensions=dims,
            event_keys=("p1",),
        ),
        JournalLine.signed(
            account="1220",
            role=AccountRole.AR_PATIENT,
            amount=Money.of("-5.00", "USD"),
            dimensions=dims,
            event_keys=("p1",),
        ),
    )
    return JournalDraft(
        lane=Lane.REALTIME,
        legal_entity="MHN",
        currency="USD",
        posting_date=date(2024, 3, 2),
        source_document_key="p1",
        lines=tuple(line for line in lines if line is not None),
    )


def test_a_realtime_journal_is_staged_once_with_its_rows_linked(rt: Runtime) -> None:
    draft = _draft()
    journal = realtime_journal(draft)
    with rt.db.transaction() as tx:
        assert journals.stage_realtime(tx, draft, journal, connector="embedded", first_received_at=T0, now=T0)
    with rt.db.transaction() as tx:
        assert not journals.stage_realtime(
            tx, draft, journal, connector="embedded", first_received_at=T0, now=T0
        )
    stored = journals.get(rt.db, journal.id)
    assert stored is not None and stored.status == journals.STAGED
    assert [line.event_keys for line in stored.journal.lines] == [("p1",), ("p1",)]
    with rt.db.reading() as tx:
        (standing,) = subledger.standing_drafts(tx, ["p1"])
    assert {(ln.role, ln.net.amount) for ln in standing.lines} == {
        (ln.role, ln.net.amount) for ln in draft.lines
    }


def test_messages_a_replay_and_the_waiting_loop_take(rt: Runtime) -> None:
    first, second = _message(rt, "W1"), _message(rt, "W2")
    with rt.db.transaction() as tx:
        queue.settle(tx, first, status=queue.WAITING, reason="waiting for context", now=T0)
        queue.settle(tx, second, status=queue.EXCEPTED, reason="UNMAPPED_DEPARTMENT", now=T0)
        open_items(
            tx,
            [
                Problem(
                    code=ProblemCode.UNMAPPED_DEPARTMENT, message="m", where=SourceRef(second, "FT1[1]-13")
                )
            ],
            now=T0,
            message_id=second,
        )
    assert queue.waiting_ids(rt.db) == [first]
    with rt.db.transaction() as tx:
        assert queue.take_waiting(tx, first)
        assert not queue.take_waiting(tx, second)
        assert queue.stored(tx, first).id == first
        assert queue.received_at(tx, first) == queue.stored(tx, first).received_at
    assert queue.replayable_messages(rt.db, ReplayChoice(code="UNMAPPED_DEPARTMENT")) == (second,)
    # a waiting message is not finished: a replay cannot take it
    assert queue.replayable_messages(rt.db, ReplayChoice(message_ids=(first, second))) == (second,)


def test_a_replay_clears_the_items_it_no_longer_finds(rt: Runtime) -> None:
    message_id = _message(rt, "R1")
    found = [
        Problem(code=ProblemCode.UNMAPPED_DEPARTMENT, message="m", where=SourceRef(message_id, "FT1[1]-13")),
        Problem(code=ProblemCode.UNMAPPED_PAYER, message="m", where=SourceRef(message_id, "IN1[1]-3")),
    ]
    with rt.db.transaction() as tx:
        open_items(tx, found, now=T0, message_id=message_id)
        assert workitems.resolve_cleared(tx, message_id, still=found[1:], actor="me", now=T0) == 1
    (cleared,) = workitems.list_items(rt.db, status=workitems.RESOLVED)
    assert (cleared.code, cleared.resolved_by) == ("UNMAPPED_DEPARTMENT", "me")
    assert [i.code for i in workitems.list_items(rt.db, status=workitems.OPEN)] == ["UNMAPPED_PAYER"]
