"""The posting stage's effects: load what ``rules.post`` needs, call it, write what it returns.

``post`` (rules/posting.py) decides everything about money; this module only reads the context
it needs (the encounters and charges the events name, the period calendar), calls it, and writes
its answer: encounter context, subledger rows, realtime journals, rows waiting in a batch window,
event states. ``on_events`` runs inside the worker's transaction for each message, so a message's
events, its subledger rows, its realtime journal and its new status commit together.

The background loop (``tick``) applies waiting documents again once their context may have come
(with ``final`` once the configured wait has passed, which turns each wait into a problem) and
closes the batch windows that are due, staging their journals.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.clock import Clock
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.ledger.period import PeriodCalendar
from revbridge.ledger.window import is_due
from revbridge.masterdata.configuration import Configuration
from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics
from revbridge.rules import Context, Posted, Standing, close_window, needs, post
from revbridge.rules.context import is_context
from revbridge.rules.posting import Staged
from revbridge.store import (
    Database,
    Tx,
    configs,
    context,
    events,
    journals,
    periods,
    queue,
    subledger,
    windows,
)
from revbridge.workqueue import open_items

log = get_logger("revbridge.posting")


def context_for(
    tx: Tx,
    items: Sequence[CanonicalEvent],
    configs_: Sequence[Configuration],
    *,
    final: bool,
    standing: Standing | None = None,
) -> Context:
    """What ``post`` may look up for ``items`` under any of ``configs_`` (a what-if compares
    two), read inside ``tx``."""
    encounters: set[tuple[str, str]] = set()
    charges: set[tuple[str, str]] = set()
    for config in configs_:
        wanted = needs(items, config)
        encounters |= wanted.encounters
        charges |= wanted.charges
    posting = any(not is_context(event) for event in items)
    return Context(
        encounters=context.encounters(tx, encounters),
        charges=context.charges(tx, charges),
        calendar=periods.calendar(tx) if posting else PeriodCalendar(),
        final=final,
        standing=standing,
    )


class Poster:
    def __init__(self, db: Database, clock: Clock, metrics: Metrics) -> None:
        self._db = db
        self._clock = clock
        self._metrics = metrics
        self.configs = configs.ConfigCache(db)
        self._lock = threading.Lock()

    # -- the worker's hook ----------------------------------------------------------------------

    def on_events(
        self, tx: Tx, new: Sequence[CanonicalEvent], *, message_id: str, received_at: datetime | None = None
    ) -> tuple[Sequence[Problem], bool]:
        now = self._clock.now()
        found = self.configs.current(tx, now.date())
        if found is None:
            return [
                Problem(
                    code=ProblemCode.CONFIGURATION_MISSING,
                    message="no approved configuration is in effect: run `revbridge config apply`",
                    where=SourceRef(message_id),
                )
            ], False
        config = found[1]
        posted = post(new, config, context_for(tx, new, [config], final=False))
        self.write(tx, config, posted, message_id=message_id, now=now, received_at=received_at)
        return list(posted.problems), bool(posted.waiting)

    def journal_counts(self) -> dict[str, int]:
        return journals.counts(self._db)

    def write(
        self,
        tx: Tx,
        config: Configuration,
        posted: Posted,
        *,
        message_id: str,
        now: datetime,
        received_at: datetime | None = None,
    ) -> None:
        """Write what ``post`` decided; ``received_at`` (when the message came) dates the
        journals' first receipt, read from the message when not given."""
        context.change_encounters(tx, posted.encounters, now=now)
        if posted.waiting:
            events.set_states(tx, posted.states, wait_until=now + config.master.posting.context_wait)
            return
        if posted.staged:
            received = received_at or queue.received_at(tx, message_id)
            joined = self._join_windows(tx, posted.staged, now)
            for item in posted.staged:
                self._stage(tx, config, item, received, now, joined)
        context.remember_charges(tx, posted.charges)
        events.set_states(tx, posted.states)

    @staticmethod
    def _join_windows(tx: Tx, staged: Sequence[Staged], now: datetime) -> dict[str, str]:
        """The open window of each legal entity the batch drafts are for, joined once (one
        statement per legal entity, not per draft; nothing written on the window's row)."""
        entities = sorted({item.draft.legal_entity for item in staged if item.journal is None})
        return {entity: windows.join(tx, entity, now=now) for entity in entities}

    def _stage(
        self,
        tx: Tx,
        config: Configuration,
        item: Staged,
        received: datetime,
        now: datetime,
        joined: dict[str, str],
    ) -> None:
        """Realtime: its journal now. Batch: subledger rows under the legal entity's open window."""
        draft = item.draft
        if item.journal is None:
            window = joined[draft.legal_entity]
            subledger.insert_lines(tx, draft, journal_id=None, window=window, received_at=received, now=now)
            return
        connector = config.legal_entity(draft.legal_entity).connector.name
        if journals.stage_realtime(
            tx, draft, item.journal, connector=connector, first_received_at=received, now=now
        ):
            self._metrics.journals.labels(draft.lane.value, journals.STAGED).inc()

    # -- the background loop ----------------------------------------------------------------------

    def tick(self, *, force_windows: bool = False) -> int:
        """Apply waiting documents again and close due windows; returns how much changed."""
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
        return sum(self._retry_message(message_id, now) for message_id in queue.waiting_ids(self._db))

    def _retry_message(self, message_id: str, now: datetime) -> int:
        with self._db.transaction() as tx:
            if not queue.take_waiting(tx, message_id):
                return 0
            waiting = events.waiting(tx, message_id)
            found = self.configs.current(tx, now.date())
            if found is None or not waiting.events:
                return 0
            config = found[1]
            final = now >= (waiting.until or now)
            posted = post(waiting.events, config, context_for(tx, waiting.events, [config], final=final))
            if posted.waiting:
                return 0
            self.write(tx, config, posted, message_id=message_id, now=now)
            problems = [p.with_message_id(message_id) for p in posted.problems]
            errors = sorted({str(p.code) for p in problems if p.severity is Severity.ERROR})
            status = queue.EXCEPTED if errors else queue.PROCESSED
            reason = (
                ", ".join(errors) if errors else f"{len(waiting.events)} events after waiting for context"
            )
            facility = waiting.events[0].facility
            open_items(tx, problems, now=now, message_id=message_id, facility=facility)
            queue.settle(tx, message_id, status=status, reason=reason, now=now)
        self._metrics.terminal.labels("posting", status).inc()
        return 1

    def close_windows(self, *, force: bool = False) -> int:
        now = self._clock.now()
        closed = 0
        with self._db.transaction() as tx:
            found = self.configs.current(tx, now.date())
            if found is None:
                return 0
            config = found[1]
            policy = config.master.posting.batch_window
            for window in windows.open_windows(tx):
                if force or is_due(policy, opened_at=window.opened_at, line_count=window.line_count, now=now):
                    self._close(tx, config, window.key, now)
                    closed += 1
        return closed

    def _close(self, tx: Tx, config: Configuration, key: str, now: datetime) -> None:
        drafts, received = subledger.window_drafts(tx, key)
        lines = sum(len(draft.lines) for draft in drafts)
        for journal in close_window(drafts, key):
            subledger.assign_window(tx, key, journal)
            connector = config.legal_entity(journal.legal_entity).connector.name
            first = received.get((journal.legal_entity, journal.posting_date), now)
            if journals.stage_journal(tx, journal, connector=connector, first_received_at=first, now=now):
                self._metrics.journals.labels(journal.lane.value, journals.STAGED).inc()
        windows.close(tx, key, now=now, line_count=lines)
