"""Accounting periods per legal entity and the closed-period policy (DESIGN.md section 8).

The store keeps which periods a controller has closed; this module only answers, for a given
calendar, whether a day is open and where a posting dated in a closed period goes. A day no
period covers is open: a new installation posts everywhere until somebody closes something.
The policy either moves the posting to the first open day on or after its date (and records the
original date on the draft, so reports can flag it) or refuses it with a CLOSED_PERIOD problem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum

from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode
from revbridge.ledger.journal import JournalDraft, JournalError


class PeriodStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ClosedPeriodPolicy(StrEnum):
    NEXT_OPEN_DAY = "next_open_day"
    PROBLEM = "problem"


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    legal_entity: str
    start: date
    end: date  # inclusive
    status: PeriodStatus
    name: str = ""  # "2024-03"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise JournalError(f"period {self.name or self.start} ends before it starts")

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class PeriodCalendar:
    periods: tuple[Period, ...] = ()

    def _closed(self, legal_entity: str, day: date) -> Period | None:
        for period in self.periods:
            if (
                period.legal_entity == legal_entity
                and period.status is PeriodStatus.CLOSED
                and period.covers(day)
            ):
                return period
        return None

    def is_open(self, legal_entity: str, day: date) -> bool:
        return self._closed(legal_entity, day) is None

    def first_open_day(self, legal_entity: str, day: date) -> date:
        """The first open day on or after ``day``; always exists because periods are finite."""
        closed = self._closed(legal_entity, day)
        while closed is not None:
            day = closed.end + timedelta(days=1)
            closed = self._closed(legal_entity, day)
        return day


def place(
    draft: JournalDraft, calendar: PeriodCalendar, policy: ClosedPeriodPolicy
) -> JournalDraft | Problem:
    """The draft as it may be posted under the policy, or a CLOSED_PERIOD problem."""
    if calendar.is_open(draft.legal_entity, draft.posting_date):
        return draft
    if policy is ClosedPeriodPolicy.NEXT_OPEN_DAY:
        return replace(
            draft,
            posting_date=calendar.first_open_day(draft.legal_entity, draft.posting_date),
            moved_from=draft.moved_from or draft.posting_date,
        )
    return Problem(
        code=ProblemCode.CLOSED_PERIOD,
        message=(
            f"posting date {draft.posting_date.isoformat()} is in a closed period of legal entity "
            f"{draft.legal_entity}"
        ),
        where=SourceRef("", "posting_date"),
        event_key=draft.source_document_key,
        details=(("legal_entity", draft.legal_entity), ("posting_date", draft.posting_date.isoformat())),
    )
