"""ADT and BAR -> encounter context events; non-financial triggers ignored by a named rule;
other message types unsupported; whole-message problems located."""

from __future__ import annotations

from datetime import date

import pytest

from revbridge.canonical.events import (
    CanonicalEvent,
    Coverage,
    EncounterCancelled,
    EncounterRegistered,
    EncounterUpdated,
)
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Outcome, ProblemCode, Severity
from revbridge.formats.base import ParseContext
from revbridge.formats.hl7v2 import HL7V2, NON_FINANCIAL_TRIGGER


def segment(name: str, fields: dict[int, str]) -> str:
    return "|".join([name, *(fields.get(n, "") for n in range(1, max(fields) + 1))])


def msh(message_type: str = "ADT^A01", facility: str = "FAC", control: str = "CTRL1") -> str:
    return f"MSH|^~\\&|APP|{facility}|RCV|RFAC|20240301120000||{message_type}|{control}|P|2.5"


EVN = "EVN|A01|20240301115900"
PID = segment("PID", {1: "1", 3: "555^^^HOSP^SS~MRN123^^^HOSP^MR", 5: "DOE^JANE", 7: "19800101"})
PV1 = segment(
    "PV1", {1: "1", 2: "I", 3: "3E^324^01", 10: "MED", 19: "V100^^^HOSP^VN", 44: "20240301093000", 45: ""}
)
GT1 = segment("GT1", {1: "1", 2: "G77", 3: "DOE^JOHN", 5: "1 MAIN ST"})
IN1_PRIMARY = segment(
    "IN1", {1: "1", 2: "PPO^Gold", 3: "608^^^^NIIP", 4: "BLUE CROSS", 36: "POL-1", 49: "INS-1"}
)
IN1_SECONDARY = segment("IN1", {1: "", 2: "", 3: "705", 4: "SELF PAY", 49: "INS-2"})


def run(ctx: ParseContext, *segments: str) -> Outcome[CanonicalEvent]:
    return HL7V2.to_events(("\r".join(segments) + "\r").encode(), ctx)


def codes(outcome: Outcome[CanonicalEvent]) -> list[tuple[ProblemCode, str]]:
    return [(p.code, p.locator) for p in outcome.problems]


def test_a_registration(ctx: ParseContext) -> None:
    outcome = run(ctx, msh(), EVN, PID, PV1, GT1, IN1_PRIMARY, "IN2|1", IN1_SECONDARY)
    assert outcome.problems == ()
    assert outcome.ignored_by is None
    assert outcome.items == (
        EncounterRegistered(
            key="hl7v2:FAC:CTRL1:A01",
            source=SourceRef("msg-1", "PV1[1]"),
            occurred_on=date(2024, 3, 1),
            facility="FAC",
            encounter="V100",
            patient=ctx.tokenizer("mrn", "MRN123"),
            guarantor=ctx.tokenizer("guarantor", "G77"),
            patient_class="I",
            department="MED",
            admitted_on=date(2024, 3, 1),
            discharged_on=None,
            coverages=(
                Coverage(payer_id="608", plan="PPO", priority=1, member=ctx.tokenizer("member", "POL-1")),
                Coverage(payer_id="705", plan="", priority=2, member=ctx.tokenizer("member", "INS-2")),
            ),
            trigger="A01",
        ),
    )


@pytest.mark.parametrize(
    ("message_type", "event_type"),
    [
        ("ADT^A01^ADT_A01", EncounterRegistered),
        ("ADT^A04", EncounterRegistered),
        ("ADT^A05", EncounterRegistered),
        ("BAR^P01", EncounterRegistered),
        ("ADT^A08", EncounterUpdated),
        ("ADT^A03", EncounterUpdated),
        ("ADT^A13", EncounterUpdated),
        ("adt^a08", EncounterUpdated),
        ("BAR^P05", EncounterUpdated),
        ("BAR^P06", EncounterUpdated),
    ],
)
def test_triggers(ctx: ParseContext, message_type: str, event_type: type) -> None:
    outcome = run(ctx, msh(message_type), PID, PV1, IN1_PRIMARY)
    assert [type(e) for e in outcome.items] == [event_type]
    trigger = message_type.split("^")[1].upper()
    assert outcome.items[0].key == f"hl7v2:FAC:CTRL1:{trigger}"
    assert outcome.items[0].trigger == trigger  # type: ignore[union-attr]
    assert outcome.items[0].coverages[0].payer_id == "608"  # type: ignore[union-attr]


def test_a_cancellation(ctx: ParseContext) -> None:
    outcome = run(ctx, msh("ADT^A11"), "EVN|A11|20240302080000", PID, PV1)
    assert outcome.items == (
        EncounterCancelled(
            key="hl7v2:FAC:CTRL1:A11",
            source=SourceRef("msg-1", "PV1[1]"),
            occurred_on=date(2024, 3, 2),
            facility="FAC",
            encounter="V100",
            patient=ctx.tokenizer("mrn", "MRN123"),
            trigger="A11",
        ),
    )


@pytest.mark.parametrize("message_type", ["ADT^A31", "ADT^A02", "ADT^A40", "BAR^P02", "ADT^Z99"])
def test_non_financial_triggers_are_ignored_by_the_named_rule(ctx: ParseContext, message_type: str) -> None:
    outcome = run(ctx, msh(message_type), PID, PV1)
    assert outcome == Outcome(ignored_by=NON_FINANCIAL_TRIGGER)
    assert NON_FINANCIAL_TRIGGER == "hl7v2.non_financial_trigger"


@pytest.mark.parametrize(
    ("message_type", "expected"),
    [
        ("ORU^R01", (ProblemCode.UNSUPPORTED_MESSAGE, "MSH[1]-9")),
        ("ACK^A01", (ProblemCode.UNSUPPORTED_MESSAGE, "MSH[1]-9")),
        ("DFT^P99", (ProblemCode.UNSUPPORTED_MESSAGE, "MSH[1]-9")),
        ("", (ProblemCode.MISSING_FIELD, "MSH[1]-9")),
    ],
)
def test_other_message_types(ctx: ParseContext, message_type: str, expected: tuple[ProblemCode, str]) -> None:
    outcome = run(ctx, msh(message_type), PID, PV1)
    assert outcome.items == ()
    assert outcome.ignored_by is None
    assert codes(outcome) == [expected]


def test_the_trigger_comes_from_evn_when_msh_9_has_none(ctx: ParseContext) -> None:
    outcome = run(ctx, msh("ADT"), "EVN|A04|20240301", PID, PV1)
    assert [type(e) for e in outcome.items] == [EncounterRegistered]
    assert outcome.items[0].key == "hl7v2:FAC:CTRL1:A04"


def test_an_evn_trigger_that_disagrees_is_a_warning(ctx: ParseContext) -> None:
    outcome = run(ctx, msh("ADT^A03"), "EVN|A01|20240301", PID, PV1)
    assert [type(e) for e in outcome.items] == [EncounterUpdated]
    [warning] = outcome.problems
    assert (warning.code, warning.locator, warning.severity) == (
        ProblemCode.INVALID_VALUE,
        "EVN[1]-1",
        Severity.WARNING,
    )
    assert outcome.ok


@pytest.mark.parametrize(
    ("evn", "expected"),
    [
        ("EVN|A01|20240301115900||||20240229", date(2024, 2, 29)),  # EVN-6 event occurred
        ("EVN|A01|20240228", date(2024, 2, 28)),  # EVN-2 recorded
        ("EVN|A01", date(2024, 3, 1)),  # MSH-7
    ],
)
def test_event_date(ctx: ParseContext, evn: str, expected: date) -> None:
    [event] = run(ctx, msh(), evn, PID, PV1).items
    assert event.occurred_on == expected


def test_an_invalid_event_date_is_an_error(ctx: ParseContext) -> None:
    outcome = run(ctx, msh(), "EVN|A01|2024-03-01", PID, PV1)
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.INVALID_DATE, "EVN[1]-2")]
    assert outcome.problems[0].event_key == "hl7v2:FAC:CTRL1:A01"


def test_an_invalid_admit_date_is_a_warning(ctx: ParseContext) -> None:
    pv1 = PV1.replace("20240301093000", "20241301")
    [event] = (outcome := run(ctx, msh(), EVN, PID, pv1)).items
    assert isinstance(event, EncounterRegistered)
    assert event.admitted_on is None
    assert [(p.code, p.locator, p.severity) for p in outcome.problems] == [
        (ProblemCode.INVALID_DATE, "PV1[1]-44.1", Severity.WARNING)
    ]


def test_patient_identifier_choice(ctx: ParseContext) -> None:
    only_ss = segment("PID", {1: "1", 3: "555^^^HOSP^SS"})
    [event] = run(ctx, msh(), only_ss, PV1).items
    assert event.patient == ctx.tokenizer("mrn", "555")  # type: ignore[union-attr]
    old_style = segment("PID", {1: "1", 2: "OLD42^^^HOSP", 5: "DOE^JANE"})
    [event] = run(ctx, msh(), old_style, PV1).items
    assert event.patient == ctx.tokenizer("mrn", "OLD42")  # type: ignore[union-attr]
    no_id = segment("PID", {1: "1", 5: "DOE^JANE"})
    outcome = run(ctx, msh(), no_id, PV1)
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.MISSING_FIELD, "PID[1]-3")]


def test_encounter_fallbacks_and_absence(ctx: ParseContext) -> None:
    pid_with_account = segment("PID", {1: "1", 3: "MRN123^^^HOSP^MR", 18: "ACCT9"})
    no_visit = segment("PV1", {1: "1", 2: "O", 3: "ED^^^1"})
    [event] = run(ctx, msh(), pid_with_account, no_visit).items
    assert isinstance(event, EncounterRegistered)
    assert (event.encounter, event.department) == ("ACCT9", "ED")
    outcome = run(ctx, msh(), PID, no_visit)
    assert codes(outcome) == [(ProblemCode.MISSING_FIELD, "PV1[1]-19")]
    outcome = run(ctx, msh(), PID)
    assert codes(outcome) == [(ProblemCode.MISSING_FIELD, "PID[1]-18")]
    outcome = run(ctx, msh())
    assert codes(outcome) == [
        (ProblemCode.MISSING_FIELD, "PID[1]-3"),
        (ProblemCode.MISSING_FIELD, "PV1[1]-19"),
    ]


def test_an_insurance_without_a_payer_id_is_left_out_with_a_warning(ctx: ParseContext) -> None:
    nameless = segment("IN1", {1: "1", 4: "Large Blue Organization"})
    [event] = (outcome := run(ctx, msh(), PID, PV1, nameless, IN1_SECONDARY)).items
    assert isinstance(event, EncounterRegistered)
    assert [c.payer_id for c in event.coverages] == ["705"]
    assert [c.priority for c in event.coverages] == [2]  # its order among IN1s
    assert [(p.code, p.locator, p.severity) for p in outcome.problems] == [
        (ProblemCode.MISSING_FIELD, "IN1[1]-3.1", Severity.WARNING)
    ]


def test_payload_with_two_messages_is_refused(ctx: ParseContext) -> None:
    outcome = run(ctx, msh(), PID, PV1, msh(control="CTRL2"), PID, PV1)
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.MALFORMED_MESSAGE, "MSH[2]")]


def test_no_msh_and_garbage_segments(ctx: ParseContext) -> None:
    outcome = HL7V2.to_events(b"PID|1||123\r", ctx)
    assert codes(outcome) == [(ProblemCode.MALFORMED_MESSAGE, "segment[1]")]
    assert outcome.problems[0].where.message_id == "msg-1"
    outcome = run(ctx, msh(), PID, "@@@ noise", PV1)
    assert [type(e) for e in outcome.items] == [EncounterRegistered]
    assert codes(outcome) == [(ProblemCode.MALFORMED_SEGMENT, "segment[3]")]
    assert outcome.problems[0].where.message_id == "msg-1"
    assert not outcome.ok
