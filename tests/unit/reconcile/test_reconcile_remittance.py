"""Per remittance, cash posted = BPR02: ties, held, in flight, and every way it breaks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from reconcile_facts import (
    CLAIM_A,
    ERA,
    NOW,
    by_event,
    era_events,
    era_lines,
    era_remittance,
    gl_document,
    journal,
    usd,
)

from revbridge.reconcile import Control, ErpDocument, EventFact, LineFact, RemittanceFact, Thresholds
from revbridge.reconcile.journals import check as check_journals
from revbridge.reconcile.remittance import RemittanceResult, check

T = Thresholds()


def run(
    rows: list[LineFact],
    *,
    status: str = "posted",
    events: list[EventFact] | None = None,
    remittance: RemittanceFact | None = None,
    documents: dict[str, ErpDocument] | None = None,
    codes: dict[str, tuple[str, ...]] | None = None,
    created_at: datetime = NOW - timedelta(minutes=5),
) -> RemittanceResult:
    journals = []
    linked = rows
    if rows and rows[0].journal_id is not None:
        fact, linked = journal(
            rows[0].journal_id,
            [replace(r, journal_id=None) for r in rows],
            status=status,
            created_at=created_at,
        )
        journals.append(fact)
    docs = (
        documents
        if documents is not None
        else {j.id: gl_document(j) for j in journals if j.status == "posted"}
    )
    checked = check_journals(journals, linked, docs, read_back=frozenset({"embedded"}), now=NOW, thresholds=T)
    found = {e.key: e for e in (events if events is not None else era_events())}
    return check(
        [remittance or era_remittance()],
        found,
        by_event(linked),
        checked,
        codes=codes or {},
        now=NOW,
        thresholds=T,
    )


def test_cash_posted_and_acknowledged_equals_bpr02() -> None:
    result = run(era_lines())
    assert result.breaks == ()
    (row,) = result.rows
    assert row.status == "ties"
    assert row.booked == usd("595.25") and row.acknowledged == usd("595.25")
    assert row.journals == (("J-ERA", "acknowledged"),)
    assert row.as_json()["bpr02"] == "595.25"


def test_a_notification_only_remittance_moves_no_cash() -> None:
    result = run([], remittance=era_remittance(amount="5.75", carries_cash=False))
    assert result.breaks == () and result.rows[0].status == "notification"


def test_a_held_remittance_names_its_codes_and_is_not_a_break() -> None:
    events = era_events(state="excepted", message_state="excepted")
    result = run([], events=events, codes={"M-ERA": ("UNMAPPED_PAYER",)})
    assert result.breaks == ()
    (row,) = result.rows
    assert row.status == "held" and row.held_codes == ("UNMAPPED_PAYER",)


def test_one_bad_claim_holds_the_whole_era_through_its_message() -> None:
    events = [
        replace(e, state="excepted" if e.key == CLAIM_A else "applied", message_state="excepted")
        for e in era_events()
    ]
    result = run([], events=events, codes={CLAIM_A: ("UNBALANCED_CLAIM",)})
    assert result.breaks == ()
    assert result.rows[0].status == "held" and result.rows[0].held_codes == ("UNBALANCED_CLAIM",)


def test_held_but_cash_booked_is_a_break() -> None:
    events = era_events(state="excepted", message_state="excepted")
    result = run(era_lines(), events=events)
    (brk,) = result.breaks
    assert "held by the work queue, yet 595.25 cash is booked" in brk.message


def test_staged_but_no_journal_is_a_break() -> None:
    result = run([])
    (brk,) = result.breaks
    assert brk.control is Control.REMITTANCE
    assert brk.subject == "remittance MEDICARE:TRN1"
    assert brk.message == (
        "BPR02 595.25 USD (trace TRN1, paid 2026-06-15): "
        "no cash line was booked: the remittance has no journal"
    )
    assert brk.expected == usd("595.25") and brk.actual == usd("0")
    assert ERA in brk.event_keys and CLAIM_A in brk.event_keys


def test_cash_that_differs_from_bpr02_is_a_break() -> None:
    result = run(era_lines(), remittance=era_remittance(amount="600.00"))
    (brk,) = result.breaks
    assert brk.message.endswith("the cash booked is 595.25")
    assert brk.difference == usd("-4.75")


def test_carrying_cash_while_the_rules_posted_nothing_is_a_break() -> None:
    events = era_events(state="applied", message_state="processed")
    result = run([], events=events)
    (brk,) = result.breaks
    assert "it carries cash, but the rules posted nothing for it" in brk.message


def test_a_failed_journal_is_a_break_named_by_journal() -> None:
    result = run(era_lines(), status="failed")
    (brk,) = result.breaks
    assert brk.message.endswith("its journal J-ERA failed")
    assert result.rows[0].status == "break"


def test_a_journal_missing_from_the_erp_is_a_break() -> None:
    result = run(era_lines(), documents={})
    (brk,) = result.breaks
    assert brk.message.endswith("its journal J-ERA is missing from the ERP")


def test_a_journal_the_erp_holds_without_its_cash_is_a_break() -> None:
    fact, _ = journal("J-ERA", era_lines(journal=None))
    result = run(era_lines(), documents={"J-ERA": gl_document(fact, drop=["1015"])})
    (brk,) = result.breaks
    assert brk.message.endswith("the ERP holds other cash than its journal J-ERA")


def test_the_erp_missing_another_account_does_not_break_the_cash() -> None:
    fact, _ = journal("J-ERA", era_lines(journal=None))
    result = run(era_lines(), documents={"J-ERA": gl_document(fact, drop=["4510"])})
    assert result.breaks == () and result.rows[0].status == "ties"


def test_a_journal_in_the_outbox_is_in_flight_until_stale() -> None:
    young = run(era_lines(), status="staged", created_at=NOW - timedelta(minutes=2))
    assert young.breaks == () and young.rows[0].status == "in_flight"
    old = run(era_lines(), status="staged", created_at=NOW - timedelta(hours=2))
    (brk,) = old.breaks
    assert brk.message.endswith("its journal J-ERA has not reached the ERP in time")


def test_cash_left_out_of_any_journal_past_the_threshold() -> None:
    young = run(era_lines(journal=None))
    assert young.breaks == () and young.rows[0].status == "in_flight"
    stale = [replace(r, created_at=NOW - timedelta(hours=1)) for r in era_lines(journal=None)]
    (brk,) = run(stale).breaks
    assert brk.message.endswith("its cash is still in no journal")


def test_a_zero_payment_books_no_cash_line_and_ties() -> None:
    zero = era_remittance(amount="0")
    for state in ("staged", "applied"):
        result = run([], events=era_events(state=state), remittance=zero)
        assert result.breaks == () and result.rows[0].status == "ties", state
