"""The overview's figures, read from the store in one read-only connection.

Counts come straight from the tables the pipeline keeps (messages, journals, work items); money
comes from the subledger (``event_lines``: every line staged or posted, in integer minor units),
so the cash and AR charts show what revbridge has booked whether or not the ERP has confirmed it
yet. Latency is measured per journal from the first receipt behind it to its posting, from the
store rather than this process's metrics, so every node shows the same histogram.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, case, func, select

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole
from revbridge.store import queue
from revbridge.store.database import Database
from revbridge.store.schema import event_lines, journals, messages, work_items

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


def _messages_today(conn: Connection, start: datetime) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = defaultdict(dict)
    query = (
        select(messages.c.format, messages.c.status, func.count())
        .where(messages.c.received_at >= start)
        .group_by(messages.c.format, messages.c.status)
    )
    for fmt, status, n in conn.execute(query):
        found[fmt][status] = int(n)
    return dict(sorted(found.items()))


def _journals(conn: Connection) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = defaultdict(dict)
    query = select(journals.c.lane, journals.c.status, func.count()).group_by(
        journals.c.lane, journals.c.status
    )
    for lane, status, n in conn.execute(query):
        found[lane][status] = int(n)
    return dict(sorted(found.items()))


def _items(conn: Connection, now: datetime) -> dict[str, dict[str, int]]:
    limits = [(label, now - span) for label, span in AGES]
    bucket = case(
        *[(work_items.c.created_at >= after, label) for label, after in limits],
        else_=OLDEST,
    )
    query = (
        select(work_items.c.code, bucket, func.count())
        .where(work_items.c.status == "open")
        .group_by(work_items.c.code, bucket)
    )
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for code, label, n in conn.execute(query):
        found[code][label] = int(n)
    return dict(sorted(found.items()))


def _currency(conn: Connection) -> str:
    row = conn.execute(
        select(event_lines.c.currency).group_by(event_lines.c.currency).order_by(func.count().desc()).limit(1)
    ).first()
    return str(row[0]) if row is not None else "USD"


def _flows(conn: Connection, roles: tuple[str, ...], currency: str) -> tuple[Decimal, tuple[Day, ...]]:
    """Per posting date with activity (the last DAYS of them): debits, credits, running balance;
    and the balance before the first of those days."""
    side_sum = select(
        event_lines.c.posting_date,
        func.sum(case((event_lines.c.side == "debit", event_lines.c.amount_minor), else_=0)),
        func.sum(case((event_lines.c.side == "credit", event_lines.c.amount_minor), else_=0)),
    ).where(event_lines.c.role.in_(roles), event_lines.c.currency == currency)
    rows = list(
        reversed(
            conn.execute(
                side_sum.group_by(event_lines.c.posting_date)
                .order_by(event_lines.c.posting_date.desc())
                .limit(DAYS)
            ).all()
        )
    )
    if not rows:
        return Decimal(0), ()
    first = rows[0][0]
    before = conn.execute(
        select(
            func.coalesce(
                func.sum(
                    case(
                        (event_lines.c.side == "debit", event_lines.c.amount_minor),
                        else_=-event_lines.c.amount_minor,
                    )
                ),
                0,
            )
        ).where(
            event_lines.c.role.in_(roles),
            event_lines.c.currency == currency,
            event_lines.c.posting_date < first,
        )
    ).scalar_one()

    def money(minor: object) -> Decimal:
        return Money.from_minor(int(minor or 0), currency).amount  # type: ignore[call-overload]

    opening = money(before)
    balance = opening
    days = []
    for day, debit, credit in rows:
        balance += money(debit) - money(credit)
        days.append(Day(day=day, up=money(debit), down=money(credit), balance=balance))
    return opening, tuple(days)


def _work(conn: Connection, today: date) -> tuple[ItemsDay, ...]:
    start = today - timedelta(days=DAYS - 1)
    opened: dict[date, int] = defaultdict(int)
    closed: dict[date, int] = defaultdict(int)
    backlog = 0
    for created, updated, status in conn.execute(
        select(work_items.c.created_at, work_items.c.updated_at, work_items.c.status)
    ):
        created_on = created.date()
        closed_on = updated.date() if status != "open" else None
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


def _latency(conn: Connection, since: datetime) -> Latency:
    rows = conn.execute(
        select(journals.c.first_received_at, journals.c.posted_at).where(
            journals.c.posted_at.is_not(None), journals.c.posted_at >= since
        )
    ).all()
    seconds: list[float] = sorted(max((posted - received).total_seconds(), 0.0) for received, posted in rows)
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
    with db.reading() as conn:
        currency = _currency(conn)
        _cash_opening, cash = _flows(conn, (AccountRole.CASH_CLEARING.value,), currency)
        opening_ar, receivables = _flows(conn, AR_ROLES, currency)
        return Overview(
            today=today,
            messages=_messages_today(conn, start),
            message_states=(*queue.TERMINAL, *queue.NON_TERMINAL),
            journals=_journals(conn),
            items=_items(conn, now),
            ages=(*[label for label, _span in AGES], OLDEST),
            currency=currency,
            cash=cash,
            receivables=receivables,
            opening_ar=opening_ar,
            work=_work(conn, today),
            latency=_latency(conn, now - timedelta(days=DAYS)),
        )
