"""Following journals an asynchronous ERP accepted until it says posted or rejected.

An ERP that answers "accepted, working on it" (Oracle's ESS jobs, the F&O DMF import, NetSuite's
async jobs) leaves the journal ``accepted`` with the ERP's ticket. Each round, ``Follower``
claims the accepted journals whose check is due (store/outbox.py ``claim_checks``) and asks each
connector about them in one ``check`` call per connector, under the same channel (rate limit,
breaker, pool) as the submissions:
- the ERP says posted -> ``posted`` with the ERP's document;
- the ERP says rejected -> ``failed`` and an ERP_REJECTED work item with the ERP's own message and
  the journal lines it named;
- still working, or the ERP could not be asked -> checked again later: the wait grows with the
  job's age, from ``poll_interval`` to ten times it;
- no end ``poll_deadline`` seconds after acceptance -> ``failed`` with an ERP_UNAVAILABLE work
  item. The journal stays uncertain, so a retry after a person looked looks it up first and
  never sends a second copy of what the ERP may still finish.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, wait
from datetime import datetime, timedelta

from revbridge.connectors.base import (
    ACCEPTED,
    Answer,
    Connector,
    ConnectorError,
    Follows,
    Limits,
    Receipt,
    Rejection,
)
from revbridge.connectors.channel import Channel
from revbridge.core.clock import Clock
from revbridge.core.problem import ProblemCode
from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics
from revbridge.pipeline import calls
from revbridge.pipeline.attempts import Failed, Outcome, Posted, Released, Waiting
from revbridge.store import Database, outbox

log = get_logger("revbridge.outbox")


def next_check(accepted_at: datetime, now: datetime, interval: float) -> datetime:
    """The next check of a job accepted at ``accepted_at``: its age from now, bounded by
    ``interval`` and ten times it, so a long job is asked about less often as it ages."""
    age = max(0.0, (now - accepted_at).total_seconds())
    return now + timedelta(seconds=min(max(age, interval), interval * 10))


def judge(
    claim: outbox.Claim,
    connector: str,
    answer: Answer | None,
    *,
    now: datetime,
    interval: float,
    deadline: float,
    error: str | None,
) -> Outcome:
    """What one check decided for one accepted journal (pure)."""
    if isinstance(answer, Rejection):
        code = ProblemCode.ERP_REJECTED
        return Failed(claim, connector, code, answer.message, claim.attempts, False, answer.lines)
    if isinstance(answer, Receipt) and not answer.accepted:
        return Posted(claim, connector, answer.document, now)
    accepted_at = claim.accepted_at or now
    if (now - accepted_at).total_seconds() >= deadline:
        reason = f"the ERP's job {claim.ticket} did not end within {deadline:g} s"
        if error:
            reason += f"; the last check failed: {error}"
        return Failed(claim, connector, ProblemCode.ERP_UNAVAILABLE, reason, claim.attempts, True)
    at_deadline = accepted_at + timedelta(seconds=deadline)  # the last check falls on it
    return Waiting(claim, min(next_check(accepted_at, now, interval), at_deadline), error)


class Follower:
    """Checks accepted journals on the dispatcher's channels (``channel_for`` builds or finds the
    channel of a connector) and returns the outcomes for the dispatcher to record."""

    def __init__(
        self,
        db: Database,
        connector_for: Callable[[str], Connector],
        channel_for: Callable[[Connector], Channel],
        *,
        clock: Clock,
        metrics: Metrics,
        owner: str,
        lease: timedelta,
        limit: int,
        stop: threading.Event,
        max_inline_wait: float,
    ) -> None:
        self._db = db
        self._connector_for = connector_for
        self._channel_for = channel_for
        self._clock = clock
        self._metrics = metrics
        self._owner = owner
        self._lease = lease
        self._limit = limit
        self._stop = stop
        self._max_inline_wait = max_inline_wait

    def round(self) -> list[Outcome]:
        """Claim the due checks, ask each connector once about its share, decide each journal."""
        claims = outbox.claim_checks(
            self._db, owner=self._owner, now=self._clock.now(), lease=self._lease, limit=self._limit
        )
        outcomes: list[Outcome] = []
        groups: dict[int, tuple[Channel, list[outbox.Claim]]] = {}
        for claim in claims:
            try:
                connector = self._connector_for(claim.legal_entity)
            except Exception as exc:  # configuration: keep asking later, until the deadline
                outcomes.append(self._unasked(claim, claim.connector, f"no connector: {exc}"))
                continue
            if not isinstance(connector, Follows):
                reason = f"connector {connector.name} cannot follow a journal the ERP accepted"
                outcomes.append(self._unasked(claim, connector.name, reason))
                continue
            channel = self._channel_for(connector)
            groups.setdefault(id(channel), (channel, []))[1].append(claim)
        futures: list[Future[list[Outcome]]] = [
            channel.pool.submit(self._check, channel, group) for channel, group in groups.values()
        ]
        wait(futures)
        for future in futures:
            outcomes.extend(future.result())
        return outcomes

    def _unasked(self, claim: outbox.Claim, connector: str, error: str) -> Outcome:
        """A journal whose connector cannot be asked: waits, under the default limits, until a
        fixed configuration can ask or the deadline makes it a work item."""
        defaults = Limits()
        now = self._clock.now()
        interval, deadline = defaults.poll_interval, defaults.poll_deadline
        return judge(claim, connector, None, now=now, interval=interval, deadline=deadline, error=error)

    def _check(self, channel: Channel, claims: Sequence[outbox.Claim]) -> list[Outcome]:
        probe = calls.admit(channel, self._stop, self._max_inline_wait)
        if isinstance(probe, float):
            at = self._clock.now() + timedelta(seconds=probe)
            return [Released(c, at) for c in claims]
        connector = channel.connector
        assert isinstance(connector, Follows)
        tickets = [Receipt(reference=c.id, document=c.ticket or "", status=ACCEPTED) for c in claims]
        answers: Mapping[str, Answer] = {}
        error: str | None = None
        try:
            answers = calls.call(
                channel, self._metrics, self._stop, lambda _found: "checked", lambda: connector.check(tickets)
            )
        except calls.Stopping:
            channel.breaker.release()
            return [Released(c, self._clock.now()) for c in claims]
        except ConnectorError as exc:
            error = str(exc)
            channel.breaker.failure()
            if getattr(exc, "retry_after", None):
                channel.pause(float(exc.retry_after))  # type: ignore[attr-defined]
        except Exception as exc:  # a connector bug: the jobs are still the ERP's; ask again later
            log.error("connector_error", connector=channel.name, error=type(exc).__name__)
            error = f"connector error: {type(exc).__name__}"
            channel.breaker.failure()
        else:
            channel.breaker.success()
        now = self._clock.now()
        limits = channel.limits
        return [
            judge(
                c,
                channel.name,
                answers.get(c.id),
                now=now,
                interval=limits.poll_interval,
                deadline=limits.poll_deadline,
                error=error,
            )
            for c in claims
        ]
