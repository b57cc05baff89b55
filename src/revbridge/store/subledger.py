"""The subledger rows behind journals (``event_lines``): written when drafts are staged, read back
to close a batch window and to replay. One row per draft line; every draft line carries exactly the
one event it came from, so a journal line drills down to its events by the rows linked to it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime

from sqlalchemy import select, update

from revbridge.core.money import Money
from revbridge.ledger.journal import (
    Dimensions,
    Journal,
    JournalDraft,
    JournalLine,
    Lane,
    LineKey,
    Side,
    line_key,
)
from revbridge.ledger.role import AccountRole
from revbridge.store import bulk, deferred
from revbridge.store.database import Tx
from revbridge.store.schema import event_lines


def insert_lines(
    tx: Tx,
    draft: JournalDraft,
    *,
    journal_id: str | None,
    window: str | None,
    received_at: datetime,
    now: datetime,
    line_ids: Mapping[LineKey, int] | None = None,
) -> None:
    """One subledger row per draft line; ``line_ids`` (a realtime journal just inserted) links
    each row to the journal line its amount was summed into."""
    rows: list[dict[str, object]] = []
    for line in draft.lines:
        if len(line.event_keys) != 1:
            raise ValueError(f"a draft line must carry exactly one event key, not {len(line.event_keys)}")
        rows.append(
            {
                "event_key": line.event_keys[0],
                "document_key": draft.source_document_key,
                "revision": draft.revision,
                "lane": draft.lane.value,
                "legal_entity": draft.legal_entity,
                "posting_date": draft.posting_date,
                "moved_from": draft.moved_from,
                "account": line.account,
                "role": line.role.value,
                "side": line.side.value,
                "amount_minor": line.amount.to_minor(),
                "currency": line.amount.currency,
                "facility": line.dimensions.facility,
                "cost_center": line.dimensions.cost_center,
                "payer_class": line.dimensions.payer_class,
                "service_line": line.dimensions.service_line,
                "window_key": window,
                "journal_id": journal_id,
                "journal_line_id": line_ids[line_key(line)] if line_ids is not None else None,
                "received_at": received_at,
                "created_at": now,
            }
        )
    held = deferred.of(tx)
    if held is not None:  # nothing in a worker's transaction reads them back
        held.add("event_lines", 4, _insert, rows, table="event_lines", keys=())
    else:
        _insert(tx, rows)


def _insert(tx: Tx, rows: list[dict[str, object]]) -> None:
    bulk.insert_rows(tx, event_lines, rows)


def _drafts(rows: Iterable[object]) -> list[JournalDraft]:
    """Rebuild drafts from subledger rows: one per (document, revision, posting date, lane)."""
    groups: dict[tuple[str, str, date, str, str, str, date | None], list[JournalLine]] = defaultdict(list)
    for row in rows:
        m = row._mapping  # type: ignore[attr-defined]
        key = (
            m["document_key"],
            m["revision"],
            m["posting_date"],
            m["lane"],
            m["legal_entity"],
            m["currency"],
            m["moved_from"],
        )
        groups[key].append(
            JournalLine(
                account=m["account"],
                role=AccountRole(m["role"]),
                side=Side(m["side"]),
                amount=Money.from_minor(m["amount_minor"], m["currency"]),
                dimensions=Dimensions(
                    legal_entity=m["legal_entity"],
                    facility=m["facility"],
                    cost_center=m["cost_center"],
                    payer_class=m["payer_class"],
                    service_line=m["service_line"],
                ),
                event_keys=(m["event_key"],),
            )
        )
    return [
        JournalDraft(
            lane=Lane(lane),
            legal_entity=legal_entity,
            currency=currency,
            posting_date=posting_date,
            source_document_key=document,
            lines=tuple(lines),
            revision=revision,
            moved_from=moved_from,
        )
        for (
            document,
            revision,
            posting_date,
            lane,
            legal_entity,
            currency,
            moved_from,
        ), lines in groups.items()
    ]


def window_drafts(tx: Tx, window: str) -> tuple[list[JournalDraft], dict[tuple[str, date], datetime]]:
    """The drafts staged in a batch window, and the earliest receipt per (legal entity, date)."""
    rows = tx.execute(
        select(event_lines)
        .where(event_lines.c.window_key == window, event_lines.c.journal_id.is_(None))
        .order_by(event_lines.c.id)
    ).all()
    received: dict[tuple[str, date], datetime] = {}
    for row in rows:
        key = (row.legal_entity, row.posting_date)
        if key not in received or row.received_at < received[key]:
            received[key] = row.received_at
    return _drafts(rows), received


def assign_window(tx: Tx, window: str, journal: Journal) -> None:
    """Point a window's rows at the batch journal of their legal entity and date."""
    tx.execute(
        update(event_lines)
        .where(
            event_lines.c.window_key == window,
            event_lines.c.journal_id.is_(None),
            event_lines.c.legal_entity == journal.legal_entity,
            event_lines.c.posting_date == journal.posting_date,
        )
        .values(journal_id=journal.id)
    )


def standing_drafts(tx: Tx, event_keys: Iterable[str]) -> list[JournalDraft]:
    """Everything staged or posted so far for these events (all revisions): replay's 'before'."""
    keys = sorted(set(event_keys))
    rows: list[object] = []
    for start in range(0, len(keys), 400):
        rows.extend(
            tx.execute(
                select(event_lines)
                .where(event_lines.c.event_key.in_(keys[start : start + 400]))
                .order_by(event_lines.c.id)
            ).all()
        )
    return _drafts(rows)


def journal_drafts(tx: Tx, journal_id: str) -> list[JournalDraft]:
    """The drafts whose rows a journal was made of (a go-live replacement reverses them)."""
    rows = tx.execute(
        select(event_lines).where(event_lines.c.journal_id == journal_id).order_by(event_lines.c.id)
    ).all()
    return _drafts(rows)
