"""The ``ar-days`` report: days in accounts receivable by payer class, and cash collected
against what the payers were expected to pay.

Days in A/R = the receivables the posted journals hold at the end of the range (``ar_payer``,
``ar_patient``, ``ar_unbilled``: the roll-forward's closing as the journals have it) divided by
the average daily gross charges of the range, per legal entity and payer class. Expected payment
per adjudicated claim = allowed (charge less the CAS amounts whose category is
``contractual_allowance``) less patient responsibility (CLP05); collected = paid (CLP04).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from revbridge.analytics.facts import Adjudicated, PostedLine, ReceivableBalance
from revbridge.analytics.figures import Figures, Period, Table, Value, bucket, days_between, money, ratio

CONTRACTUAL = "contractual_allowance"
REVERSAL = "22"
NONE = "(none)"


def _days_in_ar(
    balances: tuple[ReceivableBalance, ...], lines: tuple[PostedLine, ...], *, start: date, end: date
) -> Table:
    ar: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for b in balances:
        ar[(b.legal_entity, b.payer_class or NONE, b.currency)] += b.amount
    charges: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for ln in lines:
        if ln.role == "gross_revenue":
            charges[(ln.legal_entity, ln.payer_class or NONE, ln.currency)] -= ln.net
    days = days_between(start, end)
    rows = []
    for key in sorted(set(ar) | set(charges)):
        daily = charges[key] / days
        in_ar = (ar[key] / daily).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN) if daily else ""
        rows.append((*key, money(ar[key]), money(charges[key]), days, money(daily), in_ar))
    return Table(
        name="days_in_ar",
        title=f"Days in A/R at {end.isoformat()} by payer class",
        columns=(
            "legal_entity",
            "payer_class",
            "currency",
            "ar_balance",
            "gross_charges",
            "days",
            "avg_daily_charges",
            "days_in_ar",
        ),
        rows=tuple(rows),
    )


def _collections(claims: tuple[Adjudicated, ...], by: Period) -> Table:
    sums: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for a in claims:
        key = (bucket(a.day, by), a.payer_class or NONE, a.currency)
        contractual = sum((t.amount for t in a.adjustments if t.role == CONTRACTUAL), Decimal(0))
        allowed = a.charge - contractual
        figures = (allowed, a.patient_responsibility, allowed - a.patient_responsibility, a.paid)
        sums[key] = [s + f for s, f in zip(sums[key], figures, strict=True)]
        counts[key] += 0 if a.status == REVERSAL else 1
    rows: tuple[tuple[Value, ...], ...] = tuple(
        (*key, counts[key], *(money(v) for v in values), ratio(values[3], values[2]))
        for key, values in sorted(sums.items())
    )
    return Table(
        name="collections",
        title="Cash collected against expected (allowed less patient responsibility)",
        columns=(
            "period",
            "payer_class",
            "currency",
            "claims",
            "allowed",
            "patient_responsibility",
            "expected",
            "collected",
            "collection_rate",
        ),
        rows=rows,
    )


def ar_days(
    balances: tuple[ReceivableBalance, ...],
    lines: tuple[PostedLine, ...],
    claims: tuple[Adjudicated, ...],
    *,
    start: date,
    end: date,
    by: Period,
) -> Figures:
    return Figures(
        report="ar-days",
        start=start,
        end=end,
        by=by,
        tables=(_days_in_ar(balances, lines, start=start, end=end), _collections(claims, by)),
        notes=(
            "A/R is what posted journals dated through the end of the range hold on the receivable roles.",
        ),
    )
