"""What one attempt at posting a journal (or one check of a journal an asynchronous ERP
accepted) decided, and how a round's decisions are written.

The dispatcher (dispatcher.py) runs the attempts of a round concurrently and writes their
outcomes in one transaction, each only under the lease it claimed: ``write`` moves the journal
to its next outbox state and, for a failure, opens the work item that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode
from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics
from revbridge.store import Tx, announcements, journals, outbox
from revbridge.workqueue import open_items


@dataclass(frozen=True, slots=True)
class Posted:
    claim: outbox.Claim
    connector: str
    document: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Accepted:
    """The ERP took the journal and is working on it (``ticket``: its job id)."""

    claim: outbox.Claim
    connector: str
    ticket: str
    at: datetime
    check_at: datetime


@dataclass(frozen=True, slots=True)
class Waiting:
    """An accepted journal still being worked on, or whose ERP could not be asked: check again."""

    claim: outbox.Claim
    at: datetime
    error: str | None = None


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
    lines: tuple[int, ...] = ()  # the journal lines the ERP named in its rejection


@dataclass(frozen=True, slots=True)
class Released:
    claim: outbox.Claim
    at: datetime


log = get_logger("revbridge.outbox")

Outcome = Posted | Accepted | Waiting | Retry | Failed | Released


def write(tx: Tx, outcome: Outcome, *, owner: str, now: datetime) -> tuple[bool, list[str]]:
    """Record one outcome under ``owner``'s lease: (whether the lease was still held, the codes
    of the work items opened)."""
    match outcome:
        case Posted(claim, connector, document, at):
            done = outbox.mark_posted(
                tx, claim.id, owner=owner, document=document, connector=connector, now=at
            )
        case Accepted(claim, connector, ticket, at, check_at):
            done = outbox.mark_accepted(
                tx, claim.id, owner=owner, ticket=ticket, connector=connector, now=at, check_at=check_at
            )
        case Waiting(claim, at, error):
            done = outbox.check_later(tx, claim.id, owner=owner, at=at, error=error)
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
        case Failed(claim, connector, _code, error, attempts, uncertain, _lines):
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
                announcements.journal_rejected(
                    tx, claim.id, code=str(outcome.code), connector=connector, attempts=attempts, now=now
                )
                opened = open_items(tx, [problem(outcome)], now=now, message_id=None)
                return True, [item.code for item in opened]
        case Released(claim, at) if claim.ticket is not None:  # a check given back: still accepted
            done = outbox.check_later(tx, claim.id, owner=owner, at=at, error=None)
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
            *((("erp_ticket", claim.ticket),) if claim.ticket else ()),
            *((("lines", ", ".join(str(n) for n in failed.lines)),) if failed.lines else ()),
        ),
    )


def observe(metrics: Metrics, outcome: Outcome) -> None:
    """Count and log a recorded outcome (never the journal's content: ids, connector, reason)."""
    lane = outcome.claim.lane
    match outcome:
        case Posted(claim, _connector, _document, at):
            metrics.journals.labels(lane, journals.POSTED).inc()
            waited = (at - claim.first_received_at).total_seconds()
            metrics.receipt_to_posted.labels(lane).observe(max(0.0, waited))
        case Retry(claim, connector, at, attempts, uncertain, error):
            metrics.journals.labels(lane, "retry").inc()
            log.info(
                "journal_retry",
                journal=claim.id,
                connector=connector,
                attempts=attempts,
                at=at.isoformat(),
                uncertain=uncertain,
                reason=error,
            )
        case Failed(claim, connector, code, error, _attempts, _uncertain):
            metrics.journals.labels(lane, journals.FAILED).inc()
            log.warning("journal_failed", journal=claim.id, connector=connector, code=str(code), reason=error)
        case Accepted(claim, connector, ticket, _at, _check_at):
            metrics.journals.labels(lane, journals.ACCEPTED).inc()
            log.info("journal_accepted", journal=claim.id, connector=connector, ticket=ticket)
        case Released() | Waiting():
            pass
