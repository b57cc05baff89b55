"""The overview's figures: what the store's dashboard view reads, shaped for the page.

Counts come straight from the tables the pipeline keeps; money comes from the subledger, so the
cash and AR charts show what revbridge has booked whether or not the ERP has confirmed it yet;
latency is measured per journal from the first receipt behind it to its posting. All of it is read
in one read-only transaction (``revbridge.store.views.dashboard``); this module turns minor units
into money, latencies into buckets and percentiles, and work items into a daily backlog. It builds
no query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole
from revbridge.store import queue
from revbridge.store.database import Database, Tx
from revbridge.store.views import dashboard as figures
from revbridge.store.views.dashboard import ItemSpan, Tally

AR_ROLES = (AccountRole.AR_PAYER.value, AccountRole.AR_PATIENT.value, AccountRole.AR_UNBILLED.value)
AGES = (("< 1 day", timedelta(days=1)), ("1-3 days", timedelta(days=3)), ("3-7 days", timedelta(days=7)))
OLDEST = "> 7 days"
# Seconds, as the receipt-to-posted histogram in observability/metrics.py buckets them.
LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
DAYS = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class Day:
    day: date
    up: Decimal  # debits (AR) or receipts (cash)
    down: Decimal  # credits, as a positive figure
    balance: Decimal  # running balance at the end of the day


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemsDay:
    day: date
    opened: int
    closed: int
    backlog: int  # open at the end of the day


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency:
    count: int
    p50: float | None
    p95: float | None
    buckets: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    today: date
    messages: dict[str, dict[str, int]]  # format -> state -> count, received today
    message_states: tuple[str, ...]
    journals: dict[str, dict[str, int]]  # lane -> state -> count
    items: dict[str, dict[str, int]]  # code -> age bucket -> open count
    ages: tuple[str, ...]
    currency: str
    cash: tuple[Day, ...]
    receivables: tuple[Day, ...]
    opening_ar: Decimal
    work: tuple[ItemsDay, ...]
    latency: Latency


def _grouped(tallies: Sequence[Tally]) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for tally in tallies:
        found[tally.group][tally.state] = tally.count
    return dict(sorted(found.items()))


def _flows(tx: Tx, roles: tuple[str, ...], currency: str) -> tuple[Decimal, tuple[Day, ...]]:
    """Per posting date with activity (the last DAYS of them): debits, credits, running balance;
    and the balance before the first of those days."""
    flows = figures.daily_flows(tx, roles=roles, currency=currency, days=DAYS)

    def money(minor: int) -> Decimal:
        return Money.from_minor(minor, currency).amount

    opening = money(flows.opening_minor)
    balance = opening
    days = []
    for flow in flows.days:
        up, down = money(flow.debit_minor), money(flow.credit_minor)
        balance += up - down
        days.append(Day(day=flow.day, up=up, down=down, balance=balance))
    return opening, tuple(days)


def _work(spans: Sequence[ItemSpan], today: date) -> tuple[ItemsDay, ...]:
    start = today - timedelta(days=DAYS - 1)
    opened: dict[date, int] = defaultdict(int)
    closed: dict[date, int] = defaultdict(int)
    backlog = 0
    for span in spans:
        created_on = span.created_at.date()
        closed_on = span.closed_at.date() if span.closed_at is not None else None
        if created_on < start and (closed_on is None or closed_on >= start):
            backlog += 1
        if created_on >= start:
            opened[created_on] += 1
        if closed_on is not None and closed_on >= start:
            closed[closed_on] += 1
    days = []
    for n in range(DAYS):
        day = start + timedelta(days=n)
        backlog += opened[day] - closed[day]
        days.append(ItemsDay(day=day, opened=opened[day], closed=closed[day], backlog=backlog))
    return tuple(days)


def _latency(latencies: Sequence[float]) -> Latency:
    seconds: list[float] = sorted(max(value, 0.0) for value in latencies)
    counts = [0] * (len(LATENCY_BUCKETS) + 1)
    for value in seconds:
        index = next((i for i, limit in enumerate(LATENCY_BUCKETS) if value <= limit), len(LATENCY_BUCKETS))
        counts[index] += 1
    labels = [f"≤ {_duration(limit)}" for limit in LATENCY_BUCKETS] + [f"> {_duration(LATENCY_BUCKETS[-1])}"]

    def percentile(p: float) -> float | None:
        if not seconds:
            return None
        return seconds[min(len(seconds) - 1, int(p * len(seconds)))]

    return Latency(
        count=len(seconds),
        p50=percentile(0.5),
        p95=percentile(0.95),
        buckets=tuple(zip(labels, counts, strict=True)),
    )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def overview(db: Database, now: datetime) -> Overview:
    today = now.date()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    ages = [(label, now - span) for label, span in AGES]
    with db.reading() as tx:
        currency = figures.main_currency(tx) or "USD"
        _cash_opening, cash = _flows(tx, (AccountRole.CASH_CLEARING.value,), currency)
        opening_ar, receivables = _flows(tx, AR_ROLES, currency)
        return Overview(
            today=today,
            messages=_grouped(figures.messages_by_format(tx, since=start)),
            message_states=(*queue.TERMINAL, *queue.NON_TERMINAL),
            journals=_grouped(figures.journals_by_lane(tx)),
            items=_grouped(figures.open_items_by_age(tx, ages=ages, oldest=OLDEST)),
            ages=(*[label for label, _span in AGES], OLDEST),
            currency=currency,
            cash=cash,
            receivables=receivables,
            opening_ar=opening_ar,
            work=_work(figures.item_spans(tx), today),
            latency=_latency(figures.posting_latencies(tx, since=now - timedelta(days=DAYS))),
        )
