"""The analytics reports' arithmetic, on hand-made facts: periods, measures, denials and their
reasons, turnaround, days in A/R and collections, latency against the SLA, CSV and JSON."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from revbridge.analytics import (
    Adjudicated,
    CasTriple,
    ItemFact,
    JournalTiming,
    Period,
    PostedLine,
    ReceivableBalance,
    Submitted,
    bucket,
)
from revbridge.analytics.denials import denials
from revbridge.analytics.operations import DayStatus, operations
from revbridge.analytics.receivables import ar_days
from revbridge.analytics.revenue import revenue

MON = date(2025, 3, 3)
D = Decimal


def line(role: str, debit: str = "0", credit: str = "0", *, day: date = MON, **dims: str) -> PostedLine:
    return PostedLine(
        day=day,
        legal_entity=dims.get("legal_entity", "LE1"),
        facility=dims.get("facility", "F1"),
        department=dims.get("department", ""),
        payer_class=dims.get("payer_class", ""),
        role=role,
        currency="USD",
        debit=D(debit),
        credit=D(credit),
    )


def claim(
    claim_id: str,
    *,
    day: date = MON,
    status: str = "1",
    charge: str = "1000",
    paid: str = "600",
    pr: str = "100",
    cas: tuple[tuple[str, str, str, str | None], ...] = (),
    denied: str = "0",
    payer: str = "AETNA",
) -> Adjudicated:
    return Adjudicated(
        day=day,
        facility="F1",
        payer=payer,
        payer_class="COMMERCIAL",
        claim_id=claim_id,
        status=status,
        currency="USD",
        charge=D(charge),
        paid=D(paid),
        patient_responsibility=D(pr),
        adjustments=tuple(CasTriple(group=g, reason=r, amount=D(a), role=role) for g, r, a, role in cas),
        booked=(("denial_writeoff", D(denied)),) if D(denied) else (),
    )


def test_periods_are_iso_days_weeks_and_months() -> None:
    assert bucket(date(2025, 3, 9), Period.DAY) == "2025-03-09"
    assert bucket(date(2025, 3, 9), Period.WEEK) == "2025-W10"  # a Sunday ends ISO week 10
    assert bucket(date(2025, 3, 10), Period.WEEK) == "2025-W11"
    assert bucket(date(2024, 12, 30), Period.WEEK) == "2025-W01"
    assert bucket(date(2025, 3, 31), Period.MONTH) == "2025-03"


def test_revenue_measures_and_payer_mix() -> None:
    lines = (
        line("gross_revenue", credit="1000.00", department="CC-1"),
        line("gross_revenue", credit="500.00", department="CC-2", payer_class="MEDICARE"),
        line("gross_revenue", debit="100.00", department="CC-1"),  # a charge credit
        line("contractual_allowance", debit="300.00", payer_class="MEDICARE"),
        line("denial_writeoff", debit="50.00"),
        line("charity_care", debit="20.00"),
        line("cash_clearing", debit="400.00"),
        line("ar_payer", debit="1400.00"),  # no measure
        line("gross_revenue", credit="70.00", day=MON + timedelta(days=10)),
    )
    month = revenue(lines, start=MON, end=MON + timedelta(days=10), by=Period.MONTH)
    (total,) = month.table("totals").records()
    assert total == {
        "period": "2025-03",
        "currency": "USD",
        "gross_charges": D("1470.00"),
        "contractual_adjustments": D("300.00"),
        "denials": D("50.00"),
        "other_adjustments": D("20.00"),
        "net_revenue": D("1100.00"),
        "cash": D("400.00"),
    }
    daily = revenue(lines, start=MON, end=MON + timedelta(days=10), by=Period.DAY)
    assert daily.table("totals").column("gross_charges") == [D("1400.00"), D("70.00")]
    departments = {r["department"]: r["gross_charges"] for r in month.table("by_department").records()}
    assert departments == {"CC-1": D("900.00"), "CC-2": D("500.00"), "(none)": D("70.00")}
    mix = {r["payer_class"]: r["share"] for r in month.table("payer_mix").records()}
    assert mix == {"(none)": D("0.6599"), "MEDICARE": D("0.3401")}


def test_denials_rates_reasons_reversals_and_turnaround() -> None:
    claims = (
        claim("A", cas=(("CO", "45", "300", "contractual_allowance"),)),
        claim("B", paid="0", pr="0", cas=(("CO", "50", "1000", "denial_writeoff"),), denied="1000"),
        claim(
            "C", status="4", paid="0", pr="0", cas=(("CO", "29", "1000", "denial_writeoff"),), denied="1000"
        ),
        claim(
            "C",
            status="22",
            charge="-1000",
            paid="0",
            pr="0",
            cas=(("CO", "29", "-1000", "denial_writeoff"),),
            denied="-1000",
        ),
        claim(
            "D", payer="UHC", cas=(("CO", "16", "250", "denial_writeoff"), ("PR", "1", "100", "ar_patient"))
        ),
    )
    sent = (
        Submitted(day=MON - timedelta(days=20), claim_id="A", payer="AETNA"),
        Submitted(day=MON - timedelta(days=12), claim_id="A", payer="AETNA"),  # a resubmission
        Submitted(day=MON - timedelta(days=5), claim_id="D", payer="UHC"),
        Submitted(day=MON - timedelta(days=9), claim_id="B", payer="AETNA"),  # denied: never paid
    )
    figures = denials(claims, sent, start=MON, end=MON, by=Period.DAY)
    (trend,) = figures.table("trend").records()
    assert trend["claims"] == 4  # the reversal is not a claim of its own
    assert trend["denied_claims"] == 2  # B booked a denial, C was denied outright (then reversed)
    assert trend["denied"] == D("1000.00")
    by_payer = {
        r["payer"]: (r["claims"], r["denied_claims"], r["denial_rate"])
        for r in figures.table("by_payer").records()
    }
    assert by_payer == {"AETNA": (3, 2, D("0.6667")), "UHC": (1, 0, D("0.0000"))}
    top = figures.table("top_reasons").records()
    assert [(r["rank"], r["reason"], r["claims"], r["denied"]) for r in top] == [
        (1, "CO-50", 1, D("1000.00")),
        (2, "CO-16", 1, D("250.00")),
        (3, "CO-29", 2, D("0.00")),
    ]
    groups = {(r["payer"], r["group"]): r["amount"] for r in figures.table("by_group").records()}
    assert groups == {("AETNA", "CO"): D("1300.00"), ("UHC", "CO"): D("250.00"), ("UHC", "PR"): D("100.00")}
    turnaround = {
        r["payer"]: (r["claims"], r["mean_days"], r["max_days"])
        for r in figures.table("turnaround").records()
    }
    assert turnaround == {"AETNA": (1, D("20.0"), 20), "UHC": (1, D("5.0"), 5)}


def test_days_in_ar_and_collections() -> None:
    balances = (
        ReceivableBalance(
            legal_entity="LE1", payer_class="COMMERCIAL", role="ar_payer", currency="USD", amount=D("9000")
        ),
        ReceivableBalance(
            legal_entity="LE1", payer_class="COMMERCIAL", role="ar_patient", currency="USD", amount=D("1000")
        ),
    )
    lines = (line("gross_revenue", credit="2000", payer_class="COMMERCIAL"),)
    claims = (
        claim("A", cas=(("CO", "45", "250", "contractual_allowance"), ("PR", "1", "100", "ar_patient"))),
    )
    figures = ar_days(balances, lines, claims, start=MON, end=MON + timedelta(days=3), by=Period.DAY)
    (row,) = figures.table("days_in_ar").records()
    assert (row["ar_balance"], row["days"], row["avg_daily_charges"], row["days_in_ar"]) == (
        D("10000.00"),
        4,
        D("500.00"),
        D("20.0"),
    )
    (col,) = figures.table("collections").records()
    assert (col["allowed"], col["expected"], col["collected"], col["collection_rate"]) == (
        D("750.00"),
        D("650.00"),
        D("600.00"),
        D("0.9231"),
    )


def test_operations_latency_sla_exceptions_and_ages() -> None:
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    timings = (
        *tuple(
            JournalTiming(
                lane="realtime",
                status="posted",
                posting_date=MON,
                first_received_at=at,
                posted_at=at + timedelta(seconds=s),
            )
            for s in (1, 2, 3, 90)
        ),
        JournalTiming(lane="batch", status="staged", posting_date=MON, first_received_at=at, posted_at=None),
    )
    items = (
        ItemFact(code="UNMAPPED_PAYER", severity="error", status="open", created_at=at, closed_at=None),
        ItemFact(
            code="UNMAPPED_PAYER",
            severity="error",
            status="open",
            created_at=at + timedelta(hours=2),
            closed_at=None,
        ),
        ItemFact(code="X", severity="warning", status="resolved", created_at=at, closed_at=at),
    )
    figures = operations(
        timings,
        {at.date(): 200},
        items,
        (DayStatus(day=MON, ties=False, breaks=2),),
        start=at.date(),
        end=at.date(),
        by=Period.DAY,
        now=at + timedelta(hours=4),
        sla={"realtime": 60.0, "batch": 360.0},
    )
    latency = {r["lane"]: r for r in figures.table("posting_latency").records()}
    assert (latency["realtime"]["p50"], latency["realtime"]["max"], latency["realtime"]["within_sla"]) == (
        D("2.0"),
        D("90.0"),
        D("0.7500"),
    )
    assert (latency["batch"]["journals"], latency["batch"]["posted"], latency["batch"]["p50"]) == (1, 0, "")
    (exc,) = figures.table("exceptions").records()
    assert (exc["messages"], exc["items_opened"], exc["errors_opened"], exc["exception_rate"]) == (
        200,
        3,
        2,
        D("0.0150"),
    )
    (aged,) = figures.table("open_items").records()
    assert (aged["open"], aged["oldest_hours"], aged["mean_hours"]) == (2, D("4.0"), D("3.0"))
    assert figures.table("reconciliation").records() == [
        {"day": "2025-03-03", "status": "breaks", "breaks": 2}
    ]


def test_json_and_csv_carry_every_table_with_decimal_strings() -> None:
    figures = revenue((line("gross_revenue", credit="12.50"),), start=MON, end=MON, by=Period.DAY)
    shown = figures.as_json()
    assert shown["tables"]["totals"][0]["gross_charges"] == "12.50"  # type: ignore[index]
    rows = list(csv.DictReader(io.StringIO(figures.as_csv())))
    assert {r["table"] for r in rows} == {
        "totals",
        "by_facility",
        "by_department",
        "by_payer_class",
        "payer_mix",
    }
    assert [r["gross_charges"] for r in rows if r["table"] == "totals"] == ["12.50"]
