"""Problems are values: a code, a PHI-free message and the place that caused it.

Every stage returns an ``Outcome``: what it produced plus every problem it found. Problems become
work items in the store; they are never raised. Messages must not contain patient data: name the
segment and the non-PHI value (a department code, a payer id), never a name or a member id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from revbridge.core.locator import SourceRef


class Severity(StrEnum):
    ERROR = "error"  # blocks posting of what it touches; a work item until resolved
    WARNING = "warning"  # posted, but somebody should look
    INFO = "info"


class ProblemCode(StrEnum):
    # intake and envelopes
    MALFORMED_MESSAGE = "MALFORMED_MESSAGE"
    MALFORMED_SEGMENT = "MALFORMED_SEGMENT"
    UNSUPPORTED_MESSAGE = "UNSUPPORTED_MESSAGE"
    UNSUPPORTED_TRANSACTION = "UNSUPPORTED_TRANSACTION"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    ENVELOPE_MISMATCH = "ENVELOPE_MISMATCH"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    DUPLICATE_CONFLICT = "DUPLICATE_CONFLICT"
    PARSER_FAILED = "PARSER_FAILED"
    PAYLOAD_UNREADABLE = "PAYLOAD_UNREADABLE"
    MISSING_ENVELOPE = "MISSING_ENVELOPE"  # a bare X12 transaction set (ST..SE, no ISA/GS)
    MARKER_SKIPPED = "MARKER_SKIPPED"  # a sender's marker ("[SOM]") before the MSH
    CONTROL_CHARACTERS = "CONTROL_CHARACTERS"  # NUL and the like inside an HL7 v2 MSH
    # values inside a message
    MISSING_FIELD = "MISSING_FIELD"
    MISSING_AMOUNT = "MISSING_AMOUNT"
    INVALID_VALUE = "INVALID_VALUE"
    INVALID_DATE = "INVALID_DATE"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INEXACT_AMOUNT = "INEXACT_AMOUNT"
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    TOTAL_MISMATCH = "TOTAL_MISMATCH"
    UNBALANCED_REMITTANCE = "UNBALANCED_REMITTANCE"
    UNBALANCED_CLAIM = "UNBALANCED_CLAIM"
    UNBALANCED_SERVICE_LINE = "UNBALANCED_SERVICE_LINE"
    UNRESOLVED_REFERENCE = "UNRESOLVED_REFERENCE"
    EVENT_CONFLICT = "EVENT_CONFLICT"
    DERIVED_AMOUNT = "DERIVED_AMOUNT"  # an amount computed from a unit amount and a quantity
    NOTHING_TO_POST = "NOTHING_TO_POST"  # a financial resource that posts nothing, and why
    # master data and rules
    UNMAPPED_FACILITY = "UNMAPPED_FACILITY"
    UNMAPPED_DEPARTMENT = "UNMAPPED_DEPARTMENT"
    UNMAPPED_PAYER = "UNMAPPED_PAYER"
    UNMAPPED_ADJUSTMENT_REASON = "UNMAPPED_ADJUSTMENT_REASON"
    UNMAPPED_PLB_REASON = "UNMAPPED_PLB_REASON"
    UNMAPPED_ACCOUNT = "UNMAPPED_ACCOUNT"
    UNMAPPED_ADJUSTMENT_CATEGORY = "UNMAPPED_ADJUSTMENT_CATEGORY"
    MISSING_CONTEXT = "MISSING_CONTEXT"
    ORPHAN_REVERSAL = "ORPHAN_REVERSAL"
    CLOSED_PERIOD = "CLOSED_PERIOD"
    CONFIGURATION_MISSING = "CONFIGURATION_MISSING"
    # posting
    ERP_REJECTED = "ERP_REJECTED"
    ERP_UNAVAILABLE = "ERP_UNAVAILABLE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    code: ProblemCode
    message: str
    where: SourceRef = field(default_factory=SourceRef)
    severity: Severity = Severity.ERROR
    event_key: str | None = None
    # Non-PHI facts that help whoever works the item (amounts, codes), as ordered pairs.
    details: tuple[tuple[str, str], ...] = ()

    @property
    def locator(self) -> str:
        return self.where.locator

    def with_message_id(self, message_id: str) -> Problem:
        return Problem(
            code=self.code,
            message=self.message,
            where=self.where.with_message(message_id),
            severity=self.severity,
            event_key=self.event_key,
            details=self.details,
        )

    def __str__(self) -> str:
        return f"{self.code} at {self.where}: {self.message}"


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What a stage produced and every problem it found on the way.

    ``ignored_by`` names the explicit rule that made a message irrelevant (an A31 update, a
    notification-only remittance with nothing to post): the message ends ``ignored``, not lost.
    """

    items: tuple[T, ...] = ()
    problems: tuple[Problem, ...] = ()
    ignored_by: str | None = None

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)

    def __add__(self, other: Outcome[T]) -> Outcome[T]:
        return Outcome(
            self.items + other.items,
            self.problems + other.problems,
            self.ignored_by if self.ignored_by is not None else other.ignored_by,
        )

    @classmethod
    def of(cls, items: Iterable[T] = (), problems: Iterable[Problem] = ()) -> Outcome[T]:
        return cls(tuple(items), tuple(problems))
