"""SAP S/4HANA's asynchronous confirmations, as revbridge received them on its endpoint.

SAP pushes one ``JournalEntryBulkCreateConfirmation`` per bulk request it processed, at a time of
its choosing, sometimes twice (connectors/sap_s4hana_soap.py reads it). Each journal's part is
kept here under the request's message id (our journal key) and the bulk request's id (one per
submission, so the answer to an earlier submission of the same journal is never taken for the
answer to a later one): SAP's document number, company code, fiscal year, the outcome and SAP's
Log notes, nothing else. A second delivery of the same confirmation changes nothing but its
delivery count: the first answer SAP gave stands. The SAP connector's ``check`` and ``lookup``
read them by message id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from revbridge.core.errors import StoreConflict
from revbridge.store.database import Database, Tx
from revbridge.store.schema import sap_confirmations as table

POSTED = "posted"
REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class SapConfirmation:
    message_id: str
    request_id: str  # the bulk request's MessageHeader/ID (the confirmation's ReferenceID)
    outcome: str  # posted | rejected
    accounting_document: str
    company_code: str
    fiscal_year: str
    notes: tuple[str, ...] = ()
    deliveries: int = 1

    def __post_init__(self) -> None:
        if self.outcome not in (POSTED, REJECTED):
            raise ValueError(f"an SAP confirmation is posted or rejected, not {self.outcome!r}")


def _record_one(tx: Tx, confirmation: SapConfirmation, now: datetime) -> bool:
    key = (table.c.message_id == confirmation.message_id) & (table.c.request_id == confirmation.request_id)
    found = tx.execute(select(table.c.deliveries).where(key)).first()
    if found is not None:
        tx.execute(table.update().where(key).values(deliveries=found.deliveries + 1))
        return False
    tx.execute(
        table.insert().values(
            message_id=confirmation.message_id,
            request_id=confirmation.request_id,
            outcome=confirmation.outcome,
            accounting_document=confirmation.accounting_document,
            company_code=confirmation.company_code,
            fiscal_year=confirmation.fiscal_year,
            notes=json.dumps(list(confirmation.notes)),
            deliveries=1,
            received_at=now,
        )
    )
    return True


def record(db: Database, confirmations: Sequence[SapConfirmation], *, now: datetime) -> list[str]:
    """Keep each confirmation not seen before (all in one transaction); returns the message ids
    that were new. A repeat only counts a delivery. Two deliveries racing each other: the loser's
    transaction conflicts and is run again, and then finds the winner's rows."""
    for attempt in range(2):
        try:
            with db.transaction() as tx:
                return [c.message_id for c in confirmations if _record_one(tx, c, now)]
        except StoreConflict:
            if attempt:
                raise
    return []


def find(db: Database, message_ids: Iterable[str]) -> dict[str, list[SapConfirmation]]:
    """The confirmations received for these message ids, first received first (ids with none
    are left out)."""
    wanted = sorted(set(message_ids))
    found: dict[str, list[SapConfirmation]] = {}
    with db.reading() as tx:
        for first in range(0, len(wanted), 500):
            chosen = table.c.message_id.in_(wanted[first : first + 500])
            rows = tx.execute(select(table).where(chosen).order_by(table.c.received_at))
            for row in rows:
                found.setdefault(row.message_id, []).append(
                    SapConfirmation(
                        message_id=row.message_id,
                        request_id=row.request_id,
                        outcome=row.outcome,
                        accounting_document=row.accounting_document,
                        company_code=row.company_code,
                        fiscal_year=row.fiscal_year,
                        notes=tuple(json.loads(row.notes)),
                        deliveries=row.deliveries,
                    )
                )
    return found
