"""The embedded general ledger's tables (``gl_documents``, ``gl_entries``): revbridge's own ERP.

``connectors/embedded.py`` is the ERP port over these functions; reconciliation reads them back
through ``store/facts``. A posted journal becomes one document (its reference, our journal id, is
unique) and one entry per line, in one transaction, so a document is whole or absent. A second
post of the same journal, or one racing it from another process, gets the first document back:
exactly once is kept here, by the unique reference, not by the caller. Like a real ledger it
refuses a posting dated in a period the ``periods`` table says is closed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from revbridge.core.errors import InputError, StoreConflict
from revbridge.core.money import Money
from revbridge.ledger.journal import Journal, Side
from revbridge.store.database import Database, Tx
from revbridge.store.schema import gl_documents, gl_entries, periods

# References per IN (...) lookup: well under SQLite's bound-parameter limit.
_CHUNK = 500
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class GlDocument:
    reference: str  # our journal id
    number: int
    posted_at: datetime

    @property
    def document(self) -> str:
        """The document number as the ledger shows it."""
        return f"GL-{self.number:08d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosedPeriod:
    """The ledger refused the posting: its date is in a closed period."""

    legal_entity: str
    period: str


def find(db: Database, reference: str) -> GlDocument | None:
    with db.reading() as tx:
        return _find(tx, reference)


def _find(tx: Tx, reference: str) -> GlDocument | None:
    row = tx.execute(
        select(gl_documents.c.id, gl_documents.c.posted_at).where(gl_documents.c.reference == reference)
    ).first()
    if row is None:
        return None
    return GlDocument(reference=reference, number=int(row.id), posted_at=row.posted_at)


def post(db: Database, journal: Journal, *, now: datetime) -> GlDocument | ClosedPeriod:
    """Post the journal as a document, or return the document already posted under its id."""
    try:
        with db.transaction() as tx:
            return _post(tx, journal, now)
    except StoreConflict:
        # the reference is unique: this journal was posted concurrently
        found = find(db, journal.id)
        if found is None:
            raise
        return found


def post_many(
    db: Database, batch: Sequence[Journal], *, now: datetime
) -> dict[str, GlDocument | ClosedPeriod]:
    """Post a batch in one transaction (one fsync, one commit): each journal as ``post`` would,
    keyed by its id. If one of them is being posted concurrently (the unique reference), the
    batch is undone and each is posted on its own instead, so every journal still gets its one
    document."""
    try:
        with db.transaction() as tx:
            held = _find_many(tx, [j.id for j in batch])
            closed = _closed_periods(tx, batch)
            return {j.id: held.get(j.id) or closed.get(j.id) or _insert(tx, j, now) for j in batch}
    except StoreConflict:
        return {j.id: post(db, j, now=now) for j in batch}


def find_many(db: Database, references: Sequence[str]) -> dict[str, GlDocument]:
    """The documents posted under these references (those never posted are left out)."""
    with db.reading() as tx:
        return _find_many(tx, references)


def _find_many(tx: Tx, references: Sequence[str]) -> dict[str, GlDocument]:
    found: dict[str, GlDocument] = {}
    for start in range(0, len(references), _CHUNK):
        chunk = references[start : start + _CHUNK]
        query = select(gl_documents.c.reference, gl_documents.c.id, gl_documents.c.posted_at).where(
            gl_documents.c.reference.in_(chunk)
        )
        for row in tx.execute(query):
            found[row.reference] = GlDocument(
                reference=row.reference, number=int(row.id), posted_at=row.posted_at
            )
    return found


def _closed_periods(tx: Tx, batch: Sequence[Journal]) -> dict[str, ClosedPeriod]:
    """The batch's journals dated in a period the ledger has closed."""
    wanted = {(j.legal_entity, period_of(j.posting_date)) for j in batch}
    entities = sorted({entity for entity, _ in wanted})
    query = select(periods.c.legal_entity, periods.c.period).where(
        periods.c.legal_entity.in_(entities), periods.c.status == "closed"
    )
    shut = {(str(r.legal_entity), str(r.period)) for r in tx.execute(query)} & wanted
    return {
        j.id: ClosedPeriod(legal_entity=j.legal_entity, period=period_of(j.posting_date))
        for j in batch
        if (j.legal_entity, period_of(j.posting_date)) in shut
    }


def _post(tx: Tx, journal: Journal, now: datetime) -> GlDocument | ClosedPeriod:
    return (
        _find(tx, journal.id) or _closed_periods(tx, [journal]).get(journal.id) or _insert(tx, journal, now)
    )


def _insert(tx: Tx, journal: Journal, now: datetime) -> GlDocument:
    period = period_of(journal.posting_date)
    number = tx.execute(
        gl_documents.insert()
        .values(
            reference=journal.id,
            legal_entity=journal.legal_entity,
            posting_date=journal.posting_date,
            period=period,
            posted_at=now,
        )
        .returning(gl_documents.c.id)
    ).scalar_one()
    tx.execute(
        gl_entries.insert(),
        [
            {
                "document_id": number,
                "account": line.account,
                "debit_minor": line.amount.to_minor() if line.side is Side.DEBIT else 0,
                "credit_minor": line.amount.to_minor() if line.side is Side.CREDIT else 0,
                "currency": line.amount.currency,
                "cost_center": line.dimensions.cost_center,
                "payer_class": line.dimensions.payer_class,
                "facility": line.dimensions.facility,
            }
            for line in journal.lines
        ],
    )
    return GlDocument(reference=journal.id, number=int(number), posted_at=now)


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceRow:
    legal_entity: str
    account: str
    debit: Money
    credit: Money

    @property
    def currency(self) -> str:
        return self.debit.currency

    @property
    def balance(self) -> Money:
        """Debit positive."""
        return self.debit - self.credit

    def as_json(self) -> dict[str, str]:
        return {
            "legal_entity": self.legal_entity,
            "account": self.account,
            "currency": self.currency,
            "debit": str(self.debit.amount),
            "credit": str(self.credit.amount),
            "balance": str(self.balance.amount),
        }


def trial_balance(
    db: Database,
    *,
    legal_entity: str | None = None,
    period: str | None = None,
    account: str | None = None,
    references: Sequence[str] | None = None,
) -> list[BalanceRow]:
    """Debits and credits per legal entity, account and currency, sorted by those; ``period``
    (``YYYY-MM``) keeps the movements of that month, ``references`` those of chosen journals."""
    if period is not None and not _PERIOD.match(period):
        raise InputError(f"a period is YYYY-MM, not {period!r}")
    query = (
        select(
            gl_documents.c.legal_entity,
            gl_entries.c.account,
            gl_entries.c.currency,
            func.sum(gl_entries.c.debit_minor),
            func.sum(gl_entries.c.credit_minor),
        )
        .select_from(gl_entries.join(gl_documents, gl_entries.c.document_id == gl_documents.c.id))
        .group_by(gl_documents.c.legal_entity, gl_entries.c.account, gl_entries.c.currency)
        .order_by(gl_documents.c.legal_entity, gl_entries.c.account, gl_entries.c.currency)
    )
    if legal_entity is not None:
        query = query.where(gl_documents.c.legal_entity == legal_entity)
    if period is not None:
        query = query.where(gl_documents.c.period == period)
    if account is not None:
        query = query.where(gl_entries.c.account == account)
    if references is not None:
        query = query.where(gl_documents.c.reference.in_(list(references)))
    with db.reading() as tx:
        return [
            BalanceRow(
                legal_entity=le,
                account=acct,
                debit=Money.from_minor(int(debit), currency),
                credit=Money.from_minor(int(credit), currency),
            )
            for le, acct, currency, debit, credit in tx.execute(query)
        ]
