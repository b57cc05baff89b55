"""Replay is a diff (DESIGN.md section 6).

Replaying a message re-parses its stored raw bytes with today's parsers, master data and rulebook,
compares the journal lines that result, per source document, with everything staged or posted for
its events so far, and stages only the difference: the reversal of what stands plus the new lines
(``rules.post``, given the standing drafts, decides it). Posted lines are never updated.
Replaying twice changes nothing, because after the first replay what stands equals what the
configuration produces.

One message is one transaction: events, subledger lines, journals, work items, the message's
status and the audit entry commit together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from revbridge.core.clock import Clock
from revbridge.core.errors import InputError
from revbridge.core.problem import Problem, Severity
from revbridge.core.tokens import Tokenizer
from revbridge.formats.base import Format
from revbridge.pipeline.parsing import Parser
from revbridge.pipeline.poster import Poster, context_for
from revbridge.rules import Standing, post
from revbridge.rules.context import is_context
from revbridge.store import Database, audit, events, queue, subledger, workitems
from revbridge.store.messages import MessageStore
from revbridge.workqueue import open_items


@dataclass(frozen=True, slots=True)
class Replayed:
    message_id: str
    status: str
    journals_drafted: int  # drafts staged by this replay (reversals and new lines); 0 when nothing changed
    problems: tuple[Problem, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "status": self.status,
            "drafts_staged": self.journals_drafted,
            "problems": [
                {"code": str(p.code), "severity": str(p.severity), "locator": p.locator, "message": p.message}
                for p in self.problems
            ],
        }


class Replayer:
    def __init__(
        self,
        *,
        db: Database,
        store: MessageStore,
        formats: Mapping[str, Format],
        tokenizer: Tokenizer,
        poster: Poster,
        clock: Clock,
        anchor: Path | None,
        default_currency: str = "USD",
    ) -> None:
        self._db = db
        self._parser = Parser(
            formats=formats, store=store, tokenizer=tokenizer, default_currency=default_currency
        )
        self._poster = poster
        self._clock = clock
        self._anchor = anchor

    def replay(self, message_id: str, *, actor: str) -> Replayed:
        now = self._clock.now()
        with self._db.transaction() as tx:
            message = queue.stored(tx, message_id)
            parsed = self._parser.parse(message)
            found = self._poster.configs.current(tx, now.date(), fresh=True)
            if found is None:
                raise InputError("no approved configuration is in effect: run `revbridge config apply`")
            config = found[1]
            current = events.refresh(tx, parsed.items, message_id=message_id, now=now)
            keys = [e.key for e in current if not is_context(e)]
            standing = Standing(
                drafts=tuple(subledger.standing_drafts(tx, keys)), parse_problems=parsed.problems
            )
            posted = post(current, config, context_for(tx, current, [config], final=True, standing=standing))
            self._poster.write(
                tx, config, posted, message_id=message_id, now=now, received_at=message.received_at
            )
            problems = [p.with_message_id(message_id) for p in (*parsed.problems, *posted.problems)]
            ignored_by = parsed.ignored_by if not parsed.items else None
            status, reason = _decide(problems, len(posted.staged), bool(keys), ignored_by)
            workitems.resolve_cleared(tx, message_id, still=problems, actor=actor, now=now)
            open_items(tx, problems, now=now, message_id=message_id)
            queue.settle(tx, message_id, status=status, reason=reason, now=now)
            details = {"status": status, "drafts_staged": str(len(posted.staged))}
            audit.append(
                tx,
                at=now,
                actor=actor,
                action="replay",
                target=f"message/{message_id}",
                details=details,
                anchor=self._anchor,
            )
        return Replayed(message_id, status, len(posted.staged), tuple(problems))


def _decide(
    problems: Sequence[Problem], staged: int, posted_anything: bool, ignored_by: str | None
) -> tuple[str, str]:
    errors = sorted({str(p.code) for p in problems if p.severity is Severity.ERROR})
    if errors:
        return queue.EXCEPTED, ", ".join(errors)
    if ignored_by is not None:
        return queue.IGNORED, ignored_by
    if not posted_anything:
        return queue.PROCESSED, "replayed: context only"
    return queue.PROCESSED, f"replayed: {staged} draft(s) staged" if staged else "replayed: nothing changed"
