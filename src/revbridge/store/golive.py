"""Go-live opening positions in the store: which opening journal each cut-over date and legal
entity was loaded with (docs/golive.md). The journal itself and its subledger rows are staged
through ``journals.stage_realtime`` like any realtime journal; this table only remembers the load,
so the same file is recognised again and a different one for the same date is refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from revbridge.core.money import Money
from revbridge.store.database import Tx
from revbridge.store.schema import golive_loads


@dataclass(frozen=True, slots=True, kw_only=True)
class Load:
    as_of: date
    legal_entity: str
    document_key: str
    journal_id: str
    rows: int
    total: Money  # the receivables opened, net of credit balances
    loaded_by: str
    loaded_at: datetime


def loads(tx: Tx, *, as_of: date | None = None) -> tuple[Load, ...]:
    """The loads of one cut-over date, or of every date, by date and legal entity."""
    query = select(golive_loads).order_by(golive_loads.c.as_of, golive_loads.c.legal_entity)
    if as_of is not None:
        query = query.where(golive_loads.c.as_of == as_of)
    return tuple(
        Load(
            as_of=m["as_of"],
            legal_entity=m["legal_entity"],
            document_key=m["document_key"],
            journal_id=m["journal_id"],
            rows=m["rows"],
            total=Money.from_minor(int(m["total_minor"]), m["currency"]),
            loaded_by=m["loaded_by"],
            loaded_at=m["loaded_at"],
        )
        for m in (row._mapping for row in tx.execute(query))
    )


def record(tx: Tx, load: Load) -> None:
    tx.execute(
        golive_loads.insert().values(
            as_of=load.as_of,
            legal_entity=load.legal_entity,
            document_key=load.document_key,
            journal_id=load.journal_id,
            rows=load.rows,
            total_minor=load.total.to_minor(),
            currency=load.total.currency,
            loaded_by=load.loaded_by,
            loaded_at=load.loaded_at,
        )
    )
