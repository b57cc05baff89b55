"""The ``operations`` report: posting latency against the SLA, exception rate, open work items'
age by code, and reconciliation status per business day, as time series.

Latency is per journal, from the first receipt behind it to its posting (the figure the
``RevbridgeCashPostingSlow`` alert watches), bucketed by the UTC day of that receipt. The
exception rate is work items opened per message received in a period. Ages are as of ``now``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from revbridge.analytics.facts import ItemFact, JournalTiming
from revbridge.analytics.figures import Figures, Period, Table, Value, bucket, ratio

TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True, kw_only=True)
class DayStatus:
    """Reconciliation of one business day, as the pipeline's report found it."""

    day: date
    ties: bool
    breaks: int


def _seconds(value: float) -> Decimal:
    return Decimal(str(value)).quantize(TENTH, rounding=ROUND_HALF_EVEN)


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    rank = max(1, math.ceil(q * len(values)))
    return values[rank - 1]


def _latency(timings: tuple[JournalTiming, ...], by: Period, sla: Mapping[str, float]) -> Table:
    groups: dict[tuple[str, str], list[JournalTiming]] = defaultdict(list)
    for t in timings:
        groups[(bucket(t.first_received_at.date(), by), t.lane)].append(t)
    rows: list[tuple[Value, ...]] = []
    for (period, lane), members in sorted(groups.items()):
        waits = sorted((t.posted_at - t.first_received_at).total_seconds() for t in members if t.posted_at)
        limit = sla.get(lane)
        within = sum(1 for w in waits if limit is not None and w <= limit)
        figures: tuple[Value, ...] = ("", "", "")
        if waits:
            figures = (
                _seconds(_percentile(waits, 0.5)),
                _seconds(_percentile(waits, 0.95)),
                _seconds(waits[-1]),
            )
        shown_sla: Value = _seconds(limit) if limit is not None else ""
        share: Value = ratio(within, len(waits)) if limit is not None else ""
        rows.append((period, lane, len(members), len(waits), *figures, shown_sla, share))
    return Table(
        name="posting_latency",
        title="Posting latency: first receipt to posted, seconds",
        columns=("period", "lane", "journals", "posted", "p50", "p95", "max", "sla", "within_sla"),
        rows=tuple(rows),
    )


def _exceptions(
    received: Mapping[date, int], items: tuple[ItemFact, ...], start: date, end: date, by: Period
) -> Table:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for day, n in received.items():
        counts[bucket(day, by)][0] += n
    for item in items:
        opened = item.created_at.date()
        if start <= opened <= end:
            counts[bucket(opened, by)][1] += 1
            counts[bucket(opened, by)][2] += item.severity == "error"
    rows = tuple((p, m, n, e, ratio(n, m)) for p, (m, n, e) in sorted(counts.items()))
    return Table(
        name="exceptions",
        title="Exception rate: work items opened per message received",
        columns=("period", "messages", "items_opened", "errors_opened", "exception_rate"),
        rows=rows,
    )


def _open_items(items: tuple[ItemFact, ...], now: datetime) -> Table:
    ages: dict[tuple[str, str], list[float]] = defaultdict(list)
    for item in items:
        if item.status == "open":
            ages[(item.code, item.severity)].append((now - item.created_at).total_seconds() / 3600)
    rows = tuple(
        (code, severity, len(a), _seconds(max(a)), _seconds(sum(a) / len(a)))
        for (code, severity), a in sorted(ages.items())
    )
    return Table(
        name="open_items",
        title="Open work items by code: age in hours",
        columns=("code", "severity", "open", "oldest_hours", "mean_hours"),
        rows=rows,
    )


def _reconciliation(days: tuple[DayStatus, ...]) -> Table:
    return Table(
        name="reconciliation",
        title="Reconciliation status per business day",
        columns=("day", "status", "breaks"),
        rows=tuple(
            (d.day.isoformat(), "ties" if d.ties else "breaks", d.breaks)
            for d in sorted(days, key=lambda d: d.day)
        ),
    )


def operations(
    timings: tuple[JournalTiming, ...],
    received: Mapping[date, int],
    items: tuple[ItemFact, ...],
    days: tuple[DayStatus, ...],
    *,
    start: date,
    end: date,
    by: Period,
    now: datetime,
    sla: Mapping[str, float],
) -> Figures:
    return Figures(
        report="operations",
        start=start,
        end=end,
        by=by,
        tables=(
            _latency(timings, by, sla),
            _exceptions(received, items, start, end, by),
            _open_items(items, now),
            _reconciliation(days),
        ),
        notes=(
            "Latency and exceptions are bucketed by the UTC day of receipt; reconciliation by business day.",
        ),
    )
