"""The worker: claim messages, parse them, record events, move each message to its next state.

One message is one transaction: its events, its work items, its posting-stage output and its new
status commit together, and only while this worker still holds the message's lease. The one
exception is a large message of several remittances (an 835 interchange, pipeline/remittances.py):
it commits one remittance per transaction and its status with the last. A parser that raises is
a bug or an infrastructure fault: the message is retried with exponential backoff and, after
``max_attempts``, ends ``excepted`` with a PARSER_FAILED work item; the queue behind it flows.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.clock import Clock
from revbridge.core.errors import StoreError
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Outcome, Problem, ProblemCode, Severity
from revbridge.core.tokens import Tokenizer
from revbridge.core.wakeup import Wakeup
from revbridge.formats.base import FIRST, IN_ORDER, SMALL_REMITTANCE_BYTES, Format
from revbridge.observability.logging import bind, get_logger
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.batched import Batched, CommitFailed, LeaseLost, Redo, batched
from revbridge.pipeline.parsing import Parser
from revbridge.pipeline.remittances import commit_parts, remittance_parts
from revbridge.pipeline.status import Done, PostingStage, Result, decide, facility
from revbridge.pipeline.yielding import intake_first
from revbridge.store import Database, Tx, queue
from revbridge.store import events as event_store
from revbridge.store.messages import MessageStore
from revbridge.workqueue import open_items

log = get_logger("revbridge.worker")

# A message with this many events or more is committed in a transaction of its own.
LARGE_MESSAGE_EVENTS = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    owner: str
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 5
    retry_base: float = 2.0
    batch_size: int = 64
    default_currency: str = "USD"


class Worker:
    def __init__(
        self,
        *,
        db: Database,
        store: MessageStore,
        formats: Mapping[str, Format],
        tokenizer: Tokenizer,
        clock: Clock,
        config: WorkerConfig,
        metrics: Metrics,
        posting: PostingStage | None = None,
        arrivals: Wakeup | None = None,
        staged: Wakeup | None = None,
    ) -> None:
        self._arrivals = arrivals  # notified by intake: a message is waiting
        self._staged = staged  # notified here after a commit: journals may be waiting for the outbox
        self._db = db
        self._parser = Parser(
            formats=formats, store=store, tokenizer=tokenizer, default_currency=config.default_currency
        )
        self._clock = clock
        self.config = config
        self._metrics = metrics
        self._posting = posting
        self._yielding = intake_first(db, clock)  # how long it holds SQLite's writer
        self._between = False  # processing small cash between a large message's parts
        self._claimed_between = 0

    # -- loops ---------------------------------------------------------------------------------

    def run_once(self, on_result: Callable[[Result], None] | None = None) -> int:
        """Claim one batch and process it; returns how many messages were claimed (with those
        claimed between a large message's parts)."""
        if held := self._yielding.before_claiming():
            log.info("worker.held_for_burst", seconds=round(held, 3))
        now = self._clock.now()
        claimed = queue.claim(
            self._db,
            owner=self.config.owner,
            now=now,
            lease=self.config.lease,
            limit=self.config.batch_size,
            below=IN_ORDER if self._yielding.cash_only else None,  # cash alone within a hold
        )
        self._yielding.claimed([c.received_at for c in claimed], now, limit=self.config.batch_size)
        self._claimed_between = 0
        for result in self.process_batch(claimed):
            if on_result is not None:
                on_result(result)
        return len(claimed) + self._claimed_between

    def drain(self, on_result: Callable[[Result], None] | None = None) -> int:
        """Process until nothing is claimable now (retries scheduled later are left for later)."""
        total = 0
        while (n := self.run_once(on_result)) > 0:
            total += n
        return total

    def run(self, stop: threading.Event, *, idle_sleep: float = 0.2) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except StoreError as exc:
                log.warning("worker.claim_failed", error=type(exc).__name__)
                busy = 0
            if not busy:
                if self._arrivals is not None:
                    self._arrivals.wait(idle_sleep)
                else:
                    stop.wait(idle_sleep)

    # -- one message ---------------------------------------------------------------------------

    def process(self, message: queue.Claimed) -> Result | None:
        return next(iter(self.process_batch([message])), None)

    def process_batch(self, claimed: Sequence[queue.Claimed]) -> list[Result]:
        """Parse each message, then commit the batch in as few transactions as latency allows
        (one fsync for many small messages), each message under its own savepoint: a store error
        or a lost lease undoes that message alone, and nothing of a message commits without its
        new status. A large message (an ERA of thousands of claims) is parsed when its turn comes,
        after the small ones, and commits on its own; small cash that arrives while it is worked
        on goes between its parts and after it (``_cash_between``), so a patient's payment is
        not held for a payer's ERAs."""
        started = time.perf_counter()
        small = list[tuple[queue.Claimed, Outcome[CanonicalEvent]]]()
        large = list[tuple[queue.Claimed, Outcome[CanonicalEvent] | None]]()  # None: parsed later
        for message in claimed:
            if message.size >= SMALL_REMITTANCE_BYTES:
                large.append((message, None))
                continue
            with bind(message_id=message.id):
                outcome = self._parse(message)
            if outcome is not None:
                (small if len(outcome.items) < LARGE_MESSAGE_EVENTS else large).append((message, outcome))
        results, failed, opened = list[Result](), list[tuple[queue.Claimed, str]](), list[str]()
        if small:
            self._commit_group(small, results, failed, opened)
        for message, parsed in large:
            self._commit_large(message, parsed, results, failed, opened)
        for message, reason in failed:
            self._retry(message, reason)
        elapsed = (time.perf_counter() - started) / max(1, len(claimed))
        formats = {m.id: m.format for m in claimed}
        for result in results:
            if (fmt := formats.get(result.message_id)) is None:
                continue  # claimed between a large message's parts: counted by its own batch
            self._metrics.terminal.labels(fmt, result.status).inc()
            self._metrics.processing.labels(fmt).observe(elapsed)
            log.info(
                "message.done",
                message_id=result.message_id,
                status=result.status,
                events=result.events,
                problems=len(result.problems),
            )
        for code in opened:
            self._metrics.work_items.labels(code).inc()
        return results

    def _commit_large(
        self,
        message: queue.Claimed,
        outcome: Outcome[CanonicalEvent] | None,
        results: list[Result],
        failed: list[tuple[queue.Claimed, str]],
        opened: list[str],
    ) -> None:
        if outcome is None:
            with bind(message_id=message.id):
                outcome = self._parse(message)
            if outcome is None:
                return
        parts = remittance_parts(outcome) if len(outcome.items) >= LARGE_MESSAGE_EVENTS else [outcome]
        if len(parts) == 1:
            self._commit_group([(message, outcome)], results, failed, opened)
            results.extend(self._cash_between())
            return
        done = commit_parts(
            self._db,
            self._clock,
            owner=self.config.owner,
            message=message,
            outcome=outcome,
            parts=parts,
            record=lambda tx, part, now: self._record_and_post(tx, message, part, facility(outcome), now),
            between=lambda: results.extend(self._cash_between()),
        )
        opened.extend(done.opened)
        if done.result is not None:
            results.append(done.result)
        if done.failure is not None:
            failed.append((message, done.failure))

    def _cash_between(self) -> list[Result]:
        """Small cash (formats/base.py SMALL_CASH: portal payments, refunds, small remittances)
        stored since this batch was claimed, processed between the parts of a large message and
        after it; its results go with the batch's."""
        if self._staged is not None:
            self._staged.notify()
        if self._between:
            return []
        owner, lease, limit = self.config.owner, self.config.lease, self.config.batch_size
        try:  # a failure here is not the large message's: it goes on, the cash waits its turn
            now = self._clock.now()
            if not queue.any_due(self._db, now, below=FIRST):
                return []
            claimed = queue.claim(self._db, owner=owner, now=now, lease=lease, limit=limit, below=FIRST)
        except StoreError as exc:
            log.warning("worker.claim_failed", error=type(exc).__name__)
            return []
        if not claimed:
            return []
        self._claimed_between += len(claimed)
        self._between = True
        try:
            return self.process_batch(claimed)
        finally:
            self._between = False

    def _commit_group(
        self,
        group: Sequence[tuple[queue.Claimed, Outcome[CanonicalEvent]]],
        results: list[Result],
        failed: list[tuple[queue.Claimed, str]],
        opened: list[str],
    ) -> None:
        """Commit ``group`` in transactions of about 15 ms each (pipeline/yielding.py), appending to the
        caller's lists. A transaction runs without savepoints; if a message fails in it, it is
        undone and run again with a savepoint per message, so the failure undoes that one alone."""
        start = 0
        while start < len(group):
            rest = group[start:]
            try:
                try:
                    taken = self._commit_run(rest, results, failed, opened, guarded=False)
                except Redo:
                    taken = self._commit_run(rest, results, failed, opened, guarded=True)
            except CommitFailed as exc:
                # Nothing of it is stored; its messages retry (all the rest if it took none).
                taken = exc.taken or len(rest)
                failed.extend((m, exc.reason) for m, _ in rest[:taken])
            start += taken

    def _commit_run(
        self,
        group: Sequence[tuple[queue.Claimed, Outcome[CanonicalEvent]]],
        results: list[Result],
        failed: list[tuple[queue.Claimed, str]],
        opened: list[str],
        *,
        guarded: bool,
    ) -> int:
        """One transaction over the head of ``group`` until its time is up; returns how many it
        took. Unguarded, a message's failure raises Redo (the transaction is undone)."""
        done: list[Result] = []
        codes: list[str] = []
        errors: list[tuple[queue.Claimed, str]] = []
        taken = 0
        self._yielding.before_writing()
        started = time.perf_counter()
        try:
            with self._db.transaction() as tx:
                now = self._clock.now()
                with nullcontext(None) if guarded else batched(tx, group, self.config.owner) as batch:
                    for message, outcome in group:
                        taken += 1
                        committed = self._commit_one(tx, message, outcome, now, errors, batch, guarded)
                        if committed is not None:
                            done.append(committed[0])
                            codes.extend(committed[1])
                        if self._yielding.time_is_up(time.perf_counter() - started):
                            break
                    if batch is not None:
                        batch.flush(now)
        except StoreError as exc:
            raise CommitFailed(taken, str(exc)) from exc
        results.extend(done)
        opened.extend(codes)
        failed.extend(errors)
        if done and self._staged is not None:
            self._staged.notify()
        return taken

    def _commit_one(
        self,
        tx: Tx,
        message: queue.Claimed,
        outcome: Outcome[CanonicalEvent],
        now: datetime,
        errors: list[tuple[queue.Claimed, str]],
        batch: Batched | None,
        guarded: bool,
    ) -> tuple[Result, list[str]] | None:
        if not guarded:
            try:
                return self._commit(tx, message, outcome, now, batch)
            except (StoreError, LeaseLost) as exc:
                raise Redo from exc
        try:
            with Database.savepoint(tx):
                return self._commit(tx, message, outcome, now, None)
        except StoreError as exc:
            errors.append((message, str(exc)))
        except LeaseLost:
            log.warning("message.lease_lost", message_id=message.id)
        return None

    def _parse(self, message: queue.Claimed) -> Outcome[CanonicalEvent] | None:
        """The message's events and problems; None when the parser raised (retried later)."""
        try:
            return self._parser.parse(message)
        except Exception as exc:
            # Only the exception's type is recorded: its text could quote the payload.
            reason = f"{message.format} parser raised {type(exc).__name__}"
            if message.attempts >= self.config.max_attempts:
                where = SourceRef(message.id)
                failed = Problem(
                    code=ProblemCode.PARSER_FAILED,
                    message=f"{reason} on {message.attempts} attempts",
                    where=where,
                )
                return Outcome(problems=(failed,))
            self._retry(message, reason)
            return None

    def _retry(self, message: queue.Claimed, reason: str) -> None:
        delay = self.config.retry_base * (2 ** (message.attempts - 1)) * (0.5 + random.random())
        at = self._clock.now() + timedelta(seconds=delay)
        queue.retry_later(self._db, message.id, owner=self.config.owner, at=at, reason=reason)
        self._metrics.retries.labels(message.format).inc()
        log.warning("message.retry", reason=reason, attempt=message.attempts, delay_seconds=round(delay, 3))

    def _commit(
        self,
        tx: Tx,
        message: queue.Claimed,
        outcome: Outcome[CanonicalEvent],
        now: datetime,
        batch: Batched | None,
    ) -> tuple[Result, list[str]]:
        """One message's events, posting, work items and status; raises LeaseLost if the lease
        was lost (the caller's savepoint then undoes what was written). In a ``batch`` its writes
        and its status go with the transaction's other messages' (pipeline/batched.py)."""
        if batch is not None:
            batch.lock(message.id)
        elif not queue.lock_lease(tx, message.id, self.config.owner):
            raise LeaseLost
        # An error that names no event (a broken envelope, a DFT without an encounter) holds
        # the whole message: its events are kept, nothing posts until it is fixed and replayed.
        held = any(p.severity is Severity.ERROR and p.event_key is None for p in outcome.problems)
        done = self._record_and_post(tx, message, outcome, facility(outcome), now, post=not held)
        status, reason = decide(outcome, done.recorded, done.problems, done.waiting)
        if batch is not None:
            batch.finish(message.id, status, reason)
        elif not queue.finish(tx, message.id, owner=self.config.owner, status=status, reason=reason, now=now):
            raise LeaseLost
        return Result(message.id, status, tuple(done.problems), len(done.recorded.new)), done.opened

    def _record_and_post(
        self,
        tx: Tx,
        message: queue.Claimed,
        part: Outcome[CanonicalEvent],
        facility: str | None,
        now: datetime,
        *,
        post: bool = True,
    ) -> Done:
        recorded = event_store.record(tx, part.items, message_id=message.id, now=now)
        problems = [p.with_message_id(message.id) for p in (*part.problems, *recorded.problems)]
        waiting = False
        if self._posting is not None and recorded.new and post:
            posted_problems, waiting = self._posting.on_events(
                tx, recorded.new, message_id=message.id, received_at=message.received_at
            )
            problems.extend(posted_problems)
        opened = [i.code for i in open_items(tx, problems, now=now, message_id=message.id, facility=facility)]
        return Done(recorded, problems, waiting, opened)
