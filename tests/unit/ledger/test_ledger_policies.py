"""Batch windows and periods: pure policies the pipeline asks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from revbridge.core.money import Money
from revbridge.core.problem import Problem, ProblemCode
from revbridge.ledger import (
    AccountRole,
    ClosedPeriodPolicy,
    Dimensions,
    JournalDraft,
    JournalError,
    JournalLine,
    Lane,
    Period,
    PeriodCalendar,
    PeriodStatus,
    Side,
    WindowPolicy,
    is_due,
    place,
)

OPENED = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
POLICY = WindowPolicy(max_age=timedelta(minutes=5), max_lines=100)


def test_window_is_due_when_old_enough() -> None:
    assert not is_due(POLICY, opened_at=OPENED, line_count=1, now=OPENED + timedelta(minutes=4, seconds=59))
    assert is_due(POLICY, opened_at=OPENED, line_count=1, now=OPENED + timedelta(minutes=5))


def test_window_is_due_when_full_enough() -> None:
    assert not is_due(POLICY, opened_at=OPENED, line_count=99, now=OPENED)
    assert is_due(POLICY, opened_at=OPENED, line_count=100, now=OPENED)


def test_window_policy_refuses_nonsense() -> None:
    with pytest.raises(JournalError):
        WindowPolicy(max_age=timedelta(0), max_lines=10)
    with pytest.raises(JournalError):
        WindowPolicy(max_age=timedelta(seconds=1), max_lines=0)


MARCH = Period(legal_entity="MHN", start=date(2024, 3, 1), end=date(2024, 3, 31), status=PeriodStatus.CLOSED)
APRIL = Period(legal_entity="MHN", start=date(2024, 4, 1), end=date(2024, 4, 30), status=PeriodStatus.CLOSED)
MAY = Period(legal_entity="MHN", start=date(2024, 5, 1), end=date(2024, 5, 31), status=PeriodStatus.OPEN)
CALENDAR = PeriodCalendar((MARCH, APRIL, MAY))


def draft(day: date, entity: str = "MHN") -> JournalDraft:
    dims = Dimensions(legal_entity=entity)
    return JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=entity,
        currency="USD",
        posting_date=day,
        source_document_key="doc-1",
        lines=(
            JournalLine(
                account="1015",
                role=AccountRole.CASH_CLEARING,
                side=Side.DEBIT,
                amount=Money.of("1.00"),
                dimensions=dims,
            ),
            JournalLine(
                account="1211",
                role=AccountRole.AR_PAYER,
                side=Side.CREDIT,
                amount=Money.of("1.00"),
                dimensions=dims,
            ),
        ),
    )


def test_calendar_knows_open_and_closed_days_per_legal_entity() -> None:
    assert not CALENDAR.is_open("MHN", date(2024, 3, 15))
    assert CALENDAR.is_open("MHN", date(2024, 5, 2))
    assert CALENDAR.is_open("MHN", date(2024, 2, 29))  # no period defined: open
    assert CALENDAR.is_open("MHS", date(2024, 3, 15))  # another legal entity's close does not apply
    assert CALENDAR.first_open_day("MHN", date(2024, 3, 15)) == date(2024, 5, 1)  # across two closed months


def test_next_open_day_policy_moves_the_posting_and_flags_it() -> None:
    moved = place(draft(date(2024, 3, 15)), CALENDAR, ClosedPeriodPolicy.NEXT_OPEN_DAY)

    assert isinstance(moved, JournalDraft)
    assert moved.posting_date == date(2024, 5, 1)
    assert moved.moved_from == date(2024, 3, 15)
    assert moved.lines == draft(date(2024, 3, 15)).lines


def test_open_day_is_left_alone_under_either_policy() -> None:
    for policy in ClosedPeriodPolicy:
        assert place(draft(date(2024, 5, 3)), CALENDAR, policy) == draft(date(2024, 5, 3))


def test_problem_policy_refuses_a_closed_period() -> None:
    refused = place(draft(date(2024, 4, 2)), CALENDAR, ClosedPeriodPolicy.PROBLEM)

    assert isinstance(refused, Problem)
    assert refused.code is ProblemCode.CLOSED_PERIOD
    assert refused.event_key == "doc-1"
    assert dict(refused.details) == {"legal_entity": "MHN", "posting_date": "2024-04-02"}


def test_period_refuses_an_end_before_its_start() -> None:
    with pytest.raises(JournalError):
        Period(legal_entity="MHN", start=date(2024, 3, 2), end=date(2024, 3, 1), status=PeriodStatus.OPEN)
