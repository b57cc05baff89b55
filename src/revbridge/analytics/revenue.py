"""The ``revenue`` report: gross charges, deductions, net revenue and cash by facility,
department and payer class per period, and the payer mix.

Every figure is a sum of posted journal lines on named roles (debit positive before signs):
gross charges = credits less debits on ``gross_revenue``; contractual adjustments =
``contractual_allowance``; denials = ``denial_writeoff``; other adjustments =
``administrative_writeoff`` + ``charity_care`` + ``bad_debt``; net revenue = gross charges less
all three; cash = ``cash_clearing``. The payer mix is each payer class's share of gross charges.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

from revbridge.analytics.facts import PostedLine
from revbridge.analytics.figures import Figures, Period, Table, Value, bucket, money, ratio

OTHER_ROLES = frozenset({"administrative_writeoff", "charity_care", "bad_debt"})
MEASURES = ("gross_charges", "contractual_adjustments", "denials", "other_adjustments", "net_revenue", "cash")
NONE = "(none)"


def measures(lines: Iterable[PostedLine]) -> dict[str, Decimal]:
    """The report's measures over some posted lines."""
    gross = contractual = denials = other = cash = Decimal(0)
    for ln in lines:
        match ln.role:
            case "gross_revenue":
                gross -= ln.net
            case "contractual_allowance":
                contractual += ln.net
            case "denial_writeoff":
                denials += ln.net
            case "cash_clearing":
                cash += ln.net
            case role if role in OTHER_ROLES:
                other += ln.net
    net = gross - contractual - denials - other
    return dict(zip(MEASURES, (gross, contractual, denials, other, net, cash), strict=True))


def _grouped(
    name: str,
    title: str,
    dimension: str,
    lines: tuple[PostedLine, ...],
    by: Period,
    key: Callable[[PostedLine], str],
) -> Table:
    groups: dict[tuple[str, str, str], list[PostedLine]] = defaultdict(list)
    for ln in lines:
        groups[(bucket(ln.day, by), key(ln) or NONE, ln.currency)].append(ln)
    rows: list[tuple[Value, ...]] = []
    for (period, dim, currency), members in sorted(groups.items()):
        figures = measures(members)
        if any(figures.values()):
            rows.append((period, dim, currency, *(money(figures[m]) for m in MEASURES)))
    columns = ("period", dimension, "currency", *MEASURES) if dimension else ("period", "currency", *MEASURES)
    if not dimension:
        rows = [(r[0], *r[2:]) for r in rows]
    return Table(name=name, title=title, columns=columns, rows=tuple(rows))


def _payer_mix(lines: tuple[PostedLine, ...], by: Period) -> Table:
    charges: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for ln in lines:
        if ln.role == "gross_revenue":
            charges[(bucket(ln.day, by), ln.currency, ln.payer_class or NONE)] -= ln.net
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (period, currency, _), amount in charges.items():
        totals[(period, currency)] += amount
    rows = tuple(
        (period, pclass, currency, money(amount), ratio(amount, totals[(period, currency)]))
        for (period, currency, pclass), amount in sorted(charges.items())
    )
    return Table(
        name="payer_mix",
        title="Payer mix: share of gross charges",
        columns=("period", "payer_class", "currency", "gross_charges", "share"),
        rows=rows,
    )


def revenue(lines: tuple[PostedLine, ...], *, start: date, end: date, by: Period) -> Figures:
    return Figures(
        report="revenue",
        start=start,
        end=end,
        by=by,
        tables=(
            _grouped("totals", "Revenue and cash", "", lines, by, lambda ln: ""),
            _grouped("by_facility", "By facility", "facility", lines, by, lambda ln: ln.facility),
            _grouped(
                "by_department",
                "By department (cost centre)",
                "department",
                lines,
                by,
                lambda ln: ln.department,
            ),
            _grouped("by_payer_class", "By payer class", "payer_class", lines, by, lambda ln: ln.payer_class),
            _payer_mix(lines, by),
        ),
        notes=(
            "Sums of posted journal lines by role; revenue lines take the payer class of the receivable "
            "their charge debited.",
        ),
    )
