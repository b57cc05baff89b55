"""The warehouse export's three datasets (connectors/warehouse.py writes them): their Arrow
schemas and how a store record becomes a row. Money is DECIMAL(18,2) (decimal128) built from
``Decimal``, never float; dates are date32; timestamps are microseconds in UTC. The partition
column (``posting_date``) lives in the directory names, not in the files, as Hive layouts do.
Only PHI-free fields are written: keys, codes, dimensions, money and the patient *token*."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa

from revbridge.core.errors import InputError
from revbridge.core.money import Money, exponent
from revbridge.store import Database
from revbridge.store.warehouse import (
    EventRow,
    JournalLineRow,
    Span,
    SubledgerRow,
    event_batches,
    journal_line_batches,
    subledger_batches,
)

MONEY = pa.decimal128(18, 2)
STAMP = pa.timestamp("us", tz="UTC")

EVENTS = pa.schema(
    [
        ("event_key", pa.string()),
        ("kind", pa.string()),
        ("message_id", pa.string()),
        ("facility", pa.string()),
        ("state", pa.string()),
        ("amount", MONEY),
        ("currency", pa.string()),
        ("patient_token", pa.string()),
        ("encounter", pa.string()),
        ("content_hash", pa.string()),
        ("created_at", STAMP),
    ]
)
SUBLEDGER = pa.schema(
    [
        ("id", pa.int64()),
        ("event_key", pa.string()),
        ("document_key", pa.string()),
        ("revision", pa.string()),
        ("lane", pa.string()),
        ("legal_entity", pa.string()),
        ("moved_from", pa.date32()),
        ("account", pa.string()),
        ("role", pa.string()),
        ("side", pa.string()),
        ("amount", MONEY),
        ("debit", MONEY),
        ("credit", MONEY),
        ("currency", pa.string()),
        ("facility", pa.string()),
        ("cost_center", pa.string()),
        ("payer_class", pa.string()),
        ("service_line", pa.string()),
        ("journal_id", pa.string()),
        ("received_at", STAMP),
        ("created_at", STAMP),
    ]
)
JOURNALS = pa.schema(
    [
        ("journal_id", pa.string()),
        ("line_no", pa.int32()),
        ("lane", pa.string()),
        ("legal_entity", pa.string()),
        ("status", pa.string()),
        ("erp_document", pa.string()),
        ("account", pa.string()),
        ("role", pa.string()),
        ("debit", MONEY),
        ("credit", MONEY),
        ("currency", pa.string()),
        ("facility", pa.string()),
        ("cost_center", pa.string()),
        ("payer_class", pa.string()),
        ("service_line", pa.string()),
        ("created_at", STAMP),
        ("posted_at", STAMP),
    ]
)


def _money(value: Money | None) -> Decimal | None:
    """The amount as DECIMAL(18,2) takes it: currencies with more than two minor digits would
    need rounding, and an export never rounds money silently."""
    if value is None:
        return None
    if exponent(value.currency) > 2:
        raise InputError(f"the Parquet export holds money as DECIMAL(18,2); {value.currency} has more digits")
    return value.amount


def _event(r: EventRow) -> dict[str, Any]:
    return {
        "event_key": r.key,
        "kind": r.kind,
        "message_id": r.message_id,
        "facility": r.facility,
        "state": r.state,
        "amount": _money(r.amount),
        "currency": r.amount.currency if r.amount is not None else None,
        "patient_token": r.patient_token,
        "encounter": r.encounter,
        "content_hash": r.content_hash,
        "created_at": r.created_at,
    }


def _subledger(r: SubledgerRow) -> dict[str, Any]:
    zero = Decimal("0.00")
    amount = _money(r.amount)
    return {
        "id": r.id,
        "event_key": r.event_key,
        "document_key": r.document_key,
        "revision": r.revision,
        "lane": r.lane,
        "legal_entity": r.legal_entity,
        "moved_from": r.moved_from,
        "account": r.account,
        "role": r.role,
        "side": r.side,
        "amount": amount,
        "debit": amount if r.side == "debit" else zero,
        "credit": amount if r.side == "credit" else zero,
        "currency": r.amount.currency,
        "facility": r.facility,
        "cost_center": r.cost_center,
        "payer_class": r.payer_class,
        "service_line": r.service_line,
        "journal_id": r.journal_id,
        "received_at": r.received_at,
        "created_at": r.created_at,
    }


def _journal_line(r: JournalLineRow) -> dict[str, Any]:
    return {
        "journal_id": r.journal_id,
        "line_no": r.line_no,
        "lane": r.lane,
        "legal_entity": r.legal_entity,
        "status": r.status,
        "erp_document": r.erp_document,
        "account": r.account,
        "role": r.role,
        "debit": _money(r.debit),
        "credit": _money(r.credit),
        "currency": r.debit.currency,
        "facility": r.facility,
        "cost_center": r.cost_center,
        "payer_class": r.payer_class,
        "service_line": r.service_line,
        "created_at": r.created_at,
        "posted_at": r.posted_at,
    }


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    schema: pa.Schema
    batches: Callable[[Database, Span, int], Iterator[Sequence[Any]]]
    day: Callable[[Any], date]
    row: Callable[[Any], dict[str, Any]]


DATASETS = (
    Dataset(
        "events", EVENTS, lambda db, s, n: event_batches(db, s, batch=n), lambda r: r.occurred_on, _event
    ),
    Dataset(
        "subledger",
        SUBLEDGER,
        lambda db, s, n: subledger_batches(db, s, batch=n),
        lambda r: r.posting_date,
        _subledger,
    ),
    Dataset(
        "journals",
        JOURNALS,
        lambda db, s, n: journal_line_batches(db, s, batch=n),
        lambda r: r.posting_date,
        _journal_line,
    ),
)


@dataclass(slots=True)
class Written:
    """What one dataset's export wrote (and removed), for the command's summary."""

    name: str
    rows: int = 0
    files: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"rows": self.rows, "files": self.files, "removed": self.removed}
