"""The counts and flows behind the workbench's overview and the demo's closing summary.

Counts come straight from the tables the pipeline keeps (messages, journals, work items); money
comes from the subledger (``event_lines``: every line staged or posted) in integer minor units, so
a chart shows what revbridge has booked whether or not the ERP has confirmed it yet. Latency is
read per journal from the first receipt behind it to its posting, from the store rather than a
process's metrics, so every node shows the same figures. Each function takes the ``Tx`` of one
read, so that a page's figures come from one snapshot; turning minor units into money, seconds
into percentiles and ages into labels is the page's business.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, case, func, select

from revbridge.store.database import Tx
from revbridge.store.schema import event_lines, journals, messages, work_items


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    group: str  # a message format or channel, a journal lane, a problem code
    state: str  # a message or journal state, or an age bucket's label
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DayFlow:
    day: date
    debit_minor: int
    credit_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Flows:
    opening_minor: int  # the balance (debit positive) before the first of ``days``
    days: tuple[DayFlow, ...]  # posting dates with activity, oldest first


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemSpan:
    created_at: datetime
    closed_at: datetime | None  # None while the item is open


def _tallies(rows: Iterable[Row[str, str, int]]) -> tuple[Tally, ...]:
    return tuple(Tally(group=group, state=state, count=int(n)) for group, state, n in rows)


def messages_by_format(tx: Tx, *, since: datetime) -> tuple[Tally, ...]:
    """Messages received at or after ``since``, by format and state."""
    query = (
        select(messages.c.format, messages.c.status, func.count())
        .where(messages.c.received_at >= since)
        .group_by(messages.c.format, messages.c.status)
    )
    return _tallies(tx.execute(query))


def messages_by_channel(tx: Tx) -> tuple[Tally, ...]:
    """Every message, by the channel it came in on (``mllp:...``, ``file:...``) and state."""
    query = select(messages.c.channel, messages.c.status, func.count()).group_by(
        messages.c.channel, messages.c.status
    )
    return _tallies(tx.execute(query))


def journals_by_lane(tx: Tx) -> tuple[Tally, ...]:
    query = select(journals.c.lane, journals.c.status, func.count()).group_by(
        journals.c.lane, journals.c.status
    )
    return _tallies(tx.execute(query))


def open_items_by_age(tx: Tx, *, ages: Sequence[tuple[str, datetime]], oldest: str) -> tuple[Tally, ...]:
    """Open work items by code and age: ``ages`` are (label, created at or after), youngest
    first; an item older than all of them counts under ``oldest``."""
    bucket = case(*[(work_items.c.created_at >= after, label) for label, after in ages], else_=oldest)
    query = (
        select(work_items.c.code, bucket, func.count())
        .where(work_items.c.status == "open")
        .group_by(work_items.c.code, bucket)
    )
    return _tallies(tx.execute(query))


def main_currency(tx: Tx) -> str | None:
    """The currency most subledger lines are in; None while there are none."""
    query = (
        select(event_lines.c.currency).group_by(event_lines.c.currency).order_by(func.count().desc()).limit(1)
    )
    return tx.execute(query).scalar()


def _summed(side: str) -> ColumnElement[int]:
    return func.sum(case((event_lines.c.side == side, event_lines.c.amount_minor), else_=0))


def daily_flows(tx: Tx, *, roles: Sequence[str], currency: str, days: int) -> Flows:
    """Debits and credits per posting date on the lines of ``roles`` in ``currency``, for the
    last ``days`` dates that have any, and the balance before the first of them."""
    of_roles = (event_lines.c.role.in_(roles), event_lines.c.currency == currency)
    rows = tx.execute(
        select(event_lines.c.posting_date, _summed("debit"), _summed("credit"))
        .where(*of_roles)
        .group_by(event_lines.c.posting_date)
        .order_by(event_lines.c.posting_date.desc())
        .limit(days)
    ).all()
    if not rows:
        return Flows(opening_minor=0, days=())
    flows = tuple(
        DayFlow(day=day, debit_minor=int(debit or 0), credit_minor=int(credit or 0))
        for day, debit, credit in reversed(rows)
    )
    signed = case(
        (event_lines.c.side == "debit", event_lines.c.amount_minor), else_=-event_lines.c.amount_minor
    )
    before = tx.execute(
        select(func.coalesce(func.sum(signed), 0)).where(*of_roles, event_lines.c.posting_date < flows[0].day)
    ).scalar_one()
    return Flows(opening_minor=int(before or 0), days=flows)


def item_spans(tx: Tx) -> tuple[ItemSpan, ...]:
    """When every work item was opened and, unless it is open, when it was last changed."""
    rows = tx.execute(select(work_items.c.created_at, work_items.c.updated_at, work_items.c.status))
    return tuple(
        ItemSpan(created_at=created, closed_at=updated if status != "open" else None)
        for created, updated, status in rows
    )


def _posted(*columns: ColumnElement[Any], since: datetime | None, lane: str | None) -> Select[Any]:
    """``columns`` of the posted journals, posted at or after ``since`` and in ``lane`` when given."""
    query = select(*columns).where(journals.c.posted_at.is_not(None))
    if since is not None:
        query = query.where(journals.c.posted_at >= since)
    if lane is not None:
        query = query.where(journals.c.lane == lane)
    return query


def posting_latencies(tx: Tx, *, since: datetime | None = None, lane: str | None = None) -> tuple[float, ...]:
    """Seconds from the first receipt behind each posted journal to its posting, for journals
    posted at or after ``since`` (all when None) in ``lane`` (any when None), in no order."""
    query = _posted(journals.c.first_received_at, journals.c.posted_at, since=since, lane=lane)
    return tuple((posted - received).total_seconds() for received, posted in tx.execute(query))


def posting_latencies_by_source(
    tx: Tx, *, since: datetime | None = None, lane: str | None = None
) -> dict[str, tuple[float, ...]]:
    """``posting_latencies`` by the source each journal came from (its reference up to the first
    colon: ``portal``, ``x12``, ``fhir``, ...), so a payer's ERA files and patients' payments are
    told apart."""
    columns = (journals.c.reference, journals.c.first_received_at, journals.c.posted_at)
    found: dict[str, list[float]] = {}
    for reference, received, posted in tx.execute(_posted(*columns, since=since, lane=lane)):
        found.setdefault(str(reference).partition(":")[0], []).append((posted - received).total_seconds())
    return {source: tuple(values) for source, values in found.items()}
