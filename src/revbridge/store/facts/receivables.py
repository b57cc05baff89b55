"""Receivables for the AR roll-forward: balances, movements, and the events behind a balance.

The roll-forward (reconcile/rollforward.py) needs the subledger's receivables before the range
(opening) and through its end (closing, split by whether the rows are in journals yet), the
receivables the journals hold, and every row of the events whose receivables moved in the range;
drill-down lists each event's net behind one balance. Receivable roles are ar_payer, ar_patient
and ar_unbilled. The database sums the balances; these readers classify nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, select

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole
from revbridge.reconcile import ArBalance, LineFact
from revbridge.store.database import Database, Tx
from revbridge.store.facts.subledger import line_fact, rows, signed
from revbridge.store.schema import event_lines, journal_lines, journals

AR_ROLES = (AccountRole.AR_PAYER.value, AccountRole.AR_PATIENT.value, AccountRole.AR_UNBILLED.value)


def _balance(
    legal_entity: str, payer_class: str, role: str, currency: str, total: Any, *, journaled: bool = True
) -> ArBalance:
    return ArBalance(
        legal_entity=legal_entity,
        payer_class=payer_class,
        role=AccountRole(role),
        amount=Money.from_minor(int(total), currency),
        journaled=journaled,
    )


def balances(tx: Tx, *, before: date | None = None, through: date | None = None) -> tuple[ArBalance, ...]:
    """The subledger's receivables dated before ``before`` or through ``through``, per legal
    entity, payer class, role and currency, apart for rows in journals and rows not yet."""
    unjournaled = event_lines.c.journal_id.is_(None).label("unjournaled")
    group = (
        event_lines.c.legal_entity,
        event_lines.c.payer_class,
        event_lines.c.role,
        event_lines.c.currency,
        unjournaled,
    )
    query = select(*group, func.sum(signed())).where(event_lines.c.role.in_(AR_ROLES)).group_by(*group)
    if before is not None:
        query = query.where(event_lines.c.posting_date < before)
    if through is not None:
        query = query.where(event_lines.c.posting_date <= through)
    return tuple(
        _balance(le, payer_class, role, currency, total, journaled=not bool(is_unjournaled))
        for le, payer_class, role, currency, is_unjournaled, total in tx.execute(query)
    )


def journal_balances(tx: Tx, *, through: date) -> tuple[ArBalance, ...]:
    """The receivables the journals dated through ``through`` hold, whatever their delivery."""
    group = (
        journals.c.legal_entity,
        journal_lines.c.payer_class,
        journal_lines.c.role,
        journal_lines.c.currency,
    )
    query = (
        select(*group, func.sum(journal_lines.c.debit_minor - journal_lines.c.credit_minor))
        .select_from(journal_lines.join(journals, journals.c.id == journal_lines.c.journal_id))
        .where(journal_lines.c.role.in_(AR_ROLES), journals.c.posting_date <= through)
        .group_by(*group)
    )
    return tuple(
        _balance(le, payer_class, role, currency, total)
        for le, payer_class, role, currency, total in tx.execute(query)
    )


def movements(tx: Tx, *, start: date | None, end: date) -> tuple[LineFact, ...]:
    """Every row (all roles: the counterparts classify a movement) dated in the range, of the
    events whose receivables moved in it."""
    dated = [event_lines.c.posting_date <= end]
    if start is not None:
        dated.append(event_lines.c.posting_date >= start)
    moved = select(event_lines.c.event_key).where(event_lines.c.role.in_(AR_ROLES), *dated)
    return tuple(line_fact(r) for r in tx.execute(rows().where(event_lines.c.event_key.in_(moved), *dated)))


def moved(lines: Iterable[LineFact], end: date) -> tuple[LineFact, ...]:
    """``movements`` from the beginning to ``end``, over rows already read."""
    dated = [ln for ln in lines if ln.posting_date <= end]
    keys = {ln.event_key for ln in dated if ln.role.value in AR_ROLES}
    return tuple(ln for ln in dated if ln.event_key in keys)


def ar_events(
    db: Database,
    *,
    legal_entity: str,
    payer_class: str,
    since: date | None = None,
    through: date | None = None,
) -> tuple[tuple[str, Money], ...]:
    """Drill-down of one receivable balance: each event's net on the AR roles (debit positive),
    largest first. ``since`` None is an opening-to-date balance; with both dates, a movement."""
    query = (
        select(event_lines.c.event_key, event_lines.c.currency, func.sum(signed()))
        .where(
            event_lines.c.role.in_(AR_ROLES),
            event_lines.c.legal_entity == legal_entity,
            event_lines.c.payer_class == payer_class,
        )
        .group_by(event_lines.c.event_key, event_lines.c.currency)
    )
    if since is not None:
        query = query.where(event_lines.c.posting_date >= since)
    if through is not None:
        query = query.where(event_lines.c.posting_date <= through)
    with db.reading() as tx:
        found = [
            (str(key), Money.from_minor(int(total), currency))
            for key, currency, total in tx.execute(query)
            if int(total) != 0
        ]
    return tuple(sorted(found, key=lambda item: (-abs(item[1].amount), item[0])))
