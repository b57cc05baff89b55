"""Real files other systems send (issue 18): a sender's marker before the MSH, amounts only in
FT1-12, control characters inside the MSH. Each either reads with a located warning or INFO, or
is refused with a reason; none of them leaks the sentinel PHI into a problem or an ACK."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from revbridge.canonical.events import ChargeCaptured, ChargeReversed
from revbridge.core.money import Money
from revbridge.core.problem import Outcome, ProblemCode, Severity
from revbridge.formats.base import ParseContext
from revbridge.formats.hl7v2 import HL7V2, build_reject, parse
from revbridge.formats.hl7v2.ack import CONTROL_CHARACTERS
from revbridge.formats.hl7v2.stream import header_line
from revbridge.formats.registry import FORMATS
from revbridge.pipeline.intake import detect

SENTINEL_NAME = "ZZSENTINELNAME"
SENTINEL_MRN = "MRN8675309"
SENTINEL_DOB = "19010203"
MSH = "MSH|^~\\&|APP|FAC|RCV|RFAC|20240301120000||DFT^P03|CTRL1|P|2.5"
PID = f"PID|1||{SENTINEL_MRN}^^^HOSP^MR||{SENTINEL_NAME}^JANE||{SENTINEL_DOB}|F||||||||||ACCT9"
PV1 = "PV1|1|O|CLINIC||||||||||||||||V100"


def ft1(f10: str = "", f11: str = "", f12: str = "", f22: str = "", f6: str = "CG") -> str:
    fields = ["FT1", "1", "T1", "", "20240228", "", f6, "84460^^PROC", "", "", f10, f11, f12, "LAB^^X"]
    fields += [""] * 8 + [f22]
    return "|".join(fields)


def dft(*ft1s: str, lead: str = "") -> bytes:
    return (lead + "\r".join([MSH, "EVN|P03", PID, PV1, *ft1s]) + "\r").encode()


def no_phi(outcome: Outcome[object]) -> None:
    for p in outcome.problems:
        for sentinel in (SENTINEL_NAME, SENTINEL_MRN, SENTINEL_DOB):
            assert sentinel not in p.message and sentinel not in p.locator
            assert all(sentinel not in v for _k, v in p.details)


# ---- FT1-12 unit amount x FT1-10 quantity ----------------------------------------------------


@pytest.mark.parametrize(("quantity", "expected"), [("3", "120.00"), ("", "40.00"), ("2.5", "100.00")])
def test_an_empty_ft1_11_reads_ft1_12_times_the_quantity_with_an_info(
    ctx: ParseContext, quantity: str, expected: str
) -> None:
    outcome = HL7V2.to_events(dft(ft1(f10=quantity, f12="40.00")), ctx)
    [event] = outcome.items
    assert isinstance(event, ChargeCaptured)
    assert event.amount == Money.of(expected)
    assert event.quantity == (Decimal(quantity) if quantity else Decimal(1))
    [info] = outcome.problems
    assert (info.code, info.severity, info.locator) == (
        ProblemCode.DERIVED_AMOUNT,
        Severity.INFO,
        "FT1[1]-12",
    )
    assert info.event_key == "hl7v2:FAC:T1"
    assert "FT1-12" in info.message and expected in info.message
    assert outcome.ok
    no_phi(outcome)


def test_ft1_11_wins_over_ft1_12_and_says_nothing(ctx: ParseContext) -> None:
    outcome = HL7V2.to_events(dft(ft1(f10="3", f11="99.00", f12="40.00")), ctx)
    assert outcome.problems == ()
    assert outcome.items[0].amount == Money.of("99.00")  # type: ignore[attr-defined]


def test_ft1_12_wins_over_ft1_22(ctx: ParseContext) -> None:
    outcome = HL7V2.to_events(dft(ft1(f10="2", f12="40.00", f22="10.00")), ctx)
    assert outcome.items[0].amount == Money.of("80.00")  # type: ignore[attr-defined]
    assert [p.code for p in outcome.problems] == [ProblemCode.DERIVED_AMOUNT]


def test_ft1_22_alone_still_reads_without_an_info(ctx: ParseContext) -> None:
    outcome = HL7V2.to_events(dft(ft1(f10="2", f22="10.00")), ctx)
    assert outcome.items[0].amount == Money.of("20.00")  # type: ignore[attr-defined]
    assert outcome.problems == ()


def test_a_negative_quantity_times_ft1_12_is_a_reversal(ctx: ParseContext) -> None:
    outcome = HL7V2.to_events(dft(ft1(f10="-2", f12="40.00")), ctx)
    [event] = outcome.items
    assert isinstance(event, ChargeReversed)
    assert event.amount == Money.of("80.00")


def test_no_amount_anywhere_is_still_missing_amount(ctx: ParseContext) -> None:
    outcome = HL7V2.to_events(dft(ft1(f10="2")), ctx)
    assert outcome.items == ()
    [missing] = outcome.problems
    assert missing.code is ProblemCode.MISSING_AMOUNT
    assert "FT1-12" in missing.message


def test_an_unreadable_ft1_12_is_invalid_amount_at_ft1_12(ctx: ParseContext) -> None:
    outcome = HL7V2.to_events(dft(ft1(f12="12,50")), ctx)
    assert outcome.items == ()
    assert [(p.code, p.locator) for p in outcome.problems] == [(ProblemCode.INVALID_AMOUNT, "FT1[1]-12")]


# ---- a sender's marker before the MSH --------------------------------------------------------


@pytest.mark.parametrize("lead", ["[SOM]", "[SOM]\r\n", "[SOM]\r", "\ufeff[SOM]\n"])
def test_a_marker_before_the_msh_is_detected_split_and_read_with_a_warning(
    ctx: ParseContext, lead: str
) -> None:
    data = dft(ft1(f11="125.10"), lead=lead)
    assert detect(data, FORMATS) is HL7V2
    [envelope] = HL7V2.split(data)
    assert envelope.dedupe_key == "FAC|CTRL1"
    assert [(p.code, p.severity) for p in envelope.problems] == [
        (ProblemCode.MARKER_SKIPPED, Severity.WARNING)
    ]
    assert envelope.payload.rstrip().endswith(b"|LAB^^X" + b"|" * 9)  # the whole message, kept
    assert header_line(envelope.payload) == MSH.encode()
    outcome = HL7V2.to_events(envelope.payload, ctx)
    assert [e.amount for e in outcome.items] == [Money.of("125.10")]  # type: ignore[attr-defined]
    [warning] = outcome.problems
    assert (warning.code, warning.severity, warning.locator) == (
        ProblemCode.MARKER_SKIPPED,
        Severity.WARNING,
        "MSH[1]",
    )
    assert "[SOM]" not in warning.message  # the sender's text is never shown
    assert outcome.ok


def test_markers_before_each_message_of_a_file_stay_with_their_message(ctx: ParseContext) -> None:
    second = dft(ft1(f11="5.00")).replace(b"CTRL1", b"CTRL2")
    data = b"[SOM]\r\n" + dft(ft1(f11="1.00")) + b"[SOM]\r\n" + second
    envelopes = list(HL7V2.split(data))
    assert [e.dedupe_key for e in envelopes] == ["FAC|CTRL1", "FAC|CTRL2"]
    assert [e.payload[:5] for e in envelopes] == [b"[SOM]", b"[SOM]"]
    assert all(HL7V2.to_events(e.payload, ctx).ok for e in envelopes)


def test_text_that_is_no_marker_before_an_msh_line_is_kept_apart_and_the_message_read(
    ctx: ParseContext,
) -> None:
    data = b"Exported by SomeTool v2 on 2024-03-01\r\n" + dft(ft1(f11="1.00"))
    assert detect(data, FORMATS) is HL7V2
    junk, message = HL7V2.split(data)
    assert [p.code for p in junk.problems] == [ProblemCode.MALFORMED_MESSAGE]
    assert message.problems == () and message.dedupe_key == "FAC|CTRL1"
    assert HL7V2.to_events(message.payload, ctx).ok


@pytest.mark.parametrize(
    "data",
    [
        b"just some words, MSH|^~\\&|A|B|C|D|20240301||ADT^A01|1|P|2.5\r",
        b'{"note": "MSH|^~\\\\&|A"}',
        b"x" * 80 + b"MSH|^~\\&|A|B|C|D|20240301||ADT^A01|1|P|2.5\r",
        b"PID|1||123\r",
    ],
)
def test_text_that_is_no_marker_still_tells_no_hl7(data: bytes) -> None:
    assert not HL7V2.detect(data)


# ---- control characters inside the MSH -------------------------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\x07", "\x7f"])
def test_control_characters_in_the_msh_are_refused(ctx: ParseContext, bad: str) -> None:
    data = dft(ft1(f11="1.00")).replace(b"CTRL1", f"CT{bad}RL1".encode())
    [envelope] = HL7V2.split(data)
    assert [(p.code, p.severity) for p in envelope.problems] == [
        (ProblemCode.CONTROL_CHARACTERS, Severity.ERROR)
    ]
    message, problems = parse(data)
    assert message is None
    assert [p.code for p in problems] == [ProblemCode.CONTROL_CHARACTERS]
    outcome = HL7V2.to_events(data, ctx)
    assert outcome.items == () and not outcome.ok


def test_a_reject_never_echoes_a_control_character() -> None:
    frame = b"MSH|^~\\&|AP\x00P|FA\x00C|RCV|RFAC|20240301||DFT^P03|CT\x00RL1|P|2.5\rPID|1\r"
    ack = build_reject(
        frame, control_ids=lambda: "ACK1", now=datetime(2024, 3, 1, tzinfo=UTC), error=CONTROL_CHARACTERS
    )
    assert all(b >= 0x20 or b == 0x0D for b in ack)
    assert b"|AR|CTRL1|" in ack  # MSA-2 echoes the control id without the NUL
    assert b"|RCV|RFAC|APP|FAC|" in ack


def test_a_nul_as_field_separator_is_not_used_as_a_delimiter() -> None:
    frame = b"MSH\x00^~\\&\x00APP\x00FAC\x00RCV\rPID|1\r"
    ack = build_reject(
        frame, control_ids=lambda: "ACK1", now=datetime(2024, 3, 1, tzinfo=UTC), error=CONTROL_CHARACTERS
    )
    assert b"\x00" not in ack
    assert b"\rMSA|AR|" in ack


def test_som_and_eom_markers_around_each_message_are_skipped_with_warnings(ctx: ParseContext) -> None:
    second = dft(ft1(f11="5.00")).replace(b"CTRL1", b"CTRL2")
    data = b"[SOM]" + dft(ft1(f11="1.00")) + b"[EOM]\r\n[SOM]\r\n" + second + b"[EOM]\r\n"
    envelopes = list(HL7V2.split(data))
    assert [e.dedupe_key for e in envelopes] == ["FAC|CTRL1", "FAC|CTRL2"]
    for envelope in envelopes:
        assert envelope.payload.startswith(b"[SOM]") and envelope.payload.rstrip().endswith(b"[EOM]")
        outcome = HL7V2.to_events(envelope.payload, ctx)
        assert len(outcome.items) == 1
        assert [(p.code, p.severity) for p in outcome.problems] == [
            (ProblemCode.MARKER_SKIPPED, Severity.WARNING),
            (ProblemCode.MARKER_SKIPPED, Severity.WARNING),
        ]


def test_a_marker_line_in_the_middle_of_a_message_is_still_a_malformed_segment(ctx: ParseContext) -> None:
    data = dft(ft1(f11="1.00")).replace(b"EVN|P03\r", b"EVN|P03\r[EOM]\r")
    outcome = HL7V2.to_events(data, ctx)
    assert (ProblemCode.MALFORMED_SEGMENT, "segment[3]") in [(p.code, p.locator) for p in outcome.problems]
    assert not outcome.ok
