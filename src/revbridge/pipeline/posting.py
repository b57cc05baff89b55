"""The posting stage: recorded events -> rules -> staged journal lines and journals.

It runs inside the worker's transaction for each message, so a message's events, its subledger
lines, its realtime journal and its new status commit together. Context events (encounters) are
kept as look-up rows for later charges. Posting events of one message are one document for
``rules.apply``. Realtime drafts become journals at once; batch drafts wait in ``event_lines``
under the open window of their legal entity until ``close_windows`` aggregates them.

A document that waits for context (a charge before its encounter) leaves its events ``waiting``;
``tick`` applies it again when the context may have arrived and, once the configured wait has
passed, turns the wait into a MISSING_CONTEXT or ORPHAN_REVERSAL problem.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Table, func, select, update

from revbridge.canonical import codec
from revbridge.canonical.events import (
    CanonicalEvent,
    ChargeCaptured,
    CoverageUpdated,
    EncounterCancelled,
    EncounterRegistered,
    EncounterUpdated,
)
from revbridge.core.clock import Clock
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.ledger.journal import JournalDraft, Lane, batch_journals, line_key, realtime_journal
from revbridge.ledger.period import place
from revbridge.ledger.role import AccountRole
from revbridge.ledger.window import is_due, window_key
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.model import Facility
from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics
from revbridge.pipeline import subledger
from revbridge.rules import ChargeFacts, EncounterFacts, apply
from revbridge.rules.posting import Posting
from revbridge.store import configs, journals, queue, workitems
from revbridge.store.database import Database
from revbridge.store.events import CONTEXT_KINDS
from revbridge.store.schema import batch_windows, charge_context, encounter_context, events, messages

log = get_logger("revbridge.posting")

WAITING = "waiting"
STAGED = "staged"
EXCEPTED = "excepted"
APPLIED = "applied"  # posts nothing by rule (a submitted claim)
IGNORED = "ignored"

AR_ROLES = (AccountRole.AR_PAYER, AccountRole.AR_UNBILLED)


class StoreContext:
    """The PostingContext rules.apply asks, answered from the store inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def encounter(self, facility_code: str, encounter_id: str) -> EncounterFacts | None:
        row = self._conn.execute(
            select(encounter_context).where(
                encounter_context.c.facility == facility_code, encounter_context.c.encounter == encounter_id
            )
        ).first()
        if row is None or row.cancelled:
            return None
        return EncounterFacts(
            patient_class=row.patient_class, department=row.department, primary_payer_id=row.primary_payer_id
        )

    def charge(self, facility_code: str, charge_id: str) -> ChargeFacts | None:
        row = self._conn.execute(
            select(charge_context).where(
                charge_context.c.facility == facility_code, charge_context.c.charge_id == charge_id
            )
        ).first()
        return (
            ChargeFacts(department=row.department, payer_class=row.payer_class) if row is not None else None
        )


def _upsert(conn: Connection, table: Table, keys: dict[str, object], values: dict[str, object]) -> None:
    where = [table.c[k] == v for k, v in keys.items()]
    changed = conn.execute(update(table).where(*where).values(**values)).rowcount
    if not changed:
        conn.execute(table.insert().values(**keys, **values))


class Poster:
    def __init__(self, db: Database, clock: Clock, metrics: Metrics) -> None:
        self._db = db
        self._clock = clock
        self._metrics = metrics
        self.configs = configs.ConfigCache(db)
        self._lock = threading.Lock()

    # -- the worker's hook ----------------------------------------------------------------------

    def on_events(
        self, conn: Connection, new: Sequence[CanonicalEvent], *, message_id: str
    ) -> tuple[Sequence[Problem], bool]:
        now = self._clock.now()
        found = self.configs.current(conn, now.date())
        if found is None:
            where = SourceRef(message_id)
            return [
                Problem(
                    code=ProblemCode.CONFIGURATION_MISSING,
                    message="no approved configuration is in effect: run `revbridge config apply`",
                    where=where,
                )
            ], False
        _version, config = found
        problems = self._record_context(
            conn, config, [e for e in new if type(e).__name__ in CONTEXT_KINDS], now
        )
        posting_events = [e for e in new if type(e).__name__ not in CONTEXT_KINDS]
        if not posting_events:
            return problems, False
        posting = apply(posting_events, config, StoreContext(conn), final=False)
        if posting.waiting:
            until = now + config.master.posting.context_wait
            self._set_state(conn, [e.key for e in posting_events], WAITING, wait_until=until)
            return problems, True
        received_at = self._received_at(conn, message_id)
        problems.extend(self._stage(conn, config, posting_events, posting, received_at, now))
        return problems, False

    def journal_counts(self) -> dict[str, int]:
        return journals.counts(self._db)

    # -- context ----------------------------------------------------------------------------------

    def _record_context(
        self, conn: Connection, config: Configuration, items: Sequence[CanonicalEvent], now: datetime
    ) -> list[Problem]:
        problems: list[Problem] = []
        for event in items:
            match event:
                case EncounterRegistered() | EncounterUpdated() | EncounterCancelled() | CoverageUpdated():
                    if not event.facility.strip():
                        # Context no charge can find (a FHIR Coverage names no facility): worth
                        # knowing, not worth holding the message for.
                        problems.append(
                            Problem(
                                code=ProblemCode.UNMAPPED_FACILITY,
                                message=f"{type(event).__name__} names no facility; charges cannot use it",
                                where=event.source,
                                severity=Severity.INFO,
                                event_key=event.key,
                            )
                        )
                        continue
                    facility = config.facility(event.facility, event.source, event.key)
                    if not isinstance(facility, Facility):
                        problems.append(facility)
                        continue
                    self._encounter(conn, facility.code, event, now)
                case _:
                    continue  # a payment plan is context for people, not for posting rules
        return problems

    def _encounter(self, conn: Connection, facility: str, event: CanonicalEvent, now: datetime) -> None:
        match event:
            case EncounterRegistered() | EncounterUpdated():
                primary = min(event.coverages, key=lambda c: c.priority) if event.coverages else None
                values: dict[str, object] = {
                    "patient_class": event.patient_class[:8],
                    "department": event.department[:64],
                    "primary_payer_id": primary.payer_id[:128] if primary else "",
                    "cancelled": 0,
                    "event_key": event.key,
                    "updated_at": now,
                }
                _upsert(conn, encounter_context, {"facility": facility, "encounter": event.encounter}, values)
            case EncounterCancelled():
                conn.execute(
                    update(encounter_context)
                    .where(
                        encounter_context.c.facility == facility,
                        encounter_context.c.encounter == event.encounter,
                    )
                    .values(cancelled=1, event_key=event.key, updated_at=now)
                )
            case CoverageUpdated() if event.encounter:
                primary = min(event.coverages, key=lambda c: c.priority) if event.coverages else None
                conn.execute(
                    update(encounter_context)
                    .where(
                        encounter_context.c.facility == facility,
                        encounter_context.c.encounter == event.encounter,
                    )
                    .values(primary_payer_id=primary.payer_id[:128] if primary else "", updated_at=now)
                )
            case _:
                return

    # -- staging ----------------------------------------------------------------------------------

    def _stage(
        self,
        conn: Connection,
        config: Configuration,
        items: Sequence[CanonicalEvent],
        posting: Posting,
        received_at: datetime,
        now: datetime,
        *,
        post: Sequence[JournalDraft] | None = None,
    ) -> list[Problem]:
        """Stage ``post`` (default: the posting's drafts; a replay passes its diff) and set each
        event's state from what the posting says the event should have now."""
        problems = list(posting.problems)
        calendar = subledger.calendar(conn)
        policy = config.master.posting.closed_period_policy
        for draft in posting.drafts if post is None else post:
            placed = place(draft, calendar, policy)
            if isinstance(placed, Problem):
                problems.extend(_per_event(placed, draft))
                continue
            self.stage_draft(conn, config, placed, received_at, now)
        staged_keys = {key for draft in posting.drafts for key in draft.event_keys}
        self._charge_context(conn, items, posting.drafts, staged_keys)
        failed = {p.event_key for p in problems if p.severity is Severity.ERROR and p.event_key}
        whole = any(p.severity is Severity.ERROR and not p.event_key for p in problems)
        by_state: dict[str, list[str]] = {}
        for event in items:
            if whole or event.key in failed:
                state = EXCEPTED
            elif event.key in staged_keys:
                state = STAGED
            elif posting.ignored_by is not None:
                state = IGNORED
            else:
                state = APPLIED
            by_state.setdefault(state, []).append(event.key)
        for state, keys in by_state.items():
            self._set_state(conn, keys, state)
        return problems

    def stage_draft(
        self,
        conn: Connection,
        config: Configuration,
        draft: JournalDraft,
        received_at: datetime,
        now: datetime,
    ) -> None:
        """Realtime: a journal now. Batch: subledger lines under the legal entity's open window."""
        if draft.lane is Lane.REALTIME:
            journal = realtime_journal(draft)
            connector = config.legal_entity(draft.legal_entity).connector.name
            ids = journals.insert_journal(
                conn, journal, connector=connector, first_received_at=received_at, now=now
            )
            subledger.insert_lines(
                conn,
                draft,
                journal_id=journal.id,
                window=None,
                received_at=received_at,
                now=now,
                line_ids=None
                if ids is None
                else {line_key(line): i for line, i in zip(journal.lines, ids, strict=True)},
            )
            if ids is not None:
                self._metrics.journals.labels(Lane.REALTIME.value, journals.STAGED).inc()
            return
        window = self._open_window(conn, draft.legal_entity, now)
        subledger.insert_lines(conn, draft, journal_id=None, window=window, received_at=received_at, now=now)
        conn.execute(
            update(batch_windows)
            .where(batch_windows.c.key == window)
            .values(line_count=batch_windows.c.line_count + len(draft.lines))
        )

    def _open_window(self, conn: Connection, legal_entity: str, now: datetime) -> str:
        query = select(batch_windows.c.key).where(
            batch_windows.c.legal_entity == legal_entity, batch_windows.c.closed_at.is_(None)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        key = conn.execute(query).scalar_one_or_none()
        if key is not None:
            return str(key)
        key = window_key(legal_entity, now)
        conn.execute(
            batch_windows.insert().values(key=key, legal_entity=legal_entity, opened_at=now, line_count=0)
        )
        return key

    def _charge_context(
        self,
        conn: Connection,
        items: Sequence[CanonicalEvent],
        drafts: Sequence[JournalDraft],
        staged: set[str],
    ) -> None:
        """Remember what a later reversal of each staged charge must mirror."""
        for event in items:
            if not isinstance(event, ChargeCaptured) or event.key not in staged:
                continue
            for draft in drafts:
                ar = [ln for ln in draft.lines if event.key in ln.event_keys and ln.role in AR_ROLES]
                if ar:
                    dims = ar[0].dimensions
                    _upsert(
                        conn,
                        charge_context,
                        {"facility": dims.facility, "charge_id": event.charge_id[:128]},
                        {
                            "department": event.department[:64],
                            "payer_class": dims.payer_class,
                            "event_key": event.key,
                        },
                    )
                    break

    def _set_state(
        self, conn: Connection, keys: Sequence[str], state: str, *, wait_until: datetime | None = None
    ) -> None:
        for start in range(0, len(keys), 400):
            conn.execute(
                update(events)
                .where(events.c.key.in_(list(keys[start : start + 400])))
                .values(state=state, wait_until=wait_until)
            )

    @staticmethod
    def _received_at(conn: Connection, message_id: str) -> datetime:
        value = conn.execute(select(messages.c.received_at).where(messages.c.id == message_id)).scalar_one()
        assert isinstance(value, datetime)
        return value

    # -- the background loop ----------------------------------------------------------------------

    def tick(self, *, force_windows: bool = False) -> int:
        """Re-apply waiting documents and close due windows; returns how much changed."""
        with self._lock:
            changed = self.retry_waiting()
            changed += self.close_windows(force=force_windows)
        return changed

    def run(self, stop: threading.Event, *, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # the loop must survive a failed tick
                log.warning("posting.tick_failed", error=type(exc).__name__)
            stop.wait(interval)

    def retry_waiting(self) -> int:
        now = self._clock.now()
        with self._db.reading() as conn:
            ids = [
                mid
                for (mid,) in conn.execute(
                    select(messages.c.id).where(messages.c.status == queue.WAITING).order_by(messages.c.id)
                )
            ]
            conn.rollback()
        done = 0
        for message_id in ids:
            done += self._retry_message(message_id, now)
        return done

    def _retry_message(self, message_id: str, now: datetime) -> int:
        with self._db.transaction() as conn:
            lock = select(messages.c.id).where(
                messages.c.id == message_id, messages.c.status == queue.WAITING
            )
            if conn.dialect.name == "postgresql":
                lock = lock.with_for_update(skip_locked=True)
            if conn.execute(lock).first() is None:
                return 0
            rows = conn.execute(
                select(events.c.body, events.c.wait_until)
                .where(events.c.message_id == message_id, events.c.state == WAITING)
                .order_by(events.c.id)
            ).all()
            found = self.configs.current(conn, now.date())
            if found is None or not rows:
                return 0
            _version, config = found
            items = [codec.loads(r.body) for r in rows]
            deadline = min(r.wait_until for r in rows if r.wait_until is not None) if rows else now
            posting = apply(items, config, StoreContext(conn), final=now >= deadline)
            if posting.waiting:
                return 0
            problems = self._stage(conn, config, items, posting, self._received_at(conn, message_id), now)
            problems = [p.with_message_id(message_id) for p in problems]
            errors = sorted({str(p.code) for p in problems if p.severity is Severity.ERROR})
            status = queue.EXCEPTED if errors else queue.PROCESSED
            reason = ", ".join(errors) if errors else f"{len(items)} events after waiting for context"
            workitems.record(conn, problems, now=now, message_id=message_id, facility=items[0].facility)
            conn.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(status=status, terminal_reason=reason, completed_at=now)
            )
        self._metrics.terminal.labels("posting", status).inc()
        return 1

    def close_windows(self, *, force: bool = False) -> int:
        now = self._clock.now()
        closed = 0
        with self._db.transaction() as conn:
            found = self.configs.current(conn, now.date())
            if found is None:
                return 0
            policy = found[1].master.posting.batch_window
            query = select(batch_windows).where(batch_windows.c.closed_at.is_(None))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for window in conn.execute(query).all():
                if force or is_due(policy, opened_at=window.opened_at, line_count=window.line_count, now=now):
                    self._close(conn, found[1], window.key, now)
                    closed += 1
        return closed

    def _close(self, conn: Connection, config: Configuration, key: str, now: datetime) -> None:
        drafts, received = subledger.window_drafts(conn, key)
        for journal in batch_journals(drafts, key):
            subledger.assign_window(conn, key, journal)
            connector = config.legal_entity(journal.legal_entity).connector.name
            first = received.get((journal.legal_entity, journal.posting_date), now)
            if journals.stage_journal(conn, journal, connector=connector, first_received_at=first, now=now):
                self._metrics.journals.labels(Lane.BATCH.value, journals.STAGED).inc()
        conn.execute(update(batch_windows).where(batch_windows.c.key == key).values(closed_at=now))

    def waiting_count(self) -> int:
        with self._db.reading() as conn:
            n = conn.execute(
                select(func.count()).select_from(messages).where(messages.c.status == queue.WAITING)
            )
            return int(n.scalar_one())


def _per_event(problem: Problem, draft: JournalDraft) -> list[Problem]:
    """A draft-level problem (a closed period) reported once per event behind the draft."""
    return [
        Problem(
            code=problem.code,
            message=problem.message,
            where=problem.where,
            severity=problem.severity,
            event_key=key,
            details=problem.details,
        )
        for key in draft.event_keys
    ] or [problem]
