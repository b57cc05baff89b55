"""The daily tie-out per facility and event kind: source = subledger = ERP, held and by-rule items."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from reconcile_facts import (
    CLAIM_A,
    DAY,
    NOW,
    R,
    by_event,
    era_events,
    era_lines,
    gl_document,
    journal,
    line,
    usd,
)

from revbridge.reconcile import Control, EventFact, LineFact, Thresholds
from revbridge.reconcile.daily import DailyResult, DailyRow, disposition, facility_label, tie_out
from revbridge.reconcile.journals import check as check_journals

T = Thresholds()
FACILITIES = {"6543210903": "MHN-HOPE", "STJ": "MHN-STJ"}


def charge(key: str, amount: str, **changes: object) -> EventFact:
    base = EventFact(
        key=key,
        kind="ChargeCaptured",
        message_id=f"M-{key}",
        facility="STJ",
        occurred_on=DAY,
        amount=usd(amount),
        state="staged",
        message_state="processed",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def charge_rows(key: str, amount: str) -> list[LineFact]:
    return [
        line(key, R.AR_PAYER, amount, payer_class="COMMERCIAL", document="window"),
        line(key, R.GROSS_REVENUE, f"-{amount}", payer_class="", cost_center="CC-4100", document="window"),
    ]


def run(
    events: list[EventFact],
    rows: list[LineFact],
    *,
    journal_status: str = "posted",
    drop: tuple[str, ...] = (),
    codes: dict[str, tuple[str, ...]] | None = None,
) -> DailyResult:
    journaled = [r for r in rows if r.journal_id is not None]
    loose = [r for r in rows if r.journal_id is None]
    journals, linked = [], list(loose)
    for journal_id in sorted({r.journal_id for r in journaled if r.journal_id}):
        fact, members = journal(
            journal_id,
            [replace(r, journal_id=None) for r in journaled if r.journal_id == journal_id],
            status=journal_status,
        )
        journals.append(fact)
        linked.extend(members)
    documents = {j.id: gl_document(j, drop=drop) for j in journals if j.status == "posted"}
    checked = check_journals(
        journals, linked, documents, read_back=frozenset({"embedded"}), now=NOW, thresholds=T
    )
    return tie_out(
        events, by_event(linked), checked, facilities=FACILITIES, codes=codes or {}, now=NOW, thresholds=T
    )


def row(result: DailyResult, kind: str) -> DailyRow:
    (found,) = [r for r in result.rows if r.kind == kind]
    return found


def journaled(rows: list[LineFact], journal_id: str) -> list[LineFact]:
    return [replace(r, journal_id=journal_id) for r in rows]


def test_the_worked_era_and_a_charge_batch_tie_per_facility_and_kind() -> None:
    rows = era_lines() + journaled(charge_rows("c1", "125.10") + charge_rows("c2", "74.90"), "J-BATCH")
    result = run([*era_events(), charge("c1", "125.10"), charge("c2", "74.90")], rows)
    assert result.breaks == ()
    assert [(r.facility, r.kind, r.events) for r in result.rows] == [
        ("MHN-HOPE", "ClaimAdjudicated", 3),
        ("MHN-HOPE", "ProviderAdjustment", 2),
        ("MHN-HOPE", "RemittanceReceived", 1),
        ("MHN-STJ", "ChargeCaptured", 2),
    ]
    charges = row(result, "ChargeCaptured")
    assert charges.source == charges.expected == charges.subledger == charges.acknowledged == usd("200.00")
    claims = row(result, "ClaimAdjudicated")
    assert claims.source == claims.acknowledged == usd("630.00")
    assert charges.as_json(keys=False)["carried_by"] == "gross_revenue" and charges.ties


def test_held_events_are_reconciling_items_with_their_codes() -> None:
    events = [charge("c1", "125.10"), charge("c2", "74.90", state="excepted", message_state="excepted")]
    result = run(
        events, journaled(charge_rows("c1", "125.10"), "J-BATCH"), codes={"M-c2": ("UNMAPPED_DEPARTMENT",)}
    )
    assert result.breaks == ()
    charges = row(result, "ChargeCaptured")
    assert charges.source == usd("200.00") and charges.held == usd("74.90")
    assert charges.expected == charges.subledger == usd("125.10")
    assert charges.held_codes == (("UNMAPPED_DEPARTMENT", 1),)
    assert charges.as_json(keys=True)["held_event_keys"] == ["c2"]


def test_posting_nothing_by_rule_is_neither_held_nor_a_break() -> None:
    claim = replace(charge("s1", "500.00"), kind="ClaimSubmitted", state="applied")
    result = run([claim], [])
    assert result.breaks == ()
    submitted = row(result, "ClaimSubmitted")
    assert submitted.by_rule == usd("500.00") and submitted.expected == usd("0")


def test_applied_events_of_an_excepted_message_are_held() -> None:
    assert disposition(charge("x", "1.00", state="applied", message_state="excepted")) == "held"
    assert disposition(charge("x", "1.00", state="applied", message_state="processed")) == "by_rule"
    assert disposition(charge("x", "1.00", state="waiting", message_state="waiting")) == "held"
    assert disposition(charge("x", "1.00", state="recorded")) == "held"


def test_a_subledger_amount_that_differs_from_the_source_names_the_event() -> None:
    rows = journaled(charge_rows("c1", "125.10") + charge_rows("c2", "74.90"), "J-BATCH")
    rows = [replace(r, net=usd("-75.00")) if r.net == usd("-74.90") else r for r in rows]
    result = run([charge("c1", "125.10"), charge("c2", "74.90")], rows)
    (brk,) = result.breaks
    assert brk.control is Control.DAILY
    assert brk.subject == "2026-06-15 MHN-STJ ChargeCaptured"
    assert brk.event_keys == ("c2",)
    assert brk.expected == usd("200.00") and brk.actual == usd("200.10")
    assert "on gross_revenue" in brk.message
    assert not row(result, "ChargeCaptured").ties


def test_amounts_booked_for_an_event_that_posts_nothing_are_a_break() -> None:
    events = [charge("c1", "125.10", state="excepted", message_state="excepted")]
    result = run(events, journaled(charge_rows("c1", "125.10"), "J-BATCH"))
    (brk,) = result.breaks
    assert brk.event_keys == ("c1",) and brk.expected == usd("0") and brk.actual == usd("125.10")


def test_amounts_the_erp_does_not_hold_are_a_break_naming_the_events() -> None:
    result = run(era_events(), era_lines(), drop=("4510",))
    (brk,) = [b for b in result.breaks if b.subject.endswith("ClaimAdjudicated")]
    assert "the ERP acknowledged" in brk.message
    assert len(brk.event_keys) == 3 and CLAIM_A in brk.event_keys
    claims = row(result, "ClaimAdjudicated")
    assert claims.subledger == usd("630.00") and claims.acknowledged == usd("1100.00")
    assert row(result, "RemittanceReceived").ties  # the cash group is intact


def test_journals_in_the_outbox_and_open_windows_are_in_flight() -> None:
    events = [charge("c1", "125.10")]
    open_window = run(events, charge_rows("c1", "125.10"))
    assert open_window.breaks == ()
    charges = row(open_window, "ChargeCaptured")
    assert charges.in_flight == usd("125.10") and charges.journaled == usd("0")
    outbox = run(events, journaled(charge_rows("c1", "125.10"), "J-BATCH"), journal_status="staged")
    assert outbox.breaks == () and row(outbox, "ChargeCaptured").in_flight == usd("125.10")
    failed = run(events, journaled(charge_rows("c1", "125.10"), "J-BATCH"), journal_status="failed")
    assert [b.control for b in failed.breaks] == [Control.DAILY]
    stale = [replace(r, created_at=NOW - timedelta(hours=5)) for r in charge_rows("c1", "125.10")]
    assert run(events, stale).breaks[0].event_keys == ("c1",)


def test_unmapped_facilities_are_shown_as_sent() -> None:
    assert facility_label(" STJ ", FACILITIES) == "MHN-STJ"
    assert facility_label("XYZ", FACILITIES) == "XYZ (unmapped)"
    assert facility_label("", FACILITIES) == "(none) (unmapped)"
