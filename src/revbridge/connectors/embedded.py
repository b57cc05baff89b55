"""The embedded connector: revbridge's own general ledger, in the store's database.

The default ERP target (DESIGN.md section 7) and the reference the others are compared with: a
posted journal becomes one ``gl_documents`` row (its reference, our journal id, is unique) and one
``gl_entries`` row per line, in one transaction, so a document is either whole or absent. A second
submit of the same journal finds the first document and returns it instead of posting twice.
``trial_balance`` sums the entries by legal entity, account and currency, optionally for one
period (``YYYY-MM``: the movements of that month) or for chosen references. Like a real ledger it
refuses a posting dated in a period closed in the ``periods`` table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable, Limits, Receipt
from revbridge.core.clock import Clock
from revbridge.core.errors import InputError
from revbridge.core.money import Money
from revbridge.ledger.journal import Journal, Side
from revbridge.store.engine import reading
from revbridge.store.schema import gl_documents, gl_entries, periods

# One writer on SQLite anyway; a high rate because the "ERP" is a local table.
DEFAULT_LIMITS = Limits(rate_per_second=5000.0, burst=5000, concurrency=1, backoff_base=0.2, backoff_cap=10.0)
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


class EmbeddedLedger:
    def __init__(
        self, engine: Engine, *, clock: Clock, limits: Limits = DEFAULT_LIMITS, name: str = "embedded"
    ) -> None:
        self._name = name
        self._engine = engine
        self._clock = clock
        self._limits = limits

    @property
    def name(self) -> str:
        return self._name

    @property
    def limits(self) -> Limits:
        return self._limits

    def submit(self, journal: Journal) -> Receipt:
        try:
            with self._engine.begin() as conn:
                return _post(conn, journal, self._clock.now())
        except IntegrityError:
            # the reference is unique: this journal was posted before (or concurrently)
            found = self.lookup(journal.id)
            if found is None:
                raise
            return found
        except OperationalError as exc:
            raise ConnectorUnavailable(
                f"embedded ledger unavailable: {type(exc.orig).__name__}", uncertain=True
            ) from None

    def lookup(self, reference: str) -> Receipt | None:
        try:
            with reading(self._engine) as conn:
                return _find(conn, reference)
        except OperationalError as exc:
            raise ConnectorUnavailable(f"embedded ledger unavailable: {type(exc.orig).__name__}") from None

    def close(self) -> None:
        """The engine belongs to the runtime; nothing of ours to release."""


def _document(number: int) -> str:
    return f"GL-{number:08d}"


def _find(conn: Connection, reference: str) -> Receipt | None:
    row = conn.execute(
        select(gl_documents.c.id, gl_documents.c.posted_at).where(gl_documents.c.reference == reference)
    ).first()
    if row is None:
        return None
    return Receipt(reference=reference, document=_document(row.id), posted_at=row.posted_at)


def _post(conn: Connection, journal: Journal, now: datetime) -> Receipt:
    period = period_of(journal.posting_date)
    status = conn.execute(
        select(periods.c.status).where(
            periods.c.legal_entity == journal.legal_entity, periods.c.period == period
        )
    ).scalar()
    if status == "closed":  # a ledger refuses postings into a closed period, like any ERP
        raise ConnectorRejected(f"period {period} of {journal.legal_entity} is closed")
    document_id = conn.execute(
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
    conn.execute(
        gl_entries.insert(),
        [
            {
                "document_id": document_id,
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
    return Receipt(reference=journal.id, document=_document(document_id), posted_at=now)


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
    engine: Engine,
    *,
    legal_entity: str | None = None,
    period: str | None = None,
    account: str | None = None,
    references: Sequence[str] | None = None,
) -> list[BalanceRow]:
    """Debits and credits per legal entity, account and currency, sorted by those."""
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
    with reading(engine) as conn:
        return [
            BalanceRow(
                legal_entity=le,
                account=acct,
                debit=Money.from_minor(int(debit), currency),
                credit=Money.from_minor(int(credit), currency),
            )
            for le, acct, currency, debit, credit in conn.execute(query)
        ]
