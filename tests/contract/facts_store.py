"""A store filled for the contract tests of reconciliation's fact readers (test_facts.py).

The pipeline's own writers fill it (events.record, subledger.insert_lines, journals.stage_journal,
the embedded ledger's submit), with messages and work items as rows, so each reader meets data
shaped exactly as production writes it: one day's ERA posted to the embedded ledger, a batch of
charges from this day and the day before (one moved onto this day), context, messages around the
day's bounds, work items, and ERP documents no journal of ours has.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

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
    Journal,
    JournalDraft,
    JournalLine,
    Lane,
    batch_journals,
    realtime_journal,
)
from revbridge.ledger.role import AccountRole as R
from revbridge.masterdata import load
from revbridge.store import Database, configs, journals
from revbridge.store import events as event_store
from revbridge.store import subledger as subledger_writer
from revbridge.store.schema import events, gl_documents, messages, work_items
from revbridge.store.schema import journals as journal_table

DAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 16, 9, 0, tzinfo=UTC)
AT = datetime.combine(DAY, time(10), tzinfo=UTC)
REFERENCE = Path(__file__).resolve().parents[2] / "examples" / "config"
ERA = "x12:835:00301:T1"


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


def fill(engine: Database) -> Database:
    """The reference configuration, then the sources' messages, work items and events, then
    their subledger rows, journals and what the embedded ledger holds."""
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
    _sources(engine)
    realtime = _subledger_and_journals(engine)
    _embedded_ledger(engine, realtime)
    return engine


def _sources(engine: Database) -> None:
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


def _subledger_and_journals(engine: Database) -> Journal:
    """The ERA's rows in its realtime journal; the charges' rows in window W1, those of this day
    in a staged batch journal and c-old (three days before) still in no journal."""
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
    return realtime


def _embedded_ledger(engine: Database, realtime: Journal) -> None:
    """The realtime journal posted to the embedded ledger, and two documents no journal has."""
    EmbeddedLedger(engine, clock=FixedClock(AT)).submit(realtime)
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
