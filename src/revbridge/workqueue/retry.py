"""Bulk retry after a fix: what failed for a reason outside the message (an ERP that refused or
was down, a parser that crashed, a payload that could not be opened) is put back to run again.

Journals that failed at the ERP go back to staged (``store.outbox.requeue``) and the outbox
sends them again; excepted messages go back to pending (``store.queue.requeue``) and a worker
runs them from the start. Only messages that stopped before any of their events was recorded are
put back: a message with recorded events would meet them again as repeats and post nothing, so it
needs a replay after the fix, which posts the difference. The retried items are resolved and
audited in the same transaction; if the retry fails again, a new item opens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from revbridge.core.clock import Clock
from revbridge.core.errors import InputError
from revbridge.core.problem import ProblemCode
from revbridge.store import Database, outbox, queue, workitems
from revbridge.store.workitems import Standing
from revbridge.workqueue.resolution import audited, open_or_refuse

JOURNAL_CODES = frozenset({ProblemCode.ERP_REJECTED, ProblemCode.ERP_UNAVAILABLE})
# The worker raises these before it records a message's events.
MESSAGE_CODES = frozenset(
    {ProblemCode.PARSER_FAILED, ProblemCode.UNSUPPORTED_FORMAT, ProblemCode.PAYLOAD_UNREADABLE}
)
RESOLUTION = "put back for retry"
CANNOT = (
    "only journals that failed at the ERP and messages that failed before their events were "
    "recorded go back; replay the messages behind the others after the fix"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Retried:
    items: tuple[int, ...]
    journals: tuple[str, ...]
    messages: tuple[str, ...]


def retry(db: Database, clock: Clock, item_ids: Iterable[int], *, actor: str, anchor: Path | None) -> Retried:
    """All or nothing: an item that is not open, or whose cause a retry cannot fix, refuses the
    whole request and nothing is put back."""
    now = clock.now()
    with db.transaction() as tx:
        targets = {s.item_id: _target(s) for s in open_or_refuse(tx, item_ids)}
        chosen = {n: t for n, t in targets.items() if t is not None}
        _refuse("cannot be retried: " + CANNOT, sorted(set(targets) - set(chosen)))
        journal_of = {n: ref for n, (kind, ref) in chosen.items() if kind == "journal"}
        messages = sorted({ref for kind, ref in chosen.values() if kind == "message"})
        stale = []
        for n, ref in sorted(journal_of.items()):  # one at a time, to name a journal retried meanwhile
            if outbox.requeue(tx, [ref], now=now) != 1:
                stale.append(n)
        _refuse("name journals that are no longer failed", stale)
        if queue.requeue(tx, messages, now=now) != len(messages):
            raise InputError("a message behind these work items changed meanwhile: try again")
        workitems.close(
            tx, sorted(chosen), status=workitems.RESOLVED, actor=actor, reason=RESOLUTION, now=now
        )
        for n, (kind, ref) in sorted(chosen.items()):
            audited(tx, n, "retry", {kind: ref}, at=now, actor=actor, anchor=anchor)
    return Retried(
        items=tuple(sorted(chosen)),
        journals=tuple(sorted(set(journal_of.values()))),
        messages=tuple(messages),
    )


def _refuse(why: str, item_ids: list[int]) -> None:
    if item_ids:
        raise InputError(f"work items {', '.join(map(str, item_ids))} {why}")


def _target(item: Standing) -> tuple[str, str] | None:
    """What a retry puts back for this item: ("journal", id), ("message", id), or nothing."""
    if item.code in JOURNAL_CODES and item.journal_id:
        return "journal", item.journal_id
    if item.code in MESSAGE_CODES and item.message_id and item.message_status == queue.EXCEPTED:
        return "message", item.message_id
    return None
