"""What ``rules.apply`` returns for one source document: drafts and problems, or what it waits for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem
from revbridge.ledger.journal import JournalDraft


class WaitReason(StrEnum):
    ENCOUNTER = "encounter"  # a charge (or an adjustment against a payer) before its encounter
    ORIGINAL_CHARGE = "original_charge"  # a reversal before the charge it reverses


@dataclass(frozen=True, slots=True, kw_only=True)
class Waiting:
    event_key: str
    reason: WaitReason
    reference: str  # the encounter id or charge id waited for
    where: SourceRef


@dataclass(frozen=True, slots=True, kw_only=True)
class Posting:
    """Drafts and problems for a document, or what it waits for.

    When ``waiting`` is not empty the document is not ready: ``drafts`` and ``problems`` are
    empty and the pipeline calls ``apply`` again later (with ``final=True`` once the configured
    context wait has passed, which turns each wait into a MISSING_CONTEXT or ORPHAN_REVERSAL
    problem). Otherwise every posting event of the document either has lines in ``drafts`` or
    at least one problem in ``problems`` naming its key, or posts nothing by rule.
    ``ignored_by`` names the rule when the document has nothing to post by design (a
    notification-only remittance).
    """

    drafts: tuple[JournalDraft, ...] = ()
    problems: tuple[Problem, ...] = ()
    waiting: tuple[Waiting, ...] = ()
    ignored_by: str | None = None
