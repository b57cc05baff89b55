"""The publisher loop: claim unsent announcements from the event outbox under a lease, send each
as a CloudEvent to the sink, mark the delivered ones sent; a failed send is retried after an
exponential backoff (``retry_base`` doubling per attempt, capped at ``retry_max``).

At least once: an announcement is marked sent only after the sink confirmed it, so a publisher
that dies between the two sends it again after its lease runs out (same event id). Several
publishers may share a PostgreSQL store (SKIP LOCKED claims). It runs as one of the service's
background loops (``run``, its own asyncio loop in a thread) or a round at a time (``publish``).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import timedelta

from revbridge.core.clock import Clock
from revbridge.events.cloudevent import envelope, serialise
from revbridge.events.sinks import Sink, SinkError
from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics
from revbridge.store import Database, announcements

log = get_logger("revbridge.events")


@dataclass(frozen=True, slots=True, kw_only=True)
class PublisherConfig:
    owner: str
    source: str = "/revbridge"
    batch: int = 100
    lease: timedelta = timedelta(seconds=60)
    poll_seconds: float = 1.0
    retry_base: float = 1.0
    retry_max: float = 300.0


def backoff(attempts: int, *, base: float, cap: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones: base, 2 base, 4 base, ... cap."""
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


class Publisher:
    def __init__(
        self, db: Database, sink: Sink, *, clock: Clock, metrics: Metrics, config: PublisherConfig
    ) -> None:
        self._db = db
        self._sink = sink
        self._clock = clock
        self._metrics = metrics
        self._config = config

    async def publish(self) -> int:
        """One round: send what is due now; returns how many were delivered."""
        c = self._config
        now = self._clock.now()
        claimed = await asyncio.to_thread(
            announcements.claim, self._db, owner=c.owner, now=now, lease=c.lease, limit=c.batch
        )
        sent: list[int] = []
        for pending in claimed:
            body = serialise(envelope(pending, source=c.source))
            try:
                await self._sink.send(pending.event_id, pending.kind, body)
            except SinkError as exc:
                await self._failed(pending, str(exc))
                continue
            sent.append(pending.seq)
            self._metrics.events_published.labels(self._sink.name, pending.kind).inc()
        await asyncio.to_thread(announcements.mark_sent, self._db, sent, owner=c.owner, now=self._clock.now())
        await self._observe_backlog()
        return len(sent)

    async def _failed(self, pending: announcements.Pending, reason: str) -> None:
        c = self._config
        attempts = pending.attempts + 1
        delay = backoff(attempts, base=c.retry_base, cap=c.retry_max)
        at = self._clock.now() + timedelta(seconds=delay)
        await asyncio.to_thread(
            announcements.retry_later, self._db, pending, owner=c.owner, at=at, error=reason
        )
        self._metrics.events_failed.labels(self._sink.name).inc()
        log.warning(
            "event_send_failed",
            event_id=pending.event_id,
            type=pending.kind,
            attempts=attempts,
            retry_in=delay,
            reason=reason,
        )

    async def _observe_backlog(self) -> None:
        waiting = await asyncio.to_thread(announcements.backlog, self._db)
        self._metrics.events_unsent.set(waiting.unsent)
        lag = (self._clock.now() - waiting.oldest).total_seconds() if waiting.oldest else 0.0
        self._metrics.events_lag.set(max(0.0, lag))

    async def serve(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set: at once while there is more, else every poll interval."""
        try:
            while not stop.is_set():
                try:
                    delivered = await self.publish()
                except Exception as exc:  # the store unavailable: keep going, say why by type
                    log.warning("event_round_failed", reason=type(exc).__name__)
                    delivered = 0
                if delivered < self._config.batch:
                    await asyncio.to_thread(stop.wait, self._config.poll_seconds)
        finally:
            await self._sink.close()

    def run(self, stop: threading.Event) -> None:
        """The service's background loop (a thread with its own asyncio loop)."""
        asyncio.run(self.serve(stop))
