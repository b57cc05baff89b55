"""The outbox dispatcher: staged journals to their ERP, exactly once (DESIGN.md sections 6 and 7).

Each round claims due journals under a lease (store/journals.py), asks the composition root's
``connector_for(legal_entity)`` which connector takes each, and runs the attempts on that
connector's own pool, so its concurrency cap holds. Every ERP call, lookups included, first takes
a token from the connector's bucket (the rate limit) and passes its circuit breaker.

One attempt at one journal:
- if its last attempt was uncertain (the ERP may have it), ``lookup`` first; found -> posted;
- ``submit`` -> ``posted`` with the ERP's document, or ``accepted`` with the ERP's ticket when the
  ERP is asynchronous (then pipeline/follow.py checks it until the ERP says posted or rejected);
- ``ConnectorRejected`` -> ``failed`` and an ERP_REJECTED work item at once, naming the lines the
  ERP named;
- ``ConnectorUnavailable`` -> back to ``staged`` with a jittered exponential delay (never shorter
  than Retry-After, which also pauses the whole connector), still uncertain if this or an earlier
  failure was; after ``max_attempts`` -> ``failed`` and an ERP_UNAVAILABLE work item.
A journal is therefore sent again only after a certain failure or a lookup that did not find it.
A connector with a bulk path (``Bulk``) gets the round's journals of one legal entity in calls of
up to ``batch_size``: one ``lookup_many`` for those that are uncertain, one ``submit_many`` for the
rest, so an ERP that takes uploads sees one upload per legal entity per round.
While a circuit is open, or a pause is longer than ``max_inline_wait``, claimed journals go back
untouched. The breaker's half-open probe does not spend an attempt of the journal it carries: its
failure says the ERP is still down, not that the journal is bad.

The lease must outlast the slowest call (connector timeouts are seconds; the default lease is two
minutes): a journal whose lease runs out is taken over as uncertain and looked up, never re-sent
blindly. Limits hold per dispatcher process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from revbridge.connectors.backoff import Backoff
from revbridge.connectors.base import (
    Answer,
    Bulk,
    Connector,
    ConnectorRejected,
    ConnectorUnavailable,
    Limits,
    Receipt,
    Rejection,
)
from revbridge.connectors.channel import Channel
from revbridge.core.clock import Clock
from revbridge.core.faults import fault_point
from revbridge.core.problem import ProblemCode
from revbridge.core.wakeup import Wakeup
from revbridge.ledger.journal import Journal
from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics
from revbridge.pipeline import attempts, calls
from revbridge.pipeline.attempts import Accepted, Failed, Outcome, Posted, Released, Retry, Waiting
from revbridge.pipeline.follow import Follower
from revbridge.store import Database, journals, outbox

log = get_logger("revbridge.outbox")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxConfig:
    owner: str
    lease: timedelta = timedelta(minutes=2)
    claim_limit: int = 200
    idle_seconds: float = 0.5  # run(): sleep when a round found nothing due
    # run(): after a short round, let journals gather this long: a round is three write
    # transactions, and rounds of one or two took SQLite's writer from intake and the workers
    gather_seconds: float = 0.05
    max_inline_wait: float = 2.0  # shorter pauses are waited out; longer ones release the journal


@dataclass(frozen=True, slots=True)
class _Failure:
    message: str
    uncertain: bool
    retry_after: float | None


class Dispatcher:
    def __init__(
        self,
        db: Database,
        connector_for: Callable[[str], Connector],
        *,
        clock: Clock,
        metrics: Metrics,
        config: OutboxConfig,
        monotonic: Callable[[], float] = time.monotonic,
        staged: Wakeup | None = None,
    ) -> None:
        self._staged = staged  # notified when a worker of this process may have staged journals
        self._db = db
        self._connector_for = connector_for
        self._clock = clock
        self._metrics = metrics
        self.config = config
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._channels: dict[int, Channel] = {}
        self._channels_lock = threading.Lock()
        self._follower = Follower(
            db,
            connector_for,
            self.channel,
            clock=clock,
            metrics=metrics,
            owner=config.owner,
            lease=config.lease,
            limit=config.claim_limit,
            stop=self._stop,
            max_inline_wait=config.max_inline_wait,
        )

    def channel(self, connector: Connector) -> Channel:
        with self._channels_lock:
            found = self._channels.get(id(connector))
            if found is None or found.connector is not connector:
                found = Channel(
                    connector, monotonic=self._monotonic, sleep=self._stop.wait, cancelled=self._stop.is_set
                )
                self._channels[id(connector)] = found
                self._metrics.state.watch_breaker(found.name, found.circuit_open)
            return found

    # -- loops -------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """One round: submit the due journals, then check the accepted ones whose check is due;
        record the outcomes; returns how many journals the round took."""
        outcomes = self._follower.round()
        checked = sum(1 for o in outcomes if not isinstance(o, Released | Waiting))
        try:
            taken = self._submit_round(outcomes)
        finally:
            self._record(outcomes)
        return taken + checked

    def _submit_round(self, outcomes: list[Outcome]) -> int:
        # calls start only in the first half of the lease; the second is for the last call to end
        # and the round to be recorded before another process may take the journals over
        until = self._monotonic() + self.config.lease.total_seconds() / 2
        claims = outbox.claim(
            self._db,
            owner=self.config.owner,
            now=self._clock.now(),
            lease=self.config.lease,
            limit=self.config.claim_limit,
        )
        if not claims:
            return 0
        loaded = journals.load_many(self._db, [c.id for c in claims])
        groups: dict[tuple[int, str], tuple[Channel, list[outbox.Claim]]] = {}
        routes: dict[str, Connector | str] = {}  # asked once per legal entity and round
        for c in claims:
            if c.legal_entity not in routes:
                try:
                    routes[c.legal_entity] = self._connector_for(c.legal_entity)
                except Exception as exc:  # configuration: no connector for this legal entity
                    routes[c.legal_entity] = f"no connector for legal entity {c.legal_entity!r}: {exc}"
            connector = routes[c.legal_entity]
            if isinstance(connector, str):
                outcomes.append(self._unroutable(c, connector))
                continue
            channel = self.channel(connector)
            groups.setdefault((id(channel), c.legal_entity), (channel, []))[1].append(c)
        futures: list[Future[list[Outcome]]] = []
        for channel, group in groups.values():
            if isinstance(channel.connector, Bulk):
                size = max(1, channel.connector.batch_size)
                for start in range(0, len(group), size):
                    chunk = group[start : start + size]
                    futures.append(channel.pool.submit(self._attempt_bulk, channel, chunk, loaded, until))
            else:
                for c in group:
                    futures.append(channel.pool.submit(self._attempt_one, channel, c, loaded[c.id], until))
        wait(futures)
        for future in futures:  # a dispatcher bug must not pass silently
            outcomes.extend(future.result())
        return len(claims)

    def drain(self, *, timeout: float = 60.0) -> int:
        """Run rounds until nothing is due now (retries scheduled later stay for later)."""
        total = 0
        deadline = self._monotonic() + timeout
        while self._monotonic() < deadline:
            n = self.run_once()
            if n == 0:
                break
            total += n
        return total

    def run(self, stop: threading.Event) -> None:
        """Post continuously until ``stop`` is set (``revbridge serve``)."""

        def relay() -> None:
            stop.wait()
            self._stop.set()

        threading.Thread(target=relay, name="outbox-stop", daemon=True).start()
        while not stop.is_set():
            taken = self.run_once()
            if taken == 0:
                if self._staged is not None:
                    self._staged.wait(self.config.idle_seconds)
                else:
                    stop.wait(self.config.idle_seconds)
            elif taken < self.config.claim_limit:
                stop.wait(self.config.gather_seconds)

    def close(self) -> None:
        self._stop.set()
        with self._channels_lock:
            for channel in self._channels.values():
                self._metrics.state.forget_breaker(channel.name, channel.circuit_open)
                channel.close()
            self._channels.clear()

    # -- one attempt -------------------------------------------------------------------------------

    def _attempt_one(
        self, channel: Channel, claim: outbox.Claim, journal: Journal, until: float
    ) -> list[Outcome]:
        return [self._attempt(channel, claim, journal, until)]

    @staticmethod
    def _moved(claim: outbox.Claim, channel: Channel) -> Failed | None:
        """The ERP that may hold the journal is no longer the one configured: a person decides."""
        if claim.uncertain and claim.attempts > 0 and claim.connector != channel.name:
            reason = "connector changed while uncertain"
            return Failed(claim, channel.name, ProblemCode.ERP_UNAVAILABLE, reason, claim.attempts + 1, True)
        return None

    def _attempt(self, channel: Channel, claim: outbox.Claim, journal: Journal, until: float) -> Outcome:
        moved = self._moved(claim, channel)
        if moved is not None:
            return moved
        probe = self._admit(channel)
        if isinstance(probe, float):
            return Released(claim, self._clock.now() + timedelta(seconds=probe))
        uncertain = claim.uncertain
        connector = channel.connector
        try:
            receipt = None
            if uncertain:
                receipt = self._call(channel, calls.found, lambda: connector.lookup(journal.id), until)
                uncertain = receipt is not None
            if receipt is None:
                receipt = self._call(channel, calls.submitted, lambda: connector.submit(journal), until)
        except calls.Stopping:
            channel.breaker.release()
            return Released(claim, self._clock.now())
        except ConnectorRejected as exc:
            channel.breaker.success()  # the ERP answered
            code = ProblemCode.ERP_REJECTED
            return Failed(claim, channel.name, code, str(exc), claim.attempts + 1, uncertain, exc.lines)
        except ConnectorUnavailable as exc:
            failure = _Failure(str(exc), uncertain or exc.uncertain, exc.retry_after)
        except Exception as exc:  # a connector bug: be as careful as with a lost answer
            log.error("connector_error", connector=channel.name, journal=journal.id, error=type(exc).__name__)
            failure = _Failure(f"connector error: {type(exc).__name__}", True, None)
        else:
            assert receipt is not None  # submit returns a receipt or raises
            channel.breaker.success()
            return self._answered(claim, channel, receipt)
        channel.breaker.failure()
        if failure.retry_after:
            channel.pause(failure.retry_after)
        return self._retry_or_fail(claim, channel, failure, probe=probe)

    def _answered(self, claim: outbox.Claim, channel: Channel, answer: Answer) -> Outcome:
        """The ERP's answer for one journal: posted, accepted (followed later) or rejected."""
        now = self._clock.now()
        if isinstance(answer, Rejection):
            code = ProblemCode.ERP_REJECTED
            return Failed(claim, channel.name, code, answer.message, claim.attempts + 1, False, answer.lines)
        if answer.accepted:
            check_at = now + timedelta(seconds=channel.limits.poll_interval)
            return Accepted(claim, channel.name, answer.document, now, check_at)
        return Posted(claim, channel.name, answer.document, now)

    def _attempt_bulk(
        self, channel: Channel, claims: list[outbox.Claim], loaded: dict[str, Journal], until: float
    ) -> list[Outcome]:
        """One bulk call for journals of one legal entity: a lookup of the uncertain ones, then
        one submission of those the ERP does not hold."""
        moved = [m for m in (self._moved(c, channel) for c in claims) if m is not None]
        claims = [c for c in claims if c.id not in {m.claim.id for m in moved}]
        probe = self._admit(channel)
        if isinstance(probe, float):
            at = self._clock.now() + timedelta(seconds=probe)
            return [*moved, *(Released(c, at) for c in claims)]
        connector = channel.connector
        assert isinstance(connector, Bulk)
        answers: dict[str, Answer] = {}
        failure: _Failure | None = None
        try:
            doubtful = [c.id for c in claims if c.uncertain]
            if doubtful:
                found = self._call(channel, calls.found_many, lambda: connector.lookup_many(doubtful), until)
                answers.update({k: v for k, v in found.items() if isinstance(v, Receipt)})
            send = [loaded[c.id] for c in claims if c.id not in answers]
            if send:
                answers.update(
                    self._call(channel, calls.submitted_many, lambda: connector.submit_many(send), until)
                )
        except calls.Stopping:
            channel.breaker.release()
            return [*moved, *(Released(c, self._clock.now()) for c in claims)]
        except ConnectorRejected as exc:  # the upload as a whole was refused
            answers.update(
                {c.id: Rejection(reference=c.id, message=str(exc)) for c in claims if c.id not in answers}
            )
        except ConnectorUnavailable as exc:
            failure = _Failure(str(exc), exc.uncertain, exc.retry_after)
        except Exception as exc:  # a connector bug: be as careful as with a lost answer
            log.error("connector_error", connector=channel.name, error=type(exc).__name__)
            failure = _Failure(f"connector error: {type(exc).__name__}", True, None)
        if failure is None:
            channel.breaker.success()
        else:
            channel.breaker.failure()
            if failure.retry_after:
                channel.pause(failure.retry_after)
        silent = _Failure("the ERP gave no answer for this journal", True, None)
        outcomes: list[Outcome] = list(moved)
        for c in claims:
            answer = answers.get(c.id)
            if answer is not None:
                outcomes.append(self._answered(c, channel, answer))
            else:
                why = failure or silent
                doubt = _Failure(why.message, why.uncertain or c.uncertain, why.retry_after)
                outcomes.append(self._retry_or_fail(c, channel, doubt, probe=probe))
        return outcomes

    def _admit(self, channel: Channel) -> bool | float:
        return calls.admit(channel, self._stop, self.config.max_inline_wait)

    def _call(
        self, channel: Channel, label: Callable[[Any], str], call: Callable[[], Any], until: float
    ) -> Any:
        late = lambda: self._monotonic() > until  # noqa: E731
        return calls.call(channel, self._metrics, self._stop, label, call, late=late)

    def _retry_or_fail(
        self, claim: outbox.Claim, channel: Channel, failure: _Failure, *, probe: bool
    ) -> Outcome:
        attempts = claim.attempts if probe else claim.attempts + 1
        if attempts >= channel.limits.max_attempts:
            code = ProblemCode.ERP_UNAVAILABLE
            return Failed(claim, channel.name, code, failure.message, attempts, failure.uncertain)
        delay = channel.backoff.delay(max(1, attempts), failure.retry_after)
        if probe:
            delay = max(delay, channel.breaker.reset_after)
        at = self._clock.now() + timedelta(seconds=delay)
        return Retry(claim, channel.name, at, attempts, failure.uncertain, failure.message)

    def _unroutable(self, claim: outbox.Claim, message: str) -> Outcome:
        attempts = claim.attempts + 1
        limits = Limits()
        if attempts >= limits.max_attempts:
            return Failed(
                claim, claim.connector, ProblemCode.ERP_UNAVAILABLE, message, attempts, claim.uncertain
            )
        at = self._clock.now() + timedelta(seconds=Backoff.of(limits).delay(attempts))
        return Retry(claim, claim.connector, at, attempts, claim.uncertain, message)

    # -- outcomes ----------------------------------------------------------------------------------

    def _record(self, outcomes: list[Outcome]) -> None:
        """One transaction for the round: on SQLite one fsync instead of one per journal. A crash
        before it commits leaves the round's journals submitting; their leases run out and they
        are taken over as uncertain, so nothing is sent twice."""
        if not outcomes:
            return
        if any(isinstance(o, Posted | Accepted) for o in outcomes):
            fault_point("erp.after_accept")  # torture tests: the ERP has it, we have not noted it
        owner = self.config.owner
        lost: list[str] = []
        opened: list[str] = []
        with self._db.transaction() as tx:
            for outcome in outcomes:
                done, codes = attempts.write(tx, outcome, owner=owner, now=self._clock.now())
                opened += codes
                if not done:
                    lost.append(outcome.claim.id)
        for journal_id in lost:
            log.warning("journal_lease_lost", journal=journal_id)
        for item_code in opened:
            self._metrics.work_items.labels(item_code).inc()
        for outcome in outcomes:
            if outcome.claim.id not in lost:
                attempts.observe(self._metrics, outcome)
