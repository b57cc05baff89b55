"""Completeness: every message ends in exactly one terminal state, and that state is accounted for
(DESIGN.md sections 1 and 8).

Messages are counted per day received, source (the channel kind: mllp, http, file, cli) and
state. A message's state is one column, so "exactly one" holds by construction; what this checks
is that each terminal state carries its evidence:

- processed: none of its posting events is left unposted (recorded, waiting or excepted), and each
  event it staged has subledger rows;
- excepted: at least one work item says why;
- ignored: the rule that ignored it is named;
- duplicate: the original it names exists.

Messages still pending, processing or waiting are listed as not yet terminal; they are breaks only
once older than the thresholds (waiting messages get the longer, context-wait threshold).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from revbridge.core.money import Money
from revbridge.reconcile.breaks import Break, Control, Thresholds, age
from revbridge.reconcile.facts import EventFact, EventState, LineFact, MessageFact, MessageState

UNPOSTED = frozenset({EventState.RECORDED, EventState.WAITING, EventState.EXCEPTED})
KNOWN_EVENT_STATES = frozenset(s.value for s in EventState)
KNOWN_MESSAGE_STATES = frozenset(s.value for s in MessageState)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unfinished:
    message_id: str
    state: str
    source: str
    received_at: datetime
    age: str
    stale: bool

    def as_json(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "state": self.state,
            "source": self.source,
            "received_at": self.received_at.isoformat(),
            "age": self.age,
            "stale": self.stale,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Completeness:
    counts: tuple[tuple[date, str, str, int], ...]  # day received, source, state, messages
    unfinished: tuple[Unfinished, ...]
    breaks: tuple[Break, ...]

    def totals(self) -> dict[str, int]:
        found: Counter[str] = Counter()
        for _day, _source, state, n in self.counts:
            found[state] += n
        return {s.value: found.get(s.value, 0) for s in MessageState} | dict(found)

    def as_json(self) -> dict[str, object]:
        return {
            "totals": self.totals(),
            "counts": [
                {"day": d.isoformat(), "source": src, "state": state, "messages": n}
                for d, src, state, n in self.counts
            ],
            "not_terminal": [u.as_json() for u in self.unfinished],
        }


def check(
    messages: Iterable[MessageFact],
    events: Iterable[EventFact],
    lines: Mapping[str, Sequence[LineFact]],
    *,
    now: datetime,
    thresholds: Thresholds,
) -> Completeness:
    by_message: dict[str, list[EventFact]] = defaultdict(list)
    breaks: list[Break] = []
    for event in events:
        by_message[event.message_id].append(event)
        breaks.extend(_event_breaks(event, lines))
    counts: Counter[tuple[date, str, str]] = Counter()
    unfinished: list[Unfinished] = []
    for m in messages:
        counts[(m.received_at.date(), m.source, m.status)] += 1
        subject = f"message {m.id}"
        if m.status not in KNOWN_MESSAGE_STATES:
            breaks.append(_break(subject, f"unknown message state {m.status!r}"))
            continue
        state = MessageState(m.status)
        if state.terminal:
            breaks.extend(_evidence(m, state, by_message.get(m.id, []), subject))
            continue
        waiting = _unfinished(m, state, now, thresholds)
        unfinished.append(waiting)
        if waiting.stale:
            breaks.append(
                _break(subject, f"{m.format} message from {m.source} still {state.value} after {waiting.age}")
            )
    return Completeness(
        counts=tuple((d, src, state, n) for (d, src, state), n in sorted(counts.items())),
        unfinished=tuple(sorted(unfinished, key=lambda u: (u.received_at, u.message_id))),
        breaks=tuple(breaks),
    )


def _break(
    subject: str, message: str, event_keys: tuple[str, ...] = (), expected: Money | None = None
) -> Break:
    return Break(
        control=Control.COMPLETENESS,
        subject=subject,
        message=message,
        expected=expected,
        event_keys=event_keys,
    )


def _event_breaks(event: EventFact, lines: Mapping[str, Sequence[LineFact]]) -> list[Break]:
    """An event in a state nobody knows, or staged without a subledger row."""
    subject, keys = f"event {event.key}", (event.key,)
    if event.state not in KNOWN_EVENT_STATES:
        return [_break(subject, f"unknown event state {event.state!r}", keys)]
    if event.state == EventState.STAGED and not lines.get(event.key):
        message = f"{event.kind} is staged, but the subledger has no rows for it"
        return [_break(subject, message, keys, expected=event.amount)]
    return []


def _unfinished(m: MessageFact, state: MessageState, now: datetime, thresholds: Thresholds) -> Unfinished:
    """A message not yet terminal; stale once older than the threshold (a message waiting for
    context gets the longer one)."""
    return Unfinished(
        message_id=m.id,
        state=state.value,
        source=m.source,
        received_at=m.received_at,
        age=age(m.received_at, now),
        stale=thresholds.stale(m.received_at, now, waiting=state is MessageState.WAITING),
    )


def _evidence(m: MessageFact, state: MessageState, events: list[EventFact], subject: str) -> list[Break]:
    match state:
        case MessageState.EXCEPTED if not m.work_items:
            return [_break(subject, "excepted, but no work item says why")]
        case MessageState.IGNORED if not (m.terminal_reason or "").strip():
            return [_break(subject, "ignored, but no rule is named")]
        case MessageState.DUPLICATE if not m.duplicate_of:
            return [_break(subject, "duplicate, but of no named message")]
        case MessageState.DUPLICATE if not m.duplicate_found:
            return [_break(subject, f"duplicate of message {m.duplicate_of}, which does not exist")]
        case MessageState.PROCESSED:
            unposted = sorted((e for e in events if e.state in UNPOSTED), key=lambda e: e.key)
            if unposted:
                states = ", ".join(sorted({e.state for e in unposted}))
                return [
                    _break(
                        subject,
                        f"processed, but {len(unposted)} of its posting events are {states}",
                        tuple(e.key for e in unposted),
                    )
                ]
    return []
