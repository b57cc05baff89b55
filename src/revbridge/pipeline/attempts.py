"""What one attempt at posting a journal decided, and how a round's decisions are written.

The dispatcher (dispatcher.py) runs the attempts of a round concurrently and writes their
outcomes in one transaction, each only under the lease it claimed: ``write`` moves the journal
to its next outbox state and, for a failure, opens the work item that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode
from revbridge.store import Tx, outbox
from revbridge.workqueue import open_items


@dataclass(frozen=True, slots=True)
class Posted:
    claim: outbox.Claim
    connector: str
    document: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Retry:
    claim: outbox.Claim
    connector: str
    at: datetime
    attempts: int
    uncertain: bool
    error: str


@dataclass(frozen=True, slots=True)
class Failed:
    claim: outbox.Claim
    connector: str
    code: ProblemCode
    error: str
    attempts: int
    uncertain: bool


@dataclass(frozen=True, slots=True)
class Released:
    claim: outbox.Claim
    at: datetime


Outcome = Posted | Retry | Failed | Released


def write(tx: Tx, outcome: Outcome, *, owner: str, now: datetime) -> tuple[bool, list[str]]:
    """Record one outcome under ``owner``'s lease: (whether the lease was still held, the codes
    of the work items opened)."""
    match outcome:
        case Posted(claim, connector, document, at):
            done = outbox.mark_posted(
                tx, claim.id, owner=owner, document=document, connector=connector, now=at
            )
        case Retry(claim, connector, at, attempts, uncertain, error):
            done = outbox.retry_later(
                tx,
                claim.id,
                owner=owner,
                at=at,
                attempts=attempts,
                uncertain=uncertain,
                connector=connector,
                error=error,
            )
        case Failed(claim, connector, _code, error, attempts, uncertain):
            done = outbox.mark_failed(
                tx,
                claim.id,
                owner=owner,
                attempts=attempts,
                uncertain=uncertain,
                connector=connector,
                error=error,
            )
            if done:
                opened = open_items(tx, [problem(outcome)], now=now, message_id=None)
                return True, [item.code for item in opened]
        case Released(claim, at):
            done = outbox.release(tx, [claim.id], owner=owner, at=at) == 1
    return done, []


def problem(failed: Failed) -> Problem:
    claim = failed.claim
    suffix = f" (after {failed.attempts} attempts)" if failed.code is ProblemCode.ERP_UNAVAILABLE else ""
    return Problem(
        code=failed.code,
        message=f"{failed.connector}: {failed.error}{suffix}",
        where=SourceRef("", f"journal {claim.id}"),
        details=(
            ("journal_id", claim.id),
            ("connector", failed.connector),
            ("legal_entity", claim.legal_entity),
        ),
    )
