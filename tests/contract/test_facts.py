"""The fact readers of reconciliation (store/facts/) and ``gather`` on SQLite and PostgreSQL.

Over the store ``facts_store.fill`` writes with the pipeline's own writers, each reader is checked
where it can go wrong: scoping to a day, remittance members, journals reached from another day's
events, embedded read-back and stray ERP documents, message day bounds, work item codes, and the
AR balances and movements. The readers are checked through ``gather`` (one day and everything) and
one by one where ``gather`` leaves a case unasked; ``report`` last, for the ERP readers it is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

import pytest
from facts_store import AT, DAY, ERA, NOW, fill

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole as R
from revbridge.pipeline.reconciliation import report
from revbridge.reconcile import ErpDocument, JournalFact
from revbridge.store import Database, facts
from revbridge.store.facts import journals as journal_facts
from revbridge.store.facts import messages as message_facts
from revbridge.store.facts import receivables, source, subledger
from revbridge.store.facts.scope import CHUNK


@pytest.fixture
def engine(db_url: str) -> Iterator[Database]:
    engine = Database.open(db_url, null_pool=True)
    yield engine
    engine.close()


@pytest.fixture
def filled(engine: Database) -> Database:
    return fill(engine)


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
