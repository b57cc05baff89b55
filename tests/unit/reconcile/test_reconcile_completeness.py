"""Completeness: counts per day, source and state; each terminal state with its evidence."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from reconcile_facts import DAY, NOW, R, line, message, usd

from revbridge.reconcile import Control, EventFact, Thresholds
from revbridge.reconcile.completeness import check

T = Thresholds(in_flight=timedelta(minutes=30), waiting=timedelta(hours=25))


def event(key: str, message_id: str, state: str, message_state: str = "processed") -> EventFact:
    return EventFact(
        key=key,
        kind="ChargeCaptured",
        message_id=message_id,
        facility="STJ",
        occurred_on=DAY,
        amount=usd("10.00"),
        state=state,
        message_state=message_state,
    )


def test_counts_per_day_source_and_state_and_every_state_totalled() -> None:
    found = check(
        [
            message("m1", "processed"),
            message("m2", "processed", channel="http:fhir:key-1"),
            message("m3", "excepted", work_items=("UNMAPPED_PAYER",), channel="file:era.835"),
            message("m4", "duplicate", duplicate_of="m1", duplicate_found=True),
            message("m5", "ignored", terminal_reason="A31 updates carry no financial data"),
        ],
        [],
        {},
        now=NOW,
        thresholds=T,
    )
    assert found.breaks == ()
    day = (NOW - timedelta(hours=1)).date()
    assert found.counts == (
        (day, "file", "excepted", 1),
        (day, "http", "processed", 1),
        (day, "mllp", "duplicate", 1),
        (day, "mllp", "ignored", 1),
        (day, "mllp", "processed", 1),
    )
    assert found.totals() == {
        "pending": 0,
        "processing": 0,
        "waiting": 0,
        "processed": 2,
        "excepted": 1,
        "ignored": 1,
        "duplicate": 1,
    }


def test_messages_not_yet_terminal_are_listed_and_break_only_when_stale() -> None:
    found = check(
        [
            message("young", "pending", received_at=NOW - timedelta(minutes=5)),
            message("stuck", "processing", received_at=NOW - timedelta(hours=2)),
            message("waits", "waiting", received_at=NOW - timedelta(hours=20)),
            message("waited", "waiting", received_at=NOW - timedelta(days=2)),
        ],
        [],
        {},
        now=NOW,
        thresholds=T,
    )
    assert [(u.message_id, u.stale) for u in found.unfinished] == [
        ("waited", True),
        ("waits", False),
        ("stuck", True),
        ("young", False),
    ]
    assert [b.subject for b in found.breaks] == ["message stuck", "message waited"]
    assert all(b.control is Control.COMPLETENESS for b in found.breaks)
    assert found.breaks[0].message == "hl7v2 message from mllp still processing after 2h"
    assert found.as_json()["not_terminal"][0]["age"] == "2d"  # type: ignore[index]


def test_each_terminal_state_needs_its_evidence() -> None:
    found = check(
        [
            message("e", "excepted"),
            message("i", "ignored", terminal_reason=" "),
            message("d1", "duplicate"),
            message("d2", "duplicate", duplicate_of="gone", duplicate_found=False),
            message("u", "lost"),
        ],
        [],
        {},
        now=NOW,
        thresholds=T,
    )
    assert [(b.subject, b.message) for b in found.breaks] == [
        ("message e", "excepted, but no work item says why"),
        ("message i", "ignored, but no rule is named"),
        ("message d1", "duplicate, but of no named message"),
        ("message d2", "duplicate of message gone, which does not exist"),
        ("message u", "unknown message state 'lost'"),
    ]


def test_a_processed_message_leaves_none_of_its_posting_events_unposted() -> None:
    events = [event("a", "m1", "staged"), event("b", "m1", "recorded"), event("c", "m1", "waiting")]
    found = check(
        [message("m1", "processed")],
        events,
        {"a": [line("a", R.GROSS_REVENUE, "-10.00")]},
        now=NOW,
        thresholds=T,
    )
    (brk,) = found.breaks
    assert brk.message == "processed, but 2 of its posting events are recorded, waiting"
    assert brk.event_keys == ("b", "c")


def test_a_staged_event_without_subledger_rows_and_unknown_event_states() -> None:
    events = [event("a", "m1", "staged"), replace(event("b", "m1", "staged"), state="posted?")]
    found = check([message("m1", "processed")], events, {}, now=NOW, thresholds=T)
    assert [(b.subject, b.message) for b in found.breaks] == [
        ("event a", "ChargeCaptured is staged, but the subledger has no rows for it"),
        ("event b", "unknown event state 'posted?'"),
    ]
