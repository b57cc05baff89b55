"""The outbox dispatcher: staged journals to their ERP, exactly once (DESIGN.md sections 6 and 7).

Each round claims due journals under a lease (store/journals.py), asks the composition root's
``connector_for(legal_entity)`` which connector takes each, and runs the attempts on that
connector's own pool, so its concurrency cap holds. Every ERP call, lookups included, first takes
a token from the connector's bucket (the rate limit) and passes its circuit breaker.

One attempt at one journal:
- if its last attempt was uncertain (the ERP may have it), ``lookup`` first; found -> posted;
- ``submit`` -> ``posted`` with the ERP's document;
- ``ConnectorRejected`` -> ``failed`` and an ERP_REJECTED work item at once;
- ``ConnectorUnavailable`` -> back to ``staged`` with a jittered exponential delay (never shorter
  than Retry-After, which also pauses the whole connector), still uncertain if this or an earlier
  failure was; after ``max_attempts`` -> ``failed`` and an ERP_UNAVAILABLE work item.
A journal is therefore sent again only after a certain failure or a lookup that did not find it.
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

from revbridge.connectors.backoff import Backoff
from revbridge.connectors.base import Connector, ConnectorRejected, ConnectorUnavailable, Limits, Receipt
from revbridge.connectors.channel import Channel
from revbridge.core.clock import Clock
from revbridge.core.problem import ProblemCode
from revbridge.core.wakeup import Wakeup
from revbridge.ledger.journal import Journal
from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics
from revbridge.pipeline import attempts
from revbridge.pipeline.attempts import Failed, Outcome, Posted, Released, Retry
from revbridge.store import Database, journals, outbox

log = get_logger("revbridge.outbox")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxConfig:
    owner: str
    lease: timedelta = timedelta(minutes=2)
    claim_limit: int = 200
    idle_seconds: float = 0.5  # run(): sleep when a round found nothing due
    max_inline_wait: float = 2.0  # shorter pauses are waited out; longer ones release the journal


class _Stopping(Exception):
    """The dispatcher is stopping while an attempt waited for a token: nothing was called."""


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

    def channel(self, connector: Connector) -> Channel:
        with self._channels_lock:
            found = self._channels.get(id(connector))
            if found is None or found.connector is not connector:
                found = Channel(connector, monotonic=self._monotonic, sleep=self._stop.wait)
                self._channels[id(connector)] = found
            return found

    # -- loops -------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim one round of due journals, see each through one attempt, record the outcomes;
        returns how many journals the round took."""
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
        outcomes: list[Outcome] = []
        futures: list[Future[Outcome]] = []
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
            futures.append(channel.pool.submit(self._attempt, channel, c, loaded[c.id]))
        wait(futures)
        try:
            outcomes.extend(f.result() for f in futures)  # a dispatcher bug must not pass silently
        finally:
            self._record(outcomes)
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
            if self.run_once() == 0:
                if self._staged is not None:
                    self._staged.wait(self.config.idle_seconds)
                else:
                    stop.wait(self.config.idle_seconds)

    def close(self) -> None:
        self._stop.set()
        with self._channels_lock:
            for channel in self._channels.values():
                channel.pool.shutdown(wait=True)
            self._channels.clear()

    # -- one attempt -------------------------------------------------------------------------------

    def _attempt(self, channel: Channel, claim: outbox.Claim, journal: Journal) -> Outcome:
        if claim.uncertain and claim.attempts > 0 and claim.connector != channel.name:
            # the ERP that may hold the journal is no longer the one configured: a person decides
            reason = "connector changed while uncertain"
            return Failed(claim, channel.name, ProblemCode.ERP_UNAVAILABLE, reason, claim.attempts + 1, True)
        probe = self._admit(channel)
        if isinstance(probe, float):
            return Released(claim, self._clock.now() + timedelta(seconds=probe))
        uncertain = claim.uncertain
        try:
            receipt = None
            if uncertain:
                receipt = self._call(channel, "lookup", lambda: channel.connector.lookup(journal.id))
                uncertain = receipt is not None
            if receipt is None:
                receipt = self._call(channel, "submit", lambda: channel.connector.submit(journal))
        except _Stopping:
            channel.breaker.release()
            return Released(claim, self._clock.now())
        except ConnectorRejected as exc:
            channel.breaker.success()  # the ERP answered
            return Failed(
                claim, channel.name, ProblemCode.ERP_REJECTED, str(exc), claim.attempts + 1, uncertain
            )
        except ConnectorUnavailable as exc:
            failure = _Failure(str(exc), uncertain or exc.uncertain, exc.retry_after)
        except Exception as exc:  # a connector bug: be as careful as with a lost answer
            log.error("connector_error", connector=channel.name, journal=journal.id, error=type(exc).__name__)
            failure = _Failure(f"connector error: {type(exc).__name__}", True, None)
        else:
            assert receipt is not None  # submit returns a receipt or raises
            channel.breaker.success()
            return Posted(claim, channel.name, receipt.document, self._clock.now())
        channel.breaker.failure()
        if failure.retry_after:
            channel.pause(failure.retry_after)
        return self._retry_or_fail(claim, channel, failure, probe=probe)

    def _admit(self, channel: Channel) -> bool | float:
        """Wait out a short pause or open circuit. True or False: go (True if this attempt is the
        breaker's half-open probe); a float: give the journal back for that many seconds."""
        while True:
            paused = channel.paused_for()
            if paused == 0:
                admission = channel.breaker.allow()
                if admission.wait == 0:
                    return admission.probe
                paused = admission.wait
            if paused > self.config.max_inline_wait or self._stop.is_set():
                return float(paused)
            self._stop.wait(paused)

    def _call(self, channel: Channel, what: str, call: Callable[[], Receipt | None]) -> Receipt | None:
        if not channel.bucket.acquire(cancelled=self._stop.is_set):
            raise _Stopping
        calls = self._metrics.erp_calls
        try:
            result = call()
        except ConnectorRejected:
            calls.labels(channel.name, "rejected").inc()
            raise
        except ConnectorUnavailable as exc:
            calls.labels(channel.name, "uncertain" if exc.uncertain else "unavailable").inc()
            raise
        except Exception:
            calls.labels(channel.name, "error").inc()
            raise
        if what == "lookup":
            calls.labels(channel.name, "found" if result is not None else "not_found").inc()
        else:
            calls.labels(channel.name, "posted").inc()
        return result

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
                self._observe(outcome)

    def _observe(self, outcome: Outcome) -> None:
        lane = outcome.claim.lane
        match outcome:
            case Posted(claim, _connector, _document, at):
                self._metrics.journals.labels(lane, journals.POSTED).inc()
                waited = (at - claim.first_received_at).total_seconds()
                self._metrics.receipt_to_posted.labels(lane).observe(max(0.0, waited))
            case Retry(claim, connector, at, attempts, uncertain, error):
                self._metrics.journals.labels(lane, "retry").inc()
                log.info(
                    "journal_retry",
                    journal=claim.id,
                    connector=connector,
                    attempts=attempts,
                    at=at.isoformat(),
                    uncertain=uncertain,
                    reason=error,
                )
            case Failed(claim, connector, code, error, _attempts, _uncertain):
                self._metrics.journals.labels(lane, journals.FAILED).inc()
                log.warning(
                    "journal_failed", journal=claim.id, connector=connector, code=str(code), reason=error
                )
            case Released():
                pass
