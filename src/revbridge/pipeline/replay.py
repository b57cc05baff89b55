"""Replay is a diff (DESIGN.md section 6).

Replaying a message re-parses its stored raw bytes with today's parsers, master data and rulebook,
compares the journal lines that result, per source document, with everything staged or posted for
its events so far, and stages only the difference: the reversal of what stands plus the new lines
(``ledger.replay.diff``). Posted lines are never updated. Replaying twice changes nothing, because
after the first replay what stands equals what the configuration produces.

One message is one transaction: events, subledger lines, journals, work items, the message's
status and the audit entry commit together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, select, update

from revbridge.canonical import codec
from revbridge.canonical.events import CanonicalEvent
from revbridge.core.clock import Clock
from revbridge.core.errors import DecryptionError, InputError
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.core.tokens import Tokenizer
from revbridge.formats.base import Format, ParseContext
from revbridge.ledger.journal import JournalDraft
from revbridge.ledger.replay import diff
from revbridge.pipeline import subledger
from revbridge.pipeline.posting import Poster, StoreContext
from revbridge.rules import apply
from revbridge.store import audit, queue, workitems
from revbridge.store import events as event_store
from revbridge.store.database import Database
from revbridge.store.events import CONTEXT_KINDS
from revbridge.store.messages import MessageStore
from revbridge.store.schema import events, messages, work_items


@dataclass(frozen=True, slots=True)
class Replayed:
    message_id: str
    status: str
    journals_drafted: int  # drafts staged by this replay (reversals and new lines); 0 when nothing changed
    problems: tuple[Problem, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "status": self.status,
            "drafts_staged": self.journals_drafted,
            "problems": [
                {"code": str(p.code), "severity": str(p.severity), "locator": p.locator, "message": p.message}
                for p in self.problems
            ],
        }


def select_messages(
    db: Database,
    *,
    message_ids: Sequence[str] = (),
    exception_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[str]:
    """The messages a replay request names: by id, by open work item code, or by receipt time."""
    if not (message_ids or exception_code or since or until):
        raise InputError("say what to replay: --message, --exception-code or --since/--until")
    query = select(messages.c.id).where(
        messages.c.status.in_(queue.TERMINAL), messages.c.status != queue.DUPLICATE
    )
    if message_ids:
        query = query.where(messages.c.id.in_(list(message_ids)))
    if exception_code:
        with_items = select(work_items.c.message_id).where(
            work_items.c.code == exception_code, work_items.c.status == workitems.OPEN
        )
        query = query.where(messages.c.id.in_(with_items))
    if since:
        query = query.where(messages.c.received_at >= since)
    if until:
        query = query.where(messages.c.received_at < until)
    with db.reading() as conn:
        found = [mid for (mid,) in conn.execute(query.order_by(messages.c.id))]
    missing = sorted(set(message_ids) - set(found))
    if missing:
        raise InputError(f"cannot replay {', '.join(missing)}: unknown, duplicate or not yet processed")
    return found


class Replayer:
    def __init__(
        self,
        *,
        db: Database,
        store: MessageStore,
        formats: Mapping[str, Format],
        tokenizer: Tokenizer,
        poster: Poster,
        clock: Clock,
        anchor: Path | None,
        default_currency: str = "USD",
    ) -> None:
        self._db = db
        self._store = store
        self._formats = formats
        self._tokenizer = tokenizer
        self._poster = poster
        self._clock = clock
        self._anchor = anchor
        self._currency = default_currency

    def replay(self, message_id: str, *, actor: str) -> Replayed:
        now = self._clock.now()
        with self._db.transaction() as conn:
            row = conn.execute(select(messages).where(messages.c.id == message_id)).one()
            items, problems, ignored_by = self._parse(row, now)
            found = self._poster.configs.current(conn, now.date(), fresh=True)
            if found is None:
                raise InputError("no approved configuration is in effect: run `revbridge config apply`")
            _version, config = found
            current = _refresh_events(conn, items, message_id=message_id, now=now)
            problems.extend(
                self._poster._record_context(conn, config, [e for e in current if _context(e)], now)
            )
            posting_events = [e for e in current if not _context(e)]
            staged = 0
            if posting_events:
                posting = apply(posting_events, config, StoreContext(conn), final=True)
                before = subledger.standing_drafts(conn, [e.key for e in posting_events])
                to_post = diff(*_settled(before, posting.drafts, [*problems, *posting.problems]))
                staged = len(to_post)
                problems.extend(
                    self._poster._stage(
                        conn, config, posting_events, posting, row.received_at, now, post=to_post
                    )
                )
            problems = [p.with_message_id(message_id) for p in problems]
            status, reason = _decide(
                problems, staged, bool(posting_events), ignored_by if not items else None
            )
            self._settle_items(conn, message_id, problems, actor=actor, now=now)
            conn.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(status=status, terminal_reason=reason, completed_at=now)
            )
            audit.append(
                conn,
                at=now,
                actor=actor,
                action="replay",
                target=f"message/{message_id}",
                details={"status": status, "drafts_staged": str(staged)},
                anchor=self._anchor,
            )
        return Replayed(message_id, status, staged, tuple(problems))

    def _parse(self, row: object, _now: datetime) -> tuple[list[CanonicalEvent], list[Problem], str | None]:
        m = row._mapping  # type: ignore[attr-defined]
        where = SourceRef(m["id"])
        fmt = self._formats.get(m["format"])
        if fmt is None or m["payload"] is None or m["key_id"] is None:
            reason = "raw payload was purged" if m["payload"] is None else f"no parser for {m['format']!r}"
            return [], [Problem(code=ProblemCode.PAYLOAD_UNREADABLE, message=reason, where=where)], None
        try:
            payload = self._store.open_payload(m["id"], m["key_id"], m["payload"])
        except DecryptionError as exc:
            return [], [Problem(code=ProblemCode.PAYLOAD_UNREADABLE, message=str(exc), where=where)], None
        ctx = ParseContext(
            message_id=m["id"],
            tokenizer=self._tokenizer,
            received_on=m["received_at"].date(),
            default_currency=self._currency,
        )
        outcome = fmt.to_events(payload, ctx)
        return list(outcome.items), list(outcome.problems), outcome.ignored_by

    def _settle_items(
        self, conn: Connection, message_id: str, problems: Sequence[Problem], *, actor: str, now: datetime
    ) -> None:
        """Open items for new problems; resolve the message's open items that the replay cleared."""
        still = {workitems.fingerprint(str(p.code), message_id, p.locator, p.event_key) for p in problems}
        conn.execute(
            update(work_items)
            .where(
                work_items.c.message_id == message_id,
                work_items.c.status == workitems.OPEN,
                work_items.c.fingerprint.not_in(still) if still else work_items.c.id.is_not(None),
                work_items.c.code != ProblemCode.DUPLICATE_CONFLICT.value,
            )
            .values(
                status=workitems.RESOLVED, resolved_by=actor, resolution="cleared by replay", updated_at=now
            )
        )
        workitems.record(conn, problems, now=now, message_id=message_id)


def _settled(
    before: Sequence[JournalDraft], current: Sequence[JournalDraft], problems: Sequence[Problem]
) -> tuple[list[JournalDraft], list[JournalDraft]]:
    """Leave alone every document with an event that fails now: what stands posted stays until
    the work item is fixed, rather than being reversed because the new result has a hole."""
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if any(p.event_key is None for p in errors):
        return [], []
    failing = {p.event_key for p in errors}
    held = {d.source_document_key for d in (*before, *current) if failing & set(d.event_keys)}
    keep = [d for d in before if d.source_document_key not in held]
    return keep, [d for d in current if d.source_document_key not in held]


def _context(event: CanonicalEvent) -> bool:
    return type(event).__name__ in CONTEXT_KINDS


def _refresh_events(
    conn: Connection, items: Sequence[CanonicalEvent], *, message_id: str, now: datetime
) -> list[CanonicalEvent]:
    """Record events the message yields now; a key this message recorded before takes the
    re-parsed content (a parser fix), a key another message owns is left to that message."""
    recorded = event_store.record(conn, items, message_id=message_id, now=now)
    current = list(recorded.new) + list(recorded.repeated)
    conflicting = {p.event_key for p in recorded.problems}
    for event in items:
        if event.key not in conflicting:
            continue
        owner = conn.execute(select(events.c.message_id).where(events.c.key == event.key)).scalar_one()
        if owner == message_id:
            conn.execute(
                update(events)
                .where(events.c.key == event.key)
                .values(body=codec.dumps(event), content_hash=event_store.fingerprint(event))
            )
            current.append(event)
    return current


def _decide(
    problems: Sequence[Problem], staged: int, posted_anything: bool, ignored_by: str | None
) -> tuple[str, str]:
    errors = sorted({str(p.code) for p in problems if p.severity is Severity.ERROR})
    if errors:
        return queue.EXCEPTED, ", ".join(errors)
    if ignored_by is not None:
        return queue.IGNORED, ignored_by
    if not posted_anything:
        return queue.PROCESSED, "replayed: context only"
    return queue.PROCESSED, f"replayed: {staged} draft(s) staged" if staged else "replayed: nothing changed"
