"""Go-live opening positions in the store: which opening journal each cut-over date and legal
entity was loaded with, in revisions (docs/golive.md). The journals themselves and their subledger
rows are staged through ``journals.stage_realtime`` like any realtime journal; this table only
remembers the loads, so the same file is recognised again, a different one for the same date is
refused unless the loaded one is replaced, and a replaced load names the journal that reversed it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update

from revbridge.core.money import Money
from revbridge.store.database import Tx
from revbridge.store.schema import golive_loads


@dataclass(frozen=True, slots=True, kw_only=True)
class Load:
    as_of: date
    legal_entity: str
    revision: int  # 0 for the date's first load, then one more per replacement
    document_key: str
    journal_id: str
    rows: int
    total: Money  # the receivables opened, net of credit balances
    loaded_by: str
    loaded_at: datetime
    reversed_by: str | None = None  # the reversing journal, once replaced or reversed


def loads(tx: Tx, *, as_of: date | None = None, active: bool = True) -> tuple[Load, ...]:
    """The loads of one cut-over date, or of every date, by date, legal entity and revision;
    ``active`` leaves out those replaced or reversed."""
    t = golive_loads.c
    query = select(golive_loads).order_by(t.as_of, t.legal_entity, t.revision)
    if as_of is not None:
        query = query.where(t.as_of == as_of)
    if active:
        query = query.where(t.reversed_by.is_(None))
    return tuple(
        Load(
            as_of=m["as_of"],
            legal_entity=m["legal_entity"],
            revision=int(m["revision"]),
            document_key=m["document_key"],
            journal_id=m["journal_id"],
            rows=int(m["rows"]),
            total=Money.from_minor(int(m["total_minor"]), m["currency"]),
            loaded_by=m["loaded_by"],
            loaded_at=m["loaded_at"],
            reversed_by=m["reversed_by"],
        )
        for m in (row._mapping for row in tx.execute(query))
    )


def next_revision(tx: Tx, as_of: date) -> int:
    """One more than every revision of the date so far, whatever its legal entity."""
    found = tx.execute(
        select(func.max(golive_loads.c.revision)).where(golive_loads.c.as_of == as_of)
    ).scalar()
    return 0 if found is None else int(found) + 1


def record(tx: Tx, load: Load) -> None:
    tx.execute(
        golive_loads.insert().values(
            as_of=load.as_of,
            legal_entity=load.legal_entity,
            revision=load.revision,
            document_key=load.document_key,
            journal_id=load.journal_id,
            rows=load.rows,
            total_minor=load.total.to_minor(),
            currency=load.total.currency,
            loaded_by=load.loaded_by,
            loaded_at=load.loaded_at,
            reversed_by=None,
        )
    )


def mark_reversed(tx: Tx, load: Load, *, journal_id: str) -> None:
    t = golive_loads.c
    tx.execute(
        update(golive_loads)
        .where(t.as_of == load.as_of, t.legal_entity == load.legal_entity, t.revision == load.revision)
        .values(reversed_by=journal_id)
    )
