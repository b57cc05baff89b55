"""What the work queue's tests share: messages in the line format, processed by the worker."""

from __future__ import annotations

from datetime import UTC, datetime

from revbridge.bootstrap import Runtime
from revbridge.store import audit
from revbridge.store.messages import Arrival

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def processed(rt: Runtime, *payloads: str) -> list[str]:
    """Store each payload as a message and run the worker over them; their ids, in order. Equal
    payloads are one message and duplicates: make them differ (a ``NOTE`` line is ignored)."""
    ids = [
        rt.store.accept(Arrival(channel="test", format="lines", payload=p.encode(), dedupe_key="")).message_id
        for p in payloads
    ]
    rt.worker().drain()
    return ids


def trail(rt: Runtime) -> list[tuple[str, str, dict[str, str]]]:
    """The audit log as (action, target, details)."""
    with rt.db.reading() as tx:
        return [(e.action, e.target, dict(e.details)) for e in audit.entries(tx)]
