"""The fact readers of reconciliation (store/facts/) and ``gather`` on SQLite and PostgreSQL.

The store is filled with the pipeline's own writers (events.record, subledger.insert_lines,
journals.stage_journal, the embedded ledger's submit), with messages and work items as rows, so
each reader is checked against data shaped exactly as production writes it: scoping to a day,
remittance members, journals reached from another day's events, embedded read-back and stray
ERP documents, message day bounds, work item codes, and the AR balances and movements. The
readers are checked through ``gather`` (one day and everything) and one by one where ``gather``
leaves a case unasked; ``report`` last, for the ERP readers it is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update

from revbridge.canonical.events import (
    CanonicalEvent,
    ChargeCaptured,
    ClaimAdjudicated,
    EncounterRegistered,
    ProviderAdjustment,
    RemittanceReceived,
)
from revbridge.connectors.embedded import EmbeddedLedger
from revbridge.core.clock import FixedClock
from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.ledger.journal import (
    Dimensions,
    JournalDraft,
    JournalLine,
    Lane,
    batch_journals,
    realtime_journal,
)
from revbridge.ledger.role import AccountRole as R
from revbridge.masterdata import load
from revbridge.pipeline import subledger as subledger_writer
from revbridge.pipeline.reconciliation import report
from revbridge.reconcile import ErpDocument, JournalFact
from revbridge.store import Database, configs, facts, journals
from revbridge.store import events as event_store
from revbridge.store.facts import journals as journal_facts
from revbridge.store.facts import messages as message_facts
from revbridge.store.facts import receivables, source, subledger
from revbridge.store.facts.scope import CHUNK
from revbridge.store.schema import events, gl_documents, messages, work_items
from revbridge.store.schema import journals as journal_table

DAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 16, 9, 0, tzinfo=UTC)
AT = datetime.combine(DAY, time(10), tzinfo=UTC)
REFERENCE = Path(__file__).resolve().parents[2] / "examples" / "config"
ERA = "x12:835:00301:T1"


@pytest.fixture
def engine(db_url: str) -> Iterator[Database]:
    engine = Database.open(db_url, null_pool=True)
    yield engine
    engine.close()


def _message(engine: Database, message_id: str, status: str, received_at: datetime, **extra: object) -> None:
    with engine.transaction() as conn:
        conn.execute(
            messages.insert().values(
                id=message_id,
                channel=extra.pop("channel", "file:era.835"),
                format="x12",
                content_hash="0" * 64,
                size=1,
                locator="",
                received_at=received_at,
                correlation_id="",
                status=status,
                attempts=1,
                **extra,
            )
        )


def _work_item(
    engine: Database, code: str, status: str, *, message_id: str, event_key: str | None = None
) -> None:
    with engine.transaction() as conn:
        conn.execute(
            work_items.insert().values(
                code=code,
                severity="error",
                status=status,
                locator="",
                message=code,
                message_id=message_id,
                event_key=event_key,
                details="{}",
                fingerprint=f"{code}{message_id}{event_key}",
                created_at=AT,
                updated_at=AT,
            )
        )


def _events(engine: Database, message_id: str, items: list[CanonicalEvent], state: str | None = None) -> None:
    with engine.transaction() as conn:
        event_store.record(conn, items, message_id=message_id, now=AT)
        if state is not None:
            conn.execute(update(events).where(events.c.message_id == message_id).values(state=state))


def _line(key: str, account: str, role: R, signed: str, payer_class: str = "MEDICARE") -> JournalLine:
    found = JournalLine.signed(
        account=account,
        role=role,
        amount=Money.of(signed),
        dimensions=Dimensions(legal_entity="MHN", facility="MHN-HOPE", payer_class=payer_class),
        event_keys=(key,),
    )
    assert found is not None
    return found


def _draft(document: str, lines: list[JournalLine], lane: Lane, day: date = DAY) -> JournalDraft:
    return JournalDraft(
        lane=lane,
        legal_entity="MHN",
        currency="USD",
        posting_date=day,
        source_document_key=document,
        lines=tuple(lines),
    )


def _remittance_events() -> list[CanonicalEvent]:
    src = SourceRef("M-ERA", "ST[1]")
    usd = Money.of
    return [
        RemittanceReceived(
            key=ERA,
            source=src,
            occurred_on=DAY,
            facility="6543210903",
            remittance_id="00301:T1",
            payer_id="00301",
            trace="T1",
            amount=usd("95.00"),
        ),
        ClaimAdjudicated(
            key=f"{ERA}:A",
            source=src,
            occurred_on=DAY,
            facility="6543210903",
            remittance_id="00301:T1",
            payer_id="00301",
            claim_id="A",
            status="1",
            charge=usd("130.00"),
            paid=usd("100.00"),
            patient_responsibility=usd("0"),
        ),
        ProviderAdjustment(
            key=f"{ERA}:PLB",
            source=src,
            occurred_on=DAY,
            facility="6543210903",
            remittance_id="00301:T1",
            payer_id="00301",
            reason="WO",
            amount=usd("5.00"),
        ),
        # a second remittance in the same interchange: its members are not the first one's
        ClaimAdjudicated(
            key="x12:835:00301:T2:B",
            source=src,
            occurred_on=DAY,
            facility="6543210903",
            remittance_id="00301:T2",
            payer_id="00301",
            claim_id="B",
            status="1",
            charge=usd("10.00"),
            paid=usd("10.00"),
            patient_responsibility=usd("0"),
        ),
    ]


def _charge(key: str, day: date, amount: str) -> ChargeCaptured:
    return ChargeCaptured(
        key=key,
        source=SourceRef("M-DFT", "FT1[1]"),
        occurred_on=day,
        facility="HOPE",
        charge_id=key,
        encounter="V1",
        department="ED",
        amount=Money.of(amount),
    )


@pytest.fixture
def filled(engine: Database) -> Database:
    """One day's ERA (posted to the embedded ledger), a batch of charges from this day and the day
    before (one moved onto this day), context, messages around the day's bounds and work items."""
    config, errors = load(REFERENCE)
    assert config is not None, errors
    configs.propose(
        engine,
        config,
        effective_from=date(2000, 1, 1),
        actor="test",
        note="",
        source="test",
        now=AT,
        approve=True,
        anchor=None,
    )
    _message(engine, "M-ERA", "processed", AT)
    _message(engine, "M-DFT", "processed", AT - timedelta(days=1))
    _message(engine, "M-LATE", "excepted", datetime.combine(DAY, time(23, 59, 59), tzinfo=UTC))
    _message(engine, "M-NEXT", "pending", datetime.combine(DAY + timedelta(days=1), time(0), tzinfo=UTC))
    _message(engine, "M-DUP", "duplicate", AT, duplicate_of="M-ERA", channel="mllp:10.0.0.1")
    _message(engine, "M-DUP2", "duplicate", AT, duplicate_of="M-GONE", channel="http:x12:key")
    _work_item(engine, "UNMAPPED_PAYER", "open", message_id="M-LATE")
    _work_item(engine, "UNMAPPED_DEPARTMENT", "open", message_id="M-DFT", event_key="c-today")
    _work_item(engine, "EVENT_CONFLICT", "resolved", message_id="M-DFT", event_key="c-today")
    _events(engine, "M-ERA", _remittance_events(), state="staged")
    _events(
        engine,
        "M-DFT",
        [_charge("c-today", DAY, "40.00"), _charge("c-before", DAY - timedelta(days=1), "60.00")],
    )
    encounter = EncounterRegistered(
        key="adt:1",
        source=SourceRef("M-DFT", "PV1"),
        occurred_on=DAY,
        facility="HOPE",
        encounter="V1",
        patient=PatientToken("tok"),
    )
    _events(engine, "M-DFT", [encounter])
    era = _draft(
        ERA,
        [
            _line(ERA, "1015", R.CASH_CLEARING, "95.00"),
            _line(f"{ERA}:A", "4510", R.CONTRACTUAL_ALLOWANCE, "30.00"),
            _line(f"{ERA}:A", "1211", R.AR_PAYER, "-130.00"),
            _line(f"{ERA}:PLB", "2155", R.PAYER_CREDIT_BALANCE, "5.00"),
        ],
        Lane.REALTIME,
    )
    charges = [
        _draft(
            key,
            [
                _line(key, "1214", R.AR_PAYER, amount, "COMMERCIAL"),
                _line(key, "4100", R.GROSS_REVENUE, f"-{amount}"),
            ],
            Lane.BATCH,
            day,
        )
        for key, amount, day in (
            ("c-today", "40.00", DAY),
            ("c-before", "60.00", DAY),
            ("c-old", "7.00", DAY - timedelta(days=3)),
        )
    ]
    realtime = realtime_journal(era)
    with engine.transaction() as conn:
        subledger_writer.insert_lines(conn, era, journal_id=realtime.id, window=None, received_at=AT, now=AT)
        journals.stage_journal(conn, realtime, connector="embedded", first_received_at=AT, now=AT)
        for draft in charges:
            subledger_writer.insert_lines(conn, draft, journal_id=None, window="W1", received_at=AT, now=AT)
        for batch in batch_journals(charges[:2], "W1"):
            subledger_writer.assign_window(conn, "W1", batch)
            journals.stage_journal(conn, batch, connector="embedded", first_received_at=AT, now=AT)
    ledger = EmbeddedLedger(engine, clock=FixedClock(AT))
    ledger.submit(realtime)
    with engine.transaction() as conn:
        conn.execute(
            update(journal_table)
            .where(journal_table.c.id == realtime.id)
            .values(status="posted", erp_document="GL-00000001")
        )
        for reference, day in (("J-STRAY", DAY), ("J-STRAY-OLD", DAY - timedelta(days=2))):
            conn.execute(
                gl_documents.insert().values(
                    reference=reference, legal_entity="MHN", posting_date=day, period="2026-06", posted_at=AT
                )
            )
    return engine


def test_a_day_gathers_its_posting_events_with_their_messages_states(filled: Database) -> None:
    found = facts.gather(filled, day=DAY, today=NOW.date())
    assert sorted((e.key, e.kind, e.state, e.message_state) for e in found.events) == sorted(
        [
            (ERA, "RemittanceReceived", "staged", "processed"),
            (f"{ERA}:A", "ClaimAdjudicated", "staged", "processed"),
            (f"{ERA}:PLB", "ProviderAdjustment", "staged", "processed"),
            ("c-today", "ChargeCaptured", "recorded", "processed"),
            ("x12:835:00301:T2:B", "ClaimAdjudicated", "staged", "processed"),
        ]
    )
    charge = next(e for e in found.events if e.key == "c-today")
    assert charge.amount == Money.of("40.00") and charge.facility == "HOPE" and charge.occurred_on == DAY
    assert found.facilities == {"HOPE": "MHN-HOPE", "6543210903": "MHN-HOPE"}


def test_a_remittance_header_with_exactly_its_own_members(filled: Database) -> None:
    (r,) = facts.gather(filled, day=DAY, today=NOW.date()).remittances
    assert (r.key, r.remittance_id, r.payer_id, r.trace, r.occurred_on) == (
        ERA,
        "00301:T1",
        "00301",
        "T1",
        DAY,
    )
    assert r.amount == Money.of("95.00") and r.carries_cash
    assert r.member_keys == (f"{ERA}:A", f"{ERA}:PLB")


def test_lines_of_the_days_events_and_of_every_journal_they_reached(filled: Database) -> None:
    found = facts.gather(filled, day=DAY, today=NOW.date())
    keys = sorted({ln.event_key for ln in found.lines})
    # c-before happened the day before, but its row is in this day's batch journal; c-old is not
    assert keys == sorted([ERA, f"{ERA}:A", f"{ERA}:PLB", "c-before", "c-today"])
    cash = next(ln for ln in found.lines if ln.role is R.CASH_CLEARING)
    assert cash.net == Money.of("95.00") and cash.journal_id is not None and cash.journal_line_id is not None
    relief = next(ln for ln in found.lines if ln.role is R.AR_PAYER and ln.event_key == f"{ERA}:A")
    assert relief.net == Money.of("-130.00") and relief.payer_class == "MEDICARE"
    assert {j.status for j in found.journals} == {"posted", "staged"}
    batch = next(j for j in found.journals if j.status == "staged")
    assert sum((jl.debit.amount for jl in batch.lines), Decimal(0)) == Decimal("100.00")


def test_the_embedded_ledgers_documents_and_strays_dated_that_day(filled: Database) -> None:
    found = facts.gather(filled, day=DAY, today=NOW.date())
    posted = next(j for j in found.journals if j.status == "posted")
    assert set(found.documents) == {posted.id, "J-STRAY"}
    document = found.documents[posted.id]
    assert document.document.startswith("GL-")
    assert sorted((ln.account, ln.debit.amount, ln.credit.amount) for ln in document.lines) == sorted(
        (jl.account, jl.debit.amount, jl.credit.amount) for jl in posted.lines
    )
    assert found.documents["J-STRAY"].lines == ()
    assert "embedded" in found.read_back


def test_messages_received_that_utc_day_or_carrying_its_events_with_their_evidence(filled: Database) -> None:
    found = facts.gather(filled, day=DAY, today=NOW.date())
    by_id = {m.id: m for m in found.messages}
    # M-DFT arrived the day before but carries a charge of this day; M-NEXT arrived at midnight after
    assert set(by_id) == {"M-ERA", "M-LATE", "M-DUP", "M-DUP2", "M-DFT"}
    assert by_id["M-DFT"].received_at.date() == DAY - timedelta(days=1)
    assert by_id["M-LATE"].work_items == ("UNMAPPED_PAYER",)
    assert by_id["M-DUP"].duplicate_found and not by_id["M-DUP2"].duplicate_found
    assert (by_id["M-DUP"].source, by_id["M-DUP2"].source) == ("mllp", "http")
    assert by_id["M-ERA"].received_at == AT


def test_open_work_item_codes_by_event_and_by_message(filled: Database) -> None:
    codes = facts.gather(filled, day=DAY, today=NOW.date()).codes
    assert codes["c-today"] == ("UNMAPPED_DEPARTMENT",)
    assert codes["M-DFT"] == ("UNMAPPED_DEPARTMENT",)  # the resolved EVENT_CONFLICT is no reason


def test_ar_opening_closing_journals_and_movements(filled: Database) -> None:
    found = facts.gather(filled, day=DAY, today=NOW.date())
    assert (found.ar_start, found.ar_end) == (DAY, DAY)
    assert [(b.payer_class, b.role.value, b.amount, b.journaled) for b in found.ar_opening] == [
        ("COMMERCIAL", "ar_payer", Money.of("7.00"), False)
    ]
    closing = sorted((b.payer_class, b.amount.amount, b.journaled) for b in found.ar_closing)
    assert closing == sorted(
        [
            ("COMMERCIAL", Money.of("100.00").amount, True),
            ("COMMERCIAL", Money.of("7.00").amount, False),
            ("MEDICARE", Money.of("-130.00").amount, True),
        ]
    )
    assert sorted((b.payer_class, b.amount.amount) for b in found.ar_journals) == [
        ("COMMERCIAL", Money.of("100.00").amount),
        ("MEDICARE", Money.of("-130.00").amount),
    ]
    moved = {(ln.event_key, ln.role.value) for ln in found.ar_movements}
    assert moved == {
        (f"{ERA}:A", "ar_payer"),
        (f"{ERA}:A", "contractual_allowance"),
        ("c-today", "ar_payer"),
        ("c-today", "gross_revenue"),
        ("c-before", "ar_payer"),
        ("c-before", "gross_revenue"),
    }
    assert found.kinds[f"{ERA}:A"] == "ClaimAdjudicated" and found.kinds["c-before"] == "ChargeCaptured"


def test_everything_when_no_day_is_given(filled: Database) -> None:
    found = facts.gather(filled, day=None, today=NOW.date())
    assert {e.key for e in found.events} >= {"c-before", "c-today", ERA}
    assert "c-old" in {ln.event_key for ln in found.lines}
    assert len(found.messages) == 6
    assert set(found.documents) >= {"J-STRAY", "J-STRAY-OLD"}
    assert found.ar_start is None and found.ar_end == NOW.date()
    assert found.ar_opening == ()


def test_drill_down_of_one_receivable_balance(filled: Database) -> None:
    found = facts.ar_events(filled, legal_entity="MHN", payer_class="COMMERCIAL", through=DAY)
    assert found == (
        ("c-before", Money.of("60.00")),
        ("c-today", Money.of("40.00")),
        ("c-old", Money.of("7.00")),
    )
    assert facts.ar_events(filled, legal_entity="MHN", payer_class="COMMERCIAL", since=DAY, through=DAY) == (
        ("c-before", Money.of("60.00")),
        ("c-today", Money.of("40.00")),
    )


def test_each_reader_reads_everything_when_no_day_is_given(filled: Database) -> None:
    with filled.reading() as tx:
        assert subledger.last_posting_date(tx) == DAY
        ids = journal_facts.journal_ids_dated(tx, None)
        assert len(ids) == 2 and ids == journal_facts.journal_ids_dated(tx, DAY)
        assert {j.id for j in journal_facts.journals_of(tx, None)} == ids
        kinds = source.kinds_of(tx, None)
        assert (
            len(kinds) == 7 and kinds["adt:1"] == "EncounterRegistered" and kinds[ERA] == "RemittanceReceived"
        )
        assert [r.key for r in source.remittances_of(tx, None)] == [ERA]
        # the day's codes are those of its events and their messages; M-LATE carries no event
        assert "M-LATE" not in message_facts.codes_of(tx, DAY)
        assert message_facts.codes_of(tx, None) == {
            "c-today": ("UNMAPPED_DEPARTMENT",),
            "M-DFT": ("UNMAPPED_DEPARTMENT",),
            "M-LATE": ("UNMAPPED_PAYER",),
        }


def test_ar_movements_alike_from_the_database_and_from_rows_in_hand(filled: Database) -> None:
    with filled.reading() as tx:
        everything = subledger.lines_of_events(tx, None)
        for end in (DAY, DAY - timedelta(days=1)):
            from_db = receivables.movements(tx, start=None, end=end)
            assert from_db == receivables.moved(everything, end)
        assert {ln.event_key for ln in receivables.movements(tx, start=None, end=DAY)} == {
            f"{ERA}:A",
            "c-today",
            "c-before",
            "c-old",
        }
        assert {ln.event_key for ln in from_db} == {"c-old"}


def test_lines_of_a_journal_whatever_day_their_events_happened(filled: Database) -> None:
    with filled.reading() as tx:
        batch = next(j for j in journal_facts.journals_of(tx, None) if j.lane == "batch")
        found = subledger.lines_of_journals(tx, {batch.id})
        # ids beyond one chunk are read in several queries, with the same result
        many = subledger.lines_of_journals(tx, {batch.id, *(f"J-NONE-{n}" for n in range(CHUNK))})
    assert {ln.event_key for ln in found} == {"c-today", "c-before"}
    assert all(ln.journal_id == batch.id for ln in found) and many == found
    assert sorted(ln.net.amount for ln in found) == sorted(
        Money.of(a).amount for a in ("40.00", "-40.00", "60.00", "-60.00")
    )


def test_the_message_an_event_came_in(filled: Database) -> None:
    assert facts.message_id_of(filled, ERA) == "M-ERA"
    assert facts.message_id_of(filled, "c-today") == "M-DFT"
    assert facts.message_id_of(filled, "no-such-event") is None


def test_the_configuration_in_effect_on_a_day(filled: Database) -> None:
    config = facts.configuration_on(filled, DAY)
    assert config is not None and config.facility_code("HOPE") == "MHN-HOPE"
    assert facts.configuration_on(filled, date(1999, 12, 31)) is None


def test_report_reads_an_erp_back_through_the_reader_it_is_given(filled: Database) -> None:
    asked: list[list[str]] = []

    def empty_erp(posted: Sequence[JournalFact]) -> Mapping[str, ErpDocument]:
        asked.append([j.id for j in posted])
        return {j.id: ErpDocument(reference=j.id, document="ERP-1", lines=()) for j in posted}

    (posted,) = [
        j.id for j in facts.gather(filled, day=DAY, today=NOW.date()).journals if j.status == "posted"
    ]
    assert report(filled, day=DAY, now=NOW).journals.checks[posted].delivery.value == "acknowledged"
    found = report(filled, day=DAY, now=NOW, readers={"embedded": empty_erp})
    assert asked == [[posted]]
    assert found.journals.checks[posted].delivery.value == "mismatch"
    assert any(b.subject == f"journal {posted}" and b.control.value == "erp" for b in found.breaks)
