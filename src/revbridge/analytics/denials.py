"""The ``denials`` report: denial rate and dollars by payer, CAS group and reason, the top ten
reasons, the trend, and remittance turnaround (837 sent to 835 paid).

A claim's denied dollars are what its posted lines booked on ``denial_writeoff`` (so the report
ties to the journals); a claim counts as denied when it booked any, or when the payer denied it
outright (CLP02 = 4). Reason figures are the CAS triples whose category posts to
``denial_writeoff``; group figures are every CAS amount per group (CO, PR, OA, PI, CR).
Reversals (CLP02 = 22) are not claims of their own; their negative amounts net what they undo.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from statistics import median

from revbridge.analytics.facts import Adjudicated, Submitted
from revbridge.analytics.figures import Figures, Period, Table, Value, bucket, money, ratio

DENIAL = "denial_writeoff"
REVERSAL = "22"
DENIED_OUTRIGHT = "4"
TOP = 10


def _denied(a: Adjudicated) -> bool:
    return a.status == DENIED_OUTRIGHT or a.booked_on(DENIAL) > 0


def _rates(name: str, title: str, claims: tuple[Adjudicated, ...], by: Period, per_payer: bool) -> Table:
    groups: dict[tuple[str, ...], list[Adjudicated]] = defaultdict(list)
    for a in claims:
        lead: tuple[str, ...] = (
            (bucket(a.day, by), a.payer, a.payer_class) if per_payer else (bucket(a.day, by),)
        )
        groups[(*lead, a.currency)].append(a)
    rows: list[tuple[Value, ...]] = []
    for dims, members in sorted(groups.items()):
        counted = [a for a in members if a.status != REVERSAL]
        denied_claims = sum(1 for a in counted if _denied(a))
        charges = sum((a.charge for a in members), Decimal(0))
        denied = sum((a.booked_on(DENIAL) for a in members), Decimal(0))
        share = ratio(denied_claims, len(counted))
        figures = (len(counted), denied_claims, share, money(charges), money(denied), ratio(denied, charges))
        rows.append((*dims, *figures))
    lead = ("period", "payer", "payer_class") if per_payer else ("period",)
    columns = (
        *lead,
        "currency",
        "claims",
        "denied_claims",
        "denial_rate",
        "charges",
        "denied",
        "dollar_rate",
    )
    return Table(name=name, title=title, columns=columns, rows=tuple(rows))


def _by_group(claims: tuple[Adjudicated, ...], by: Period) -> Table:
    amounts: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for a in claims:
        for t in a.adjustments:
            amounts[(bucket(a.day, by), a.payer, t.group, a.currency)] += t.amount
    return Table(
        name="by_group",
        title="Adjustments by payer and CAS group",
        columns=("period", "payer", "group", "currency", "amount"),
        rows=tuple((*k, money(v)) for k, v in sorted(amounts.items())),
    )


def _reasons(
    claims: tuple[Adjudicated, ...], by: Period | None
) -> dict[tuple[str, ...], tuple[int, Decimal]]:
    found: dict[tuple[str, ...], tuple[set[int], Decimal]] = {}
    for n, a in enumerate(claims):
        for t in a.adjustments:
            if t.role != DENIAL:
                continue
            key = (
                (bucket(a.day, by), f"{t.group}-{t.reason}", a.currency)
                if by
                else (f"{t.group}-{t.reason}", a.currency)
            )
            seen, amount = found.get(key, (set(), Decimal(0)))
            seen.add(n)
            found[key] = (seen, amount + t.amount)
    return {k: (len(seen), amount) for k, (seen, amount) in found.items()}


def _by_reason(claims: tuple[Adjudicated, ...], by: Period) -> Table:
    return Table(
        name="by_reason",
        title="Denials by reason (CAS group and CARC)",
        columns=("period", "reason", "currency", "claims", "denied"),
        rows=tuple((*k, n, money(v)) for k, (n, v) in sorted(_reasons(claims, by).items())),
    )


def _top_reasons(claims: tuple[Adjudicated, ...]) -> Table:
    ranked = sorted(_reasons(claims, None).items(), key=lambda item: (-item[1][1], item[0]))[:TOP]
    return Table(
        name="top_reasons",
        title=f"Top {TOP} denial reasons over the range",
        columns=("rank", "reason", "currency", "claims", "denied"),
        rows=tuple((n, *k, count, money(v)) for n, (k, (count, v)) in enumerate(ranked, start=1)),
    )


def _turnaround(claims: tuple[Adjudicated, ...], sent: tuple[Submitted, ...]) -> Table:
    """Days from the first submission of a claim to its first paid adjudication, per payer."""
    first_sent: dict[str, date] = {}
    for s in sent:
        if s.claim_id and (s.claim_id not in first_sent or s.day < first_sent[s.claim_id]):
            first_sent[s.claim_id] = s.day
    first_paid: dict[str, tuple[date, str]] = {}
    for a in claims:
        if a.status == REVERSAL or a.claim_id not in first_sent or a.paid <= 0:
            continue
        if a.claim_id not in first_paid or a.day < first_paid[a.claim_id][0]:
            first_paid[a.claim_id] = (a.day, a.payer)
    days: dict[str, list[int]] = defaultdict(list)
    for claim, (paid_on, payer) in first_paid.items():
        days[payer].append((paid_on - first_sent[claim]).days)
    rows = tuple(
        (payer, len(d), Decimal(sum(d) / len(d)).quantize(Decimal("0.1")), Decimal(median(d)), max(d))
        for payer, d in sorted(days.items())
    )
    return Table(
        name="turnaround",
        title="Remittance turnaround: claim sent (837) to paid (835), days",
        columns=("payer", "claims", "mean_days", "median_days", "max_days"),
        rows=rows,
    )


def denials(
    claims: tuple[Adjudicated, ...], sent: tuple[Submitted, ...], *, start: date, end: date, by: Period
) -> Figures:
    return Figures(
        report="denials",
        start=start,
        end=end,
        by=by,
        tables=(
            _rates("trend", "Denial trend", claims, by, per_payer=False),
            _rates("by_payer", "Denial rate and dollars by payer", claims, by, per_payer=True),
            _by_group(claims, by),
            _by_reason(claims, by),
            _top_reasons(claims),
            _turnaround(claims, sent),
        ),
        notes=(
            "Denied dollars are the claims' posted denial_writeoff lines; reasons are CAS triples "
            "whose category posts to denial_writeoff.",
        ),
    )
