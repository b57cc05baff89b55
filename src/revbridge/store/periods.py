"""Accounting periods per legal entity: a controller closes a month, and postings dated in it then
follow the closed-period policy (ledger/period.py). Every change is audited."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from revbridge.core.errors import InputError
from revbridge.ledger.period import Period, PeriodCalendar, PeriodStatus
from revbridge.store import audit, deferred
from revbridge.store.database import Database, Tx
from revbridge.store.schema import periods

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def set_status(
    db: Database,
    legal_entity: str,
    period: str,
    status: PeriodStatus,
    *,
    actor: str,
    now: datetime,
    anchor: Path | None,
) -> None:
    if not PERIOD.match(period):
        raise InputError(f"a period is YYYY-MM, not {period!r}")
    if not legal_entity.strip():
        raise InputError("name the legal entity")
    with db.transaction() as conn:
        row = conn.execute(
            select(periods.c.status).where(periods.c.legal_entity == legal_entity, periods.c.period == period)
        ).first()
        if row is None:
            conn.execute(
                periods.insert().values(
                    legal_entity=legal_entity,
                    period=period,
                    status=status.value,
                    changed_by=actor,
                    changed_at=now,
                )
            )
        else:
            conn.execute(
                periods.update()
                .where(periods.c.legal_entity == legal_entity, periods.c.period == period)
                .values(status=status.value, changed_by=actor, changed_at=now)
            )
        audit.append(
            conn,
            at=now,
            actor=actor,
            action=f"period.{status.value}",
            target=f"period/{legal_entity}/{period}",
            details={},
            anchor=anchor,
        )


def list_periods(db: Database) -> list[dict[str, object]]:
    with db.reading() as conn:
        rows = conn.execute(select(periods).order_by(periods.c.legal_entity, periods.c.period))
        return [dict(r._mapping) for r in rows]


_ALL = select(periods)


def calendar(tx: Tx) -> PeriodCalendar:
    """Every period a controller has opened or closed, for placing postings (ledger/period.py);
    read once per worker transaction (store/deferred.py), not once per message."""
    held = deferred.of(tx)
    cached = held.cache.get("calendar") if held is not None else None
    if isinstance(cached, PeriodCalendar):
        return cached
    found = []
    for row in tx.execute(_ALL):
        year, month = (int(part) for part in row.period.split("-"))
        start = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        found.append(
            Period(
                legal_entity=row.legal_entity,
                start=start,
                end=following - timedelta(days=1),
                status=PeriodStatus(row.status),
                name=row.period,
            )
        )
    calendar_ = PeriodCalendar(tuple(found))
    if held is not None:
        held.cache["calendar"] = calendar_
    return calendar_
