"""The facts behind the analytics reports (issue 18), read in one snapshot per report.

Money comes from the subledger rows (``event_lines``) of posted journals only, summed by the
database per day and dimension, so a report's totals are the posted journals' totals on the same
roles. A revenue row carries no payer class of its own (it is the department's): it takes the
payer class of the receivable its event debited. Adjudicated and submitted claims come from the
events' bodies; only payer ids, claim ids (for matching, never shown), CAS codes and amounts leave
here. Nothing here classifies an adjustment or names a payer: ``pipeline/analytics.py`` does,
with the configuration in effect.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select

from revbridge.analytics import (
    Adjudicated,
    CasTriple,
    ItemFact,
    JournalTiming,
    PostedLine,
    ReceivableBalance,
    Submitted,
)
from revbridge.core.money import Money
from revbridge.store.database import Tx
from revbridge.store.facts.receivables import AR_ROLES
from revbridge.store.facts.scope import chunks
from revbridge.store.facts.subledger import signed
from revbridge.store.schema import event_lines, events, journals, messages, work_items

POSTED = "posted"


def _decimal(minor: Any, currency: str) -> Decimal:
    return Money.from_minor(int(minor or 0), currency).amount


def _posted_rows() -> Any:
    return event_lines.join(
        journals, and_(journals.c.id == event_lines.c.journal_id, journals.c.status == POSTED)
    )


def posted_lines(tx: Tx, *, start: date, end: date) -> tuple[PostedLine, ...]:
    """Posted subledger rows dated ``start``..``end`` summed per day, dimensions and role."""
    ar = (
        select(event_lines.c.event_key, func.max(event_lines.c.payer_class).label("payer_class"))
        .where(event_lines.c.role.in_(AR_ROLES), event_lines.c.payer_class != "")
        .group_by(event_lines.c.event_key)
        .subquery()
    )
    payer_class = func.coalesce(func.nullif(event_lines.c.payer_class, ""), ar.c.payer_class, "")
    group = (
        event_lines.c.posting_date,
        event_lines.c.legal_entity,
        event_lines.c.facility,
        event_lines.c.cost_center,
        payer_class,
        event_lines.c.role,
        event_lines.c.currency,
    )
    debit = func.sum(case((event_lines.c.side == "debit", event_lines.c.amount_minor), else_=0))
    query = (
        select(*group, func.sum(event_lines.c.amount_minor), debit)
        .select_from(_posted_rows().outerjoin(ar, ar.c.event_key == event_lines.c.event_key))
        .where(event_lines.c.posting_date >= start, event_lines.c.posting_date <= end)
        .group_by(*group)
    )
    found = []
    for day, le, facility, cost_center, pclass, role, currency, total, debits in tx.execute(query):
        d = _decimal(debits, currency)
        found.append(
            PostedLine(
                day=day,
                legal_entity=le,
                facility=facility,
                department=cost_center,
                payer_class=pclass or "",
                role=role,
                currency=currency,
                debit=d,
                credit=_decimal(total, currency) - d,
            )
        )
    return tuple(found)


def adjudications(tx: Tx, *, start: date, end: date) -> tuple[Adjudicated, ...]:
    """ClaimAdjudicated events of ``start``..``end`` with what their posted rows booked; payers
    as sent and every CAS triple unclassified (``role`` None)."""
    rows = tx.execute(
        select(events.c.key, events.c.occurred_on, events.c.body)
        .where(
            events.c.kind == "ClaimAdjudicated", events.c.occurred_on >= start, events.c.occurred_on <= end
        )
        .order_by(events.c.id)
    ).all()
    booked: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    where: dict[str, tuple[str, str]] = {}
    for chunk in chunks(r.key for r in rows):
        query = (
            select(
                event_lines.c.event_key,
                event_lines.c.role,
                event_lines.c.facility,
                event_lines.c.payer_class,
                event_lines.c.currency,
                func.sum(signed()),
            )
            .select_from(_posted_rows())
            .where(event_lines.c.event_key.in_(chunk))
            .group_by(
                *(event_lines.c[c] for c in ("event_key", "role", "facility", "payer_class", "currency"))
            )
        )
        for key, role, facility, pclass, currency, total in tx.execute(query):
            booked[key][role] += _decimal(total, currency)
            if pclass or key not in where:
                where[key] = (facility, pclass)
    return tuple(
        _adjudicated(r.occurred_on, json.loads(r.body), booked[r.key], where.get(r.key)) for r in rows
    )


def _adjudicated(
    day: date, body: dict[str, Any], booked: dict[str, Decimal], where: tuple[str, str] | None
) -> Adjudicated:
    currency = body["charge"]["currency"]
    return Adjudicated(
        day=day,
        facility=where[0] if where else "",
        payer=str(body.get("payer_id", "")),
        payer_class=where[1] if where else "",
        claim_id=str(body.get("claim_id", "")),
        status=str(body.get("status", "")),
        currency=currency,
        charge=Decimal(body["charge"]["amount"]),
        paid=Decimal(body["paid"]["amount"]),
        patient_responsibility=Decimal(body["patient_responsibility"]["amount"]),
        adjustments=tuple(
            CasTriple(group=a["group"], reason=a["reason"], amount=Decimal(a["amount"]["amount"]), role=None)
            for a in body.get("adjustments", ())
        ),
        booked=tuple(sorted(booked.items())),
    )


def submissions(tx: Tx, *, through: date) -> tuple[Submitted, ...]:
    """Every ClaimSubmitted event dated through ``through`` (a claim paid in the range may have
    been sent long before it)."""
    query = select(events.c.occurred_on, events.c.body).where(
        events.c.kind == "ClaimSubmitted", events.c.occurred_on <= through
    )
    found = []
    for day, body in tx.execute(query):
        b = json.loads(body)
        found.append(
            Submitted(day=day, claim_id=str(b.get("claim_id", "")), payer=str(b.get("payer_id", "")))
        )
    return tuple(found)


def receivables(tx: Tx, *, through: date) -> tuple[ReceivableBalance, ...]:
    """The receivables posted journals dated through ``through`` hold (the roll-forward's closing
    as the journals have it), per legal entity, payer class, role and currency."""
    group = (
        event_lines.c.legal_entity,
        event_lines.c.payer_class,
        event_lines.c.role,
        event_lines.c.currency,
    )
    query = (
        select(*group, func.sum(signed()))
        .select_from(_posted_rows())
        .where(event_lines.c.role.in_(AR_ROLES), event_lines.c.posting_date <= through)
        .group_by(*group)
    )
    return tuple(
        ReceivableBalance(
            legal_entity=le, payer_class=pc, role=role, currency=cur, amount=_decimal(total, cur)
        )
        for le, pc, role, cur, total in tx.execute(query)
    )


def _instant(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def journal_timings(tx: Tx, *, start: date, end: date) -> tuple[JournalTiming, ...]:
    """Every journal first received ``start``..``end`` (UTC days), posted or not."""
    query = select(
        journals.c.lane,
        journals.c.status,
        journals.c.posting_date,
        journals.c.first_received_at,
        journals.c.posted_at,
    ).where(
        journals.c.first_received_at >= _instant(start),
        journals.c.first_received_at < _instant(end + timedelta(days=1)),
    )
    return tuple(
        JournalTiming(lane=lane, status=status, posting_date=pd, first_received_at=first, posted_at=posted)
        for lane, status, pd, first, posted in tx.execute(query)
    )


def work_item_facts(tx: Tx, *, end: date) -> tuple[ItemFact, ...]:
    """Every work item opened through ``end``: code, severity and life, never its text."""
    query = select(
        work_items.c.code,
        work_items.c.severity,
        work_items.c.status,
        work_items.c.created_at,
        work_items.c.updated_at,
    ).where(work_items.c.created_at < _instant(end + timedelta(days=1)))
    return tuple(
        ItemFact(
            code=code,
            severity=sev,
            status=status,
            created_at=created,
            closed_at=None if status == "open" else upd,
        )
        for code, sev, status, created, upd in tx.execute(query)
    )


def messages_received(tx: Tx, *, start: date, end: date) -> dict[date, int]:
    """Messages received per UTC day ``start``..``end`` (duplicates included: they are traffic)."""
    query = select(messages.c.received_at).where(
        messages.c.received_at >= _instant(start), messages.c.received_at < _instant(end + timedelta(days=1))
    )
    counts: dict[date, int] = defaultdict(int)
    for (received,) in tx.execute(query):
        counts[received.astimezone(UTC).date()] += 1
    return dict(counts)


def spans(tx: Tx) -> tuple[tuple[date, date] | None, tuple[date, date] | None]:
    """The posting dates of posted journals, and the UTC days messages were received, first to
    last: the default range of the business reports and of ``operations``."""
    posting = tx.execute(
        select(func.min(journals.c.posting_date), func.max(journals.c.posting_date)).where(
            journals.c.status == POSTED
        )
    ).one()
    received = tx.execute(select(func.min(messages.c.received_at), func.max(messages.c.received_at))).one()
    business = (posting[0], posting[1]) if posting[0] is not None else None
    traffic = (received[0].date(), received[1].date()) if received[0] is not None else None
    return business, traffic
