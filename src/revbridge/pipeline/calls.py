"""How every ERP call of the outbox passes a connector's limits: ``admit`` waits out a short
pause or open circuit (or says how long to give the work back for), ``call`` takes a token from
the bucket, makes the call and counts it by outcome. The dispatcher's submissions and the
follower's checks of accepted journals go through the same channel, so one rate limit, one
breaker and one pool cover both."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TypeVar

from revbridge.connectors.base import Answer, ConnectorRejected, ConnectorUnavailable, Receipt
from revbridge.connectors.channel import Channel
from revbridge.observability.metrics import Metrics

T = TypeVar("T")


class Stopping(Exception):
    """The outbox is stopping while a call waited for a token, or the round's time to start calls
    ran out (``late``): nothing was called."""


def _never() -> bool:
    return False


def admit(channel: Channel, stop: threading.Event, max_inline_wait: float) -> bool | float:
    """Wait out a short pause or open circuit. True or False: go (True if this call is the
    breaker's half-open probe); a float: give the work back for that many seconds."""
    while True:
        paused = channel.paused_for()
        if paused == 0:
            admission = channel.breaker.allow()
            if admission.wait == 0:
                return admission.probe
            paused = admission.wait
        if paused > max_inline_wait or stop.is_set():
            return float(paused)
        stop.wait(paused)


def call(
    channel: Channel,
    metrics: Metrics,
    stop: threading.Event,
    label: Callable[[T], str],
    fn: Callable[[], T],
    *,
    late: Callable[[], bool] = _never,
) -> T:
    """One ERP call under the channel's rate limit, counted by ``label(result)`` or its failure.
    ``late()`` true once the token is had: the call is not made (the journal's lease may run out
    while it is in flight, and another process would then send it again)."""
    if not channel.paced and not channel.bucket.acquire(cancelled=stop.is_set):
        raise Stopping  # a paced connector takes its tokens per HTTP request instead
    if late():
        raise Stopping
    calls = metrics.erp_calls
    try:
        result = fn()
    except ConnectorRejected:
        calls.labels(channel.name, "rejected").inc()
        raise
    except ConnectorUnavailable as exc:
        calls.labels(channel.name, "uncertain" if exc.uncertain else "unavailable").inc()
        raise
    except Exception:
        calls.labels(channel.name, "error").inc()
        raise
    calls.labels(channel.name, label(result)).inc()
    return result


# labels of the outbox's calls, by what they returned (the erp_calls metric)


def found(result: Receipt | None) -> str:
    return "found" if result is not None else "not_found"


def submitted(result: Receipt) -> str:
    return "accepted" if result.accepted else "posted"


def found_many(result: Mapping[str, Answer]) -> str:
    return "found" if result else "not_found"


def submitted_many(_result: Mapping[str, Answer]) -> str:
    return "bulk"
