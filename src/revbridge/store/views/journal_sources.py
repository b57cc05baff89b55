"""What each journal was built from, for the journals page: the source kind, the payer and the
check/EFT number of a remittance's journal, the window of a batch journal; the filters by source
kind and payer; and the debit and credit totals of a filtered list.

Nothing new is stored for this: a realtime journal's reference is its source document key (an
event key, ``#revision`` appended for a replay; ``remittance:<payer>:<trace>`` for claim
responses sent without a payment), a batch journal's is its window key. From an event's body only
the payer's id and name, the TRN02 trace and the payment method are read: business identifiers,
never a patient's. Amounts stay integer minor units.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Unpack

from sqlalchemy import ColumnElement, func, or_, select

from revbridge.store import journals as stored_journals
from revbridge.store.database import Database, Tx
from revbridge.store.schema import batch_windows, events, journal_lines, journals

REMITTANCE = "remittance"  # an 835 / FHIR payment's journal (RemittanceReceived, or claims alone)
BATCH = "batch"  # a micro-batch window's journal
_HEADER = "RemittanceReceived"
_CLAIMS_ALONE = "remittance:"  # the reference prefix of claim responses without a payment
_PUBLIC = ("payer_id", "payer_name", "trace", "method")  # the only body fields read


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    kind: str  # remittance | batch | the event kind of any other realtime journal
    payer_id: str = ""
    payer_name: str = ""
    trace: str = ""  # the check or EFT trace number (TRN02)
    method: str = ""  # as the source says: ACH, CHK, card, ...
    window_opened: datetime | None = None
    window_closed: datetime | None = None
    window_lines: int = 0  # subledger lines summed into a batch journal


@dataclass(frozen=True, slots=True, kw_only=True)
class Payer:
    id: str
    name: str  # empty when only claim responses named the payer


@dataclass(frozen=True, slots=True, kw_only=True)
class Total:
    currency: str
    debit_minor: int
    credit_minor: int


def base_of(reference: str) -> str:
    """The source document key of a realtime journal's reference (a replay appends ``#rev``)."""
    return reference.partition("#")[0]


def _claims_alone(base: str) -> Source:
    payer, _, trace = base.removeprefix(_CLAIMS_ALONE).partition(":")
    if payer == "claim":  # a claim response with no remittance id at all
        return Source(kind=REMITTANCE)
    return Source(kind=REMITTANCE, payer_id=payer, trace=trace)


def _of_event(kind: str, body: str) -> Source:
    fields = json.loads(body)
    payer_id, payer_name, trace, method = (str(fields.get(name) or "") for name in _PUBLIC)
    return Source(
        kind=REMITTANCE if kind == _HEADER else kind,
        payer_id=payer_id,
        payer_name=payer_name,
        trace=trace,
        method=method,
    )


def describe(db: Database, found: Iterable[tuple[str, str, str]]) -> dict[str, Source]:
    """The source of each (journal id, lane, reference); a journal whose source is gone (purged)
    is left out."""
    realtime: dict[str, str] = {}
    batch: dict[str, str] = {}
    for journal_id, lane, reference in found:
        if lane == BATCH:
            batch[journal_id] = reference
        else:
            realtime[journal_id] = base_of(reference)
    with db.reading() as tx:
        sources = describe_bases(tx, set(realtime.values()))
        rows = tx.execute(select(batch_windows).where(batch_windows.c.key.in_(sorted(set(batch.values())))))
        windows = {
            r.key: Source(
                kind=BATCH, window_opened=r.opened_at, window_closed=r.closed_at, window_lines=r.line_count
            )
            for r in rows
        }
    result = {jid: windows[key] for jid, key in batch.items() if key in windows}
    return result | {jid: sources[base] for jid, base in realtime.items() if base in sources}


def kinds(db: Database) -> tuple[str, ...]:
    """The source kinds the kind filter offers, sorted: remittance and batch always, and the
    event kind of every other realtime journal's source."""
    with db.reading() as tx:
        found = set(
            tx.execute(
                select(events.c.kind)
                .distinct()
                .join(journals, journals.c.reference == events.c.key)
                .where(journals.c.lane != BATCH, events.c.kind != _HEADER)
            ).scalars()
        )
    return tuple(sorted(found | {REMITTANCE, BATCH}))


def _headers(tx: Tx) -> list[tuple[str, Source]]:
    rows = tx.execute(
        select(events.c.key, events.c.body)
        .join(journals, journals.c.reference == events.c.key)
        .where(events.c.kind == _HEADER)
    )
    return [(key, _of_event(_HEADER, body)) for key, body in rows]


def payers(db: Database) -> tuple[Payer, ...]:
    """The payers of the remittances that have journals, by name then id."""
    with db.reading() as tx:
        named = {s.payer_id: s.payer_name for _, s in _headers(tx)}
        claims = tx.execute(
            select(journals.c.reference).where(journals.c.reference.startswith(_CLAIMS_ALONE))
        ).scalars()
        for reference in claims:
            source = _claims_alone(base_of(reference))
            if source.payer_id:
                named.setdefault(source.payer_id, "")
    return tuple(
        sorted((Payer(id=i, name=n) for i, n in named.items()), key=lambda p: (p.name or p.id, p.id))
    )


def with_source(db: Database, *, kind: str = "", payer: str = "") -> tuple[str, ...]:
    """The ids of the journals of source ``kind`` and/or remittance ``payer`` (its id)."""
    if payer and kind not in ("", REMITTANCE):
        return ()
    with db.reading() as tx:
        if kind == BATCH:
            return tuple(tx.execute(select(journals.c.id).where(journals.c.lane == BATCH)).scalars())
        realtime, replayed = journals.c.lane != BATCH, journals.c.reference.contains("#")
        exact = tuple(
            tx.execute(select(journals.c.id).where(realtime, ~replayed, _exactly(tx, kind, payer))).scalars()
        )
        # A replay's reference is its source's key and "#revision": looked up one by one (rare).
        rows = tx.execute(select(journals.c.id, journals.c.reference).where(realtime, replayed)).all()
        bases = {jid: base_of(reference) for jid, reference in rows}
        found = describe_bases(tx, set(bases.values()))
    return exact + tuple(
        jid
        for jid, base in bases.items()
        if base in found
        and (not kind or found[base].kind == kind)
        and (not payer or found[base].payer_id == payer)
    )


def _exactly(tx: Tx, kind: str, payer: str) -> ColumnElement[bool]:
    """The SQL condition a journal whose reference is its source's key (no replay) meets exactly
    when its source is of ``kind`` and/or from ``payer``."""
    ref = journals.c.reference
    if payer:
        keys = [key for key, s in _headers(tx) if s.payer_id == payer]
        return or_(ref.in_(keys), ref.startswith(f"{_CLAIMS_ALONE}{payer}:", autoescape=True))
    event_kind = _HEADER if kind == REMITTANCE else kind
    of_kind = ref.in_(select(events.c.key).where(events.c.kind == event_kind))
    if kind == REMITTANCE:
        return or_(of_kind, ref.startswith(_CLAIMS_ALONE))
    return of_kind


def describe_bases(tx: Tx, bases: set[str]) -> dict[str, Source]:
    """The source of each source document key (claim-response keys included)."""
    found = {b: _claims_alone(b) for b in bases if b.startswith(_CLAIMS_ALONE)}
    wanted = sorted(bases - found.keys())
    for start in range(0, len(wanted), 500):
        rows = tx.execute(
            select(events.c.key, events.c.kind, events.c.body).where(
                events.c.key.in_(wanted[start : start + 500])
            )
        )
        found.update((key, _of_event(kind, body)) for key, kind, body in rows)
    return found


def totals(db: Database, **filters: Unpack[stored_journals.Filters]) -> tuple[int, tuple[Total, ...]]:
    """How many journals pass ``store.journals.matching``'s filters, and their lines' debits and
    credits per currency."""
    matching = stored_journals.matching(**filters)
    with db.reading() as tx:
        count = int(tx.execute(select(func.count()).select_from(matching.subquery())).scalar_one())
        rows = tx.execute(
            select(
                journal_lines.c.currency,
                func.coalesce(func.sum(journal_lines.c.debit_minor), 0),
                func.coalesce(func.sum(journal_lines.c.credit_minor), 0),
            )
            .where(journal_lines.c.journal_id.in_(matching))
            .group_by(journal_lines.c.currency)
            .order_by(journal_lines.c.currency)
        ).all()
    return count, tuple(Total(currency=c, debit_minor=int(d), credit_minor=int(k)) for c, d, k in rows)
