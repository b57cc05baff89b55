"""Replay after a fix: the messages behind chosen work items, or behind every open item of one
code, replayed with today's configuration, and how many of their items the replay cleared.

Replay itself belongs to the pipeline, which sits above the work queue (pipeline -> workqueue ->
store): the caller hands in something that replays one message, and this module never imports
the pipeline. Replay is a diff (DESIGN.md section 6), so replaying a message twice posts nothing
new; each replay commits on its own, with its own audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from revbridge.core.errors import InputError
from revbridge.store import Database, queue, workitems
from revbridge.store.queue import ReplayChoice


class Replayer(Protocol):
    """Replays one stored message (``pipeline.replay.Replayer``)."""

    def replay(self, message_id: str, *, actor: str) -> object: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayReport:
    messages: int  # replayed
    cleared: int  # open items of those messages that are not open after the replay


def messages_to_replay(db: Database, choice: ReplayChoice) -> tuple[str, ...]:
    """The messages a replay request names. A message named by id that cannot be replayed
    (unknown, a duplicate, not finished) refuses the request."""
    if not (choice.message_ids or choice.code or choice.since or choice.until):
        raise InputError("say what to replay: --message, --exception-code or --since/--until")
    found = queue.replayable_messages(db, choice)
    missing = sorted(set(choice.message_ids) - set(found))
    if missing:
        raise InputError(f"cannot replay {', '.join(missing)}: unknown, duplicate or not yet processed")
    return found


def replay_items(db: Database, replayer: Replayer, item_ids: Iterable[int], *, actor: str) -> ReplayReport:
    """Replay the messages behind these items (an item about a journal names none)."""
    chosen = (workitems.get(db, n) for n in set(item_ids))
    named = sorted({i.message_id for i in chosen if i is not None and i.message_id})
    if not named:
        return ReplayReport(messages=0, cleared=0)
    return _replay(db, replayer, messages_to_replay(db, ReplayChoice(message_ids=tuple(named))), actor=actor)


def replay_code(db: Database, replayer: Replayer, code: str, *, actor: str) -> ReplayReport:
    """Replay every message with an open item of ``code``."""
    return _replay(db, replayer, messages_to_replay(db, ReplayChoice(code=code)), actor=actor)


def _replay(db: Database, replayer: Replayer, message_ids: Sequence[str], *, actor: str) -> ReplayReport:
    before = workitems.open_for_messages(db, message_ids)
    for message_id in message_ids:
        replayer.replay(message_id, actor=actor)
    after = workitems.open_for_messages(db, message_ids)
    return ReplayReport(messages=len(message_ids), cleared=len(before - after))
