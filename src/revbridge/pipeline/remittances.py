"""Where a large message may commit in parts: an ERA's remittances.

An 835 interchange is one stored message but many documents: each transaction set is one payer's
remittance to one payee, balanced on its own and posted as its own journal. A message of several
remittances can commit one remittance per transaction, so each journal goes to the ERP as soon
as its remittance is recorded and no transaction holds the store's writer for the whole file.
That is safe because recording is idempotent: if the worker dies between parts, the next owner
parses the message again, finds the parts already committed as repeats of the same content, and
carries on with the rest. Between two parts the worker may do other work (``between``: it lets a
patient's payment that arrived meanwhile through, pipeline/worker.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.clock import Clock
from revbridge.core.errors import StoreError
from revbridge.core.problem import Outcome, Problem, Severity
from revbridge.observability.logging import get_logger
from revbridge.pipeline.batched import LeaseLost
from revbridge.pipeline.status import Done, Result, decide
from revbridge.store import Database, Tx, queue, workitems
from revbridge.store import events as event_store

log = get_logger("revbridge.worker")


def remittance_parts(outcome: Outcome[CanonicalEvent]) -> list[Outcome[CanonicalEvent]]:
    """The outcome's remittances, each with its events and the problems that name them (problems
    naming no part go with the last), or ``[outcome]`` when it is not several whole remittances
    or an error holds the whole message."""
    if any(p.severity is Severity.ERROR and p.event_key is None for p in outcome.problems):
        return [outcome]
    groups: dict[str, list[CanonicalEvent]] = {}
    for event in outcome.items:
        remittance = getattr(event, "remittance_id", None)
        if not isinstance(remittance, str):
            return [outcome]
        groups.setdefault(remittance, []).append(event)
    if len(groups) < 2:
        return [outcome]
    part_of = {event.key: remittance for remittance, items in groups.items() for event in items}
    named: dict[str, list[Problem]] = {remittance: [] for remittance in groups}
    loose: list[Problem] = []
    for problem in outcome.problems:
        remittance = part_of.get(problem.event_key) if problem.event_key else None
        (named[remittance] if remittance is not None else loose).append(problem)
    parts = [Outcome(tuple(items), tuple(named[remittance])) for remittance, items in groups.items()]
    parts[-1] = Outcome(parts[-1].items, parts[-1].problems + tuple(loose))
    return parts


@dataclass(slots=True)
class Committed:
    """What committing a message's parts came to: its result (None when its lease was lost or
    the store failed: ``failure`` says why for a retry), and the work items opened on the way."""

    result: Result | None = None
    opened: list[str] = field(default_factory=list)
    failure: str | None = None


def commit_parts(
    db: Database,
    clock: Clock,
    *,
    owner: str,
    message: queue.Claimed,
    outcome: Outcome[CanonicalEvent],
    parts: Sequence[Outcome[CanonicalEvent]],
    record: Callable[[Tx, Outcome[CanonicalEvent], datetime], Done],
    between: Callable[[], None],
) -> Committed:
    """Commit ``parts`` (``remittance_parts``) one per transaction under ``owner``'s lease, the
    last with the message's next state; ``record`` writes a part, ``between`` runs after each."""
    new: list[CanonicalEvent] = []
    repeated: list[CanonicalEvent] = []
    problems: list[Problem] = []
    committed = Committed()
    waiting = False
    status, n = "", 0
    try:
        for n, part in enumerate(parts, start=1):
            with db.transaction() as tx:
                now = clock.now()
                if not queue.holds_lease(tx, message.id, owner):
                    raise LeaseLost
                done = record(tx, part, now)
                new.extend(done.recorded.new)
                repeated.extend(done.recorded.repeated)
                problems.extend(done.problems)
                waiting = waiting or done.waiting
                if n == len(parts):
                    recorded = event_store.Recorded(tuple(new), tuple(repeated), ())
                    # Parts an earlier owner committed come back as repeats, which are not
                    # posted again: their posting errors are known by their open work items.
                    earlier = workitems.open_error_codes(tx, message.id)
                    status, reason = decide(outcome, recorded, problems, waiting, earlier)
                    if not queue.finish(tx, message.id, owner=owner, status=status, reason=reason, now=now):
                        raise LeaseLost
            committed.opened.extend(done.opened)
            between()
    except LeaseLost:
        # the next owner finds the parts committed so far as repeats and finishes the rest
        log.warning("message.lease_lost", message_id=message.id, parts_committed=n - 1)
        return committed
    except StoreError as exc:
        committed.failure = str(exc)
        return committed
    committed.result = Result(message.id, status, tuple(problems), len(new))
    return committed
