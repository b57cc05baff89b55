"""Original-mode ACKs: MSH with sender and receiver swapped, MSA, ERR for AE/AR, fixed clock and
control ids, the message's own delimiters; and AR for a frame with no usable MSH."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import hl7
import pytest

from revbridge.formats.hl7v2 import AckCode, AckError, Address, build_ack, build_reject, parse
from revbridge.formats.hl7v2.ack import NO_USABLE_HEADER, frame_too_large
from revbridge.formats.hl7v2.message import Message

NOW = datetime(2024, 3, 1, 12, 30, 45, tzinfo=UTC)
DFT = (
    "MSH|^~\\&|HMS03|NCA^1.2.3^ISO|EPIC|NCA-R|200909261522||DFT^P03|152210|T|2.5\r"
    "PID|1||123^^^H^MR\rFT1|1|T1||20090923||CG|||1|125.10\r"
)


def ids(*values: str) -> Callable[[], str]:
    source = iter(values)
    return lambda: next(source)


def message(text: str | bytes) -> Message:
    parsed, problems = parse(text)
    assert problems == ()
    assert parsed is not None
    return parsed


def test_an_aa_swaps_sender_and_receiver_and_echoes_the_control_id() -> None:
    ack = build_ack(message(DFT), AckCode.AA, control_ids=ids("ACK0001"), now=NOW)
    assert ack == (
        b"MSH|^~\\&|EPIC|NCA-R|HMS03|NCA^1.2.3^ISO|20240301123045+0000||ACK^P03^ACK|ACK0001|T|2.5\r"
        b"MSA|AA|152210\r"
    )
    parsed = message(ack)
    assert [s.name for s in parsed.segments] == ["MSH", "MSA"]
    # python-hl7 reads it the same way.
    theirs = hl7.parse(ack.decode())
    assert str(theirs["MSH.F9.R1.C1"]) == "ACK"
    assert str(theirs["MSH.F6.R1.C2"]) == "1.2.3"
    assert str(theirs["MSA.F2"]) == "152210"


def test_an_ae_names_the_reason_in_err() -> None:
    error = AckError(
        code="207",
        text="Amount|missing^here",
        severity="E",
        location=Address.parse("FT1[2]-11.1"),
    )
    ack = build_ack(message(DFT), AckCode.AE, control_ids=ids("A2"), now=NOW, error=error)
    parsed = message(ack)
    msa = parsed.first("MSA")
    err = parsed.first("ERR")
    assert msa is not None
    assert err is not None
    assert (msa.get(1), msa.get(2), msa.get(3)) == ("AE", "152210", "Amount|missing^here")
    assert err.raw_field(2) == "FT1^2^11^1^1"
    assert err.raw_field(3) == "207^Application internal error^HL70357"
    assert err.get(4) == "E"
    assert err.get(8) == "Amount|missing^here"  # escaped on the wire, intact when read
    assert "Amount\\F\\missing\\S\\here" in ack.decode()


def test_an_ar_without_a_reason_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="needs an AckError"):
        build_ack(message(DFT), AckCode.AR, control_ids=ids("X"), now=NOW)


def test_custom_delimiters_and_charset_are_kept() -> None:
    text = "MSH#*@!$#APP#FAC#RCV#RFAC#20240301##ADT*A01#C9#P#2.3.1\rNTE#1##caf\xe9\r"
    parsed = message(text.encode("latin-1"))
    error = AckError(code="101", text="No visit #19 é", location=Address.parse("PV1[1]-19"))
    ack = build_ack(parsed, AckCode.AR, control_ids=ids("R1"), now=NOW, error=error)
    assert ack.startswith(b"MSH#*@!$#RCV#RFAC#APP#FAC#20240301123045+0000##ACK*A01*ACK#R1#P#2.3.1\r")
    reply = message(ack)
    assert reply.charset == "latin-1"
    err = reply.first("ERR")
    assert err is not None
    assert err.get(8) == "No visit #19 é"
    assert err.raw_field(2) == "PV1*1*19*1"
    assert err.raw_field(3) == "101*Required field missing*HL70357"


@pytest.mark.parametrize(
    ("now", "stamp"),
    [
        (datetime(2024, 3, 1, 7, 5, 9), "20240301070509"),
        (datetime(2024, 3, 1, 7, 5, 9, tzinfo=timezone(timedelta(hours=-5))), "20240301070509-0500"),
    ],
)
def test_the_clock_is_a_parameter(now: datetime, stamp: str) -> None:
    ack = message(build_ack(message(DFT), AckCode.AA, control_ids=ids("C"), now=now))
    assert ack.header.get(7) == stamp


def test_control_ids_come_from_the_source_one_per_ack() -> None:
    counter = itertools.count(1)
    source = lambda: f"ACK{next(counter):04d}"  # noqa: E731
    parsed = message(DFT)
    first = build_ack(parsed, AckCode.AA, control_ids=source, now=NOW)
    second = build_ack(parsed, AckCode.AA, control_ids=source, now=NOW)
    assert message(first).header.get(10) == "ACK0001"
    assert message(second).header.get(10) == "ACK0002"


def test_a_message_without_trigger_gets_a_bare_ack_type() -> None:
    ack = build_ack(
        message("MSH|^~\\&|A|B|C|D|2024||ADT|X1|P|2.1\r"), AckCode.AA, control_ids=ids("Y"), now=NOW
    )
    assert message(ack).header.raw_field(9) == "ACK"


def test_a_reject_for_garbage_echoes_nothing_but_is_a_valid_ack() -> None:
    ack = build_reject(b"\x00\x01garbage", control_ids=ids("R9"), now=NOW)
    parsed = message(ack)
    header = parsed.header
    assert [header.get(n) for n in (3, 4, 5, 6, 9, 10, 11, 12)] == ["", "", "", "", "ACK", "R9", "P", "2.5"]
    msa = parsed.first("MSA")
    err = parsed.first("ERR")
    assert msa is not None
    assert err is not None
    assert (msa.get(1), msa.get(2)) == ("AR", "")
    assert err.raw_field(3) == "100^Segment sequence error^HL70357"
    assert err.get(8) == NO_USABLE_HEADER.text


def test_a_reject_echoes_what_a_broken_header_still_shows() -> None:
    frame = b"\x0bMSH|^^\\&|APP|FAC|RCV|RFAC|2024||ADT^A01|C^7|P|2.4\rPID|1\r\x1c\r"
    ack = build_reject(frame, control_ids=ids("R1"), now=NOW)
    parsed = message(ack)
    header = parsed.header
    assert [header.get(n) for n in (3, 4, 5, 6, 11, 12)] == ["RCV", "RFAC", "APP", "FAC", "P", "2.4"]
    msa = parsed.first("MSA")
    assert msa is not None
    assert msa.get(2) == "C^7"  # echoed as text, escaped for the standard delimiters


def test_a_reject_for_a_readable_header_uses_its_delimiters() -> None:
    frame = b"MSH#*@!$#APP#FAC#RCV#RFAC#20240301##DFT*P03#C9#P#2.5\r" + b"FT1#" + b"9" * 100
    ack = build_reject(frame, control_ids=ids("R2"), now=NOW, error=frame_too_large(64))
    assert ack.startswith(b"MSH#*@!$#RCV#RFAC#APP#FAC#20240301123045+0000##ACK*P03*ACK#R2#P#2.5\rMSA#AR#C9#")
    err = message(ack).first("ERR")
    assert err is not None
    assert err.get(8) == "The frame exceeds the maximum of 64 bytes"
    assert err.get(3) == "207"
