"""Where a large message may commit in parts: an ERA's remittances.

An 835 interchange is one stored message but many documents: each transaction set is one payer's
remittance to one payee, balanced on its own and posted as its own journal. A message of several
remittances can commit one remittance per transaction, so each journal goes to the ERP as soon
as its remittance is recorded and no transaction holds the store's writer for the whole file.
That is safe because recording is idempotent: if the worker dies between parts, the next owner
parses the message again, finds the parts already committed as repeats of the same content, and
carries on with the rest.
"""

from __future__ import annotations

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome, Problem, Severity


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
