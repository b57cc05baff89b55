"""Canonical events in the store, unique by business key.

The same event arriving inside another message (a DFT re-sent with a new control id) is recognised
by key and content and recorded once. The same key with different content is an EVENT_CONFLICT
problem: the first version stands until somebody decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select, update

from revbridge.canonical import codec
from revbridge.canonical.events import (
    CanonicalEvent,
    CoverageUpdated,
    EncounterCancelled,
    EncounterRegistered,
    EncounterUpdated,
    PaymentPlanUpdated,
)
from revbridge.core.ids import digest
from revbridge.core.money import Money
from revbridge.core.problem import Problem, ProblemCode
from revbridge.store import bulk, deferred, partitions
from revbridge.store.database import Database, Tx
from revbridge.store.partitions import event_keys
from revbridge.store.schema import events

CONTEXT_KINDS = frozenset(
    cls.__name__
    for cls in (
        EncounterRegistered,
        EncounterUpdated,
        EncounterCancelled,
        CoverageUpdated,
        PaymentPlanUpdated,
    )
)

RECORDED = "recorded"  # a posting event waiting for the posting stage
CONTEXT = "context"  # context only, posts nothing


def headline(event: CanonicalEvent) -> Money | None:
    """The one amount reports group by: the charge, the payment, the claim total."""
    for name in ("amount", "paid", "total"):
        value = getattr(event, name, None)
        if isinstance(value, Money):
            return value
    return None


def fingerprint(event: CanonicalEvent) -> str:
    """Content identity of an event, independent of the message it arrived in."""
    return digest(_without_source(event)[0], length=64)


def _without_source(event: CanonicalEvent) -> tuple[str, dict[str, object] | None]:
    """The event's JSON without its source (what the fingerprint covers), and the source."""
    body = codec.encode(event)
    source = body.pop("source", None)
    return json.dumps(body, sort_keys=True, separators=(",", ":")), source


def _encoded(event: CanonicalEvent) -> tuple[str, str]:
    """The stored JSON of an event and its content fingerprint, from one encoding and one
    serialisation: the stored text is the fingerprinted text with the source put first."""
    bare, source = _without_source(event)
    head = '{"source":' + json.dumps(source, sort_keys=True, separators=(",", ":"))
    return head + ("}" if bare == "{}" else "," + bare[1:]), digest(bare, length=64)


@dataclass(frozen=True, slots=True)
class Recorded:
    new: tuple[CanonicalEvent, ...]  # first time seen
    repeated: tuple[CanonicalEvent, ...]  # same key, same content: already recorded
    problems: tuple[Problem, ...]  # same key, different content


_SEEN = select(events.c.key, events.c.content_hash).where(events.c.key.in_(bindparam("keys", expanding=True)))
_SEEN_KEYS = select(event_keys.c.key, event_keys.c.content_hash).where(
    event_keys.c.key.in_(bindparam("keys", expanding=True))
)


def _lookup(conn: Connection, keys: Sequence[str]) -> dict[str, str]:
    """The content hash of each of ``keys`` already recorded."""
    existing: dict[str, str] = {}
    # PostgreSQL keeps the keys in event_keys (events is partitioned by month, and a key must stay
    # known after its month is dropped); SQLite's events table is unique by key itself.
    query = _SEEN_KEYS if partitions.is_partitioned_events(conn) else _SEEN
    for start in range(0, len(keys), 400):
        for key, digest_ in conn.execute(query, {"keys": list(keys[start : start + 400])}):
            existing[key] = digest_
    return existing


def look_up(conn: Connection, keys: Iterable[str]) -> None:
    """In a transaction whose writes are deferred (store/deferred.py): read which of ``keys``
    are recorded, once for all the messages about to be recorded in it."""
    held = deferred.of(conn)
    if held is None:
        return
    missing = [key for key in dict.fromkeys(keys) if key not in held.looked_up]
    held.seen.update(_lookup(conn, missing))
    held.looked_up.update(missing)


def record(conn: Connection, batch: Sequence[CanonicalEvent], *, message_id: str, now: datetime) -> Recorded:
    keys = [e.key for e in batch]
    held = deferred.of(conn)
    if held is None:
        existing = _lookup(conn, keys)
    else:
        # The keys read for the transaction, plus those its earlier messages recorded (below).
        look_up(conn, keys)
        existing = held.seen
    new: list[CanonicalEvent] = []
    repeated: list[CanonicalEvent] = []
    problems: list[Problem] = []
    rows: list[dict[str, object]] = []
    for event in batch:
        text, fp = _encoded(event)
        seen = existing.get(event.key)
        if seen is not None:
            if seen == fp:
                repeated.append(event)
            else:
                problems.append(
                    Problem(
                        code=ProblemCode.EVENT_CONFLICT,
                        message=f"{type(event).__name__} {event.key} was recorded before with other content",
                        where=event.source,
                        event_key=event.key,
                    )
                )
            continue
        existing[event.key] = fp
        amount = headline(event)
        rows.append(
            {
                "key": event.key,
                "kind": type(event).__name__,
                "message_id": message_id,
                "facility": event.facility[:128],
                "occurred_on": event.occurred_on,
                "amount_minor": amount.rounded().to_minor() if amount is not None else None,
                "currency": amount.currency if amount is not None else None,
                "body": text,
                "content_hash": fp,
                "state": CONTEXT if type(event).__name__ in CONTEXT_KINDS else RECORDED,
                "wait_until": None,
                "created_at": now,
            }
        )
        new.append(event)
    fields = ("key", "content_hash", "message_id", "created_at")
    keyed = [{f: r[f] for f in fields} for r in rows] if partitions.is_partitioned_events(conn) else []
    if held is not None:
        held.add("events", 0, _insert_events, rows, table="events", keys=())
        held.add("event_keys", 1, _insert_event_keys, keyed, table="event_keys", keys=())
    else:
        _insert_events(conn, rows)
        _insert_event_keys(conn, keyed)
    return Recorded(tuple(new), tuple(repeated), tuple(problems))


def _insert_events(conn: Connection, rows: list[dict[str, object]]) -> None:
    bulk.insert_rows(conn, events, rows)


def _insert_event_keys(conn: Connection, rows: list[dict[str, object]]) -> None:
    bulk.insert_rows(conn, event_keys, rows)


def for_message(db: Database, message_id: str) -> list[CanonicalEvent]:
    with db.reading() as conn:
        rows = conn.execute(
            select(events.c.body).where(events.c.message_id == message_id).order_by(events.c.id)
        )
        return [codec.loads(body) for (body,) in rows]


def count(db: Database, *, kind: str | None = None) -> int:
    query = select(func.count()).select_from(events)
    if kind:
        query = query.where(events.c.kind == kind)
    with db.reading() as conn:
        return int(conn.execute(query).scalar_one())


def set_states(tx: Tx, states: Iterable[tuple[str, str]], *, wait_until: datetime | None = None) -> None:
    """Set each event's state (``(key, state)`` pairs, as ``rules.post`` returns them);
    ``wait_until`` goes with the waiting ones, every other state clears it."""
    by_state: dict[str, list[str]] = {}
    for key, state in states:
        by_state.setdefault(str(state), []).append(key)
    held = deferred.of(tx)
    for state, keys in by_state.items():
        until = wait_until if state == WAITING else None
        send = _state_setter(state, until)
        if held is not None:
            # After the events' own INSERT (rank 0): the states are of events just recorded.
            held.add(f"events.state:{state}:{until}", 5, send, [{"key": k} for k in keys], table="", keys=())
        else:
            send(tx, [{"key": k} for k in keys])


def _state_setter(state: str, until: datetime | None) -> deferred.Send:
    def send(tx: Tx, rows: list[dict[str, object]]) -> None:
        keys = [row["key"] for row in rows]
        for start in range(0, len(keys), 400):
            tx.execute(_SET_STATE, {"keys": keys[start : start + 400], "p_state": state, "p_until": until})

    return send


_SET_STATE = (
    update(events)
    .where(events.c.key.in_(bindparam("keys", expanding=True)))
    .values(state=bindparam("p_state"), wait_until=bindparam("p_until"))
)


WAITING = "waiting"


@dataclass(frozen=True, slots=True)
class Waiting:
    events: tuple[CanonicalEvent, ...]
    until: datetime | None  # the earliest time any of them stops waiting


def waiting(tx: Tx, message_id: str) -> Waiting:
    """A message's events still waiting for context, in the order they were recorded."""
    rows = tx.execute(
        select(events.c.body, events.c.wait_until)
        .where(events.c.message_id == message_id, events.c.state == WAITING)
        .order_by(events.c.id)
    ).all()
    until = min((r.wait_until for r in rows if r.wait_until is not None), default=None)
    return Waiting(tuple(codec.loads(r.body) for r in rows), until)


def posting_events_since(db: Database, since: datetime, *, limit: int) -> list[tuple[str, CanonicalEvent]]:
    """(message id, event) for up to ``limit`` posting events recorded since ``since``, oldest
    first."""
    query = (
        select(events.c.message_id, events.c.body)
        .where(events.c.created_at >= since, events.c.kind.not_in(sorted(CONTEXT_KINDS)))
        .order_by(events.c.id)
        .limit(limit)
    )
    with db.reading() as tx:
        return [(message_id, codec.loads(body)) for message_id, body in tx.execute(query)]


def refresh(
    tx: Tx, batch: Sequence[CanonicalEvent], *, message_id: str, now: datetime
) -> list[CanonicalEvent]:
    """Record the events a message yields now (replay): new keys are recorded, a key this message
    recorded before takes the re-parsed content (a parser fix), a key another message owns is
    left to that message. Returns the events that are this message's now."""
    recorded = record(tx, batch, message_id=message_id, now=now)
    current = list(recorded.new) + list(recorded.repeated)
    conflicting = {p.event_key for p in recorded.problems}
    for event in batch:
        if event.key not in conflicting:
            continue
        keys = event_keys if partitions.is_partitioned_events(tx) else events
        owner = tx.execute(select(keys.c.message_id).where(keys.c.key == event.key)).scalar_one()
        if owner == message_id:
            text, content = _encoded(event)
            tx.execute(
                update(events).where(events.c.key == event.key).values(body=text, content_hash=content)
            )
            if keys is event_keys:
                tx.execute(
                    update(event_keys).where(event_keys.c.key == event.key).values(content_hash=content)
                )
            current.append(event)
    return current
