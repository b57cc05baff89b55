"""What `revbridge status` and the workbench overview say about the sources and the events-out
sink: one place, so the command and the page never disagree.

Everything here comes from revbridge's own store (staging marks, the SFTP files taken, the event
outbox) and this process's metrics (broker messages received, stored, duplicate, poison), except
what waits outside: rows in a staging table and messages in a broker queue. Those are asked only
when ``ask`` is set (the command; the overview asks them in a background thread, never while it
renders); a source that cannot be asked says so by the error's type name only (no URL, no row).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from revbridge.core.errors import ConfigurationError, StoreError
from revbridge.sources import consumers
from revbridge.store import announcements, sftp_seen, staging

if TYPE_CHECKING:
    from revbridge.bootstrap import Runtime

Found = dict[str, dict[str, object]]
BROKER_OUTCOMES = ("received", "stored", "duplicate", "poison")


def staging_sources(rt: Runtime, *, ask: bool = True) -> Found:
    """Per staging source (configured or ever marked): its committed mark, when it moved, and
    (``ask``) the rows still waiting, ``null`` with the error's type when it cannot be read now."""
    marks = staging.all_marks(rt.db)
    found: Found = {name: dict(mark) for name, mark in marks.items()}
    for source in rt.settings.staging_sources:
        entry = found.setdefault(source.name, {"high_water": None, "updated_at": None})
        if not ask:
            continue
        try:
            table = rt.staging_table(source)
        except (StoreError, ConfigurationError) as exc:
            entry.update(waiting=None, error=type(exc).__name__)
            continue
        try:
            entry["waiting"] = table.waiting(marks.get(source.name, {}).get("high_water"))
        except StoreError as exc:
            entry.update(waiting=None, error=type(exc).__name__)
        finally:
            table.close()
    return found


def broker_sources(rt: Runtime, *, ask: bool = True, since_start: bool = False) -> Found:
    """Per broker source: where it reads, (``since_start``) what this process's consumer took from
    it by outcome, and (``ask``) the messages still waiting there, ``null`` with the error's type
    when the broker cannot be asked now. A one-shot command runs no consumer: it leaves the counts
    out rather than print zeros."""
    found: Found = {}
    for source in rt.settings.broker_sources:
        entry: dict[str, object] = {"broker": source.broker, "queue": source.queue or source.stream}
        if since_start:
            entry["since_start"] = {
                outcome: int(
                    rt.metrics.registry.get_sample_value(
                        "revbridge_broker_messages_total", {"source": source.name, "outcome": outcome}
                    )
                    or 0
                )
                for outcome in BROKER_OUTCOMES
            }
        if ask:
            try:
                entry["waiting"] = consumers.waiting(source, rt.broker_password(source))
            except Exception as exc:  # any broker failure: status still answers for the rest
                entry.update(waiting=None, error=type(exc).__name__)
        found[source.name] = entry
    return found


def sftp_sources(rt: Runtime) -> Found:
    """Per SFTP source (configured or ever taken from): files taken by outcome, the last when."""
    found = sftp_seen.summary(rt.db)
    for source in rt.settings.sftp_sources:
        found.setdefault(source.name, {"taken": {}, "last_taken_at": None})
    return found


def events_out(rt: Runtime, now: datetime) -> dict[str, object] | None:
    """The event outbox: pending, failing (retried), sent, and how old the oldest unsent is;
    ``None`` when no sink is configured and nothing was ever announced."""
    tally = announcements.tally(rt.db)
    sink = rt.settings.events_sink
    if sink == "none" and not (tally.pending or tally.failing or tally.sent):
        return None
    oldest = tally.oldest_unsent
    return {
        "sink": sink,
        "pending": tally.pending,
        "failing": tally.failing,
        "sent": tally.sent,
        "oldest_pending_at": oldest.isoformat() if oldest is not None else None,
        "oldest_pending_seconds": round((now - oldest).total_seconds(), 1) if oldest is not None else None,
    }


def sources(rt: Runtime, *, ask: bool = True, since_start: bool = False) -> dict[str, object]:
    """Every kind that has something to say: ``staging``, ``brokers``, ``sftp``, ``events_out``
    (a kind with nothing configured and nothing recorded is left out). The command asks what
    waits outside; the long-running service's page shows its consumers' counts instead."""
    found: dict[str, object] = {
        "staging": staging_sources(rt, ask=ask),
        "brokers": broker_sources(rt, ask=ask, since_start=since_start),
        "sftp": sftp_sources(rt),
        "events_out": events_out(rt, rt.clock.now()),
    }
    return {kind: value for kind, value in found.items() if value}
