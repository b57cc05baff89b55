"""detect and split: one envelope per MSH, batch wrappers dropped, stray bytes kept as a located
problem, dedupe keys from the raw MSH-4 and MSH-10."""

from __future__ import annotations

import pytest

from revbridge.core.problem import ProblemCode
from revbridge.formats.hl7v2 import HL7V2, detect, split


def msh(control: str, facility: str = "FAC") -> bytes:
    return f"MSH|^~\\&|APP|{facility}|RCV|RFAC|20240301||ADT^A01|{control}|P|2.5".encode()


@pytest.mark.parametrize(
    "head",
    [
        b"MSH|^~\\&|",
        b"\xef\xbb\xbfMSH|^~\\&|",
        b"\r\n  MSH|^~\\&",
        b"FHS|^~\\&|",
        b"BHS|^~\\&|",
        b"\x0bMSH|^~\\&|",
    ],
)
def test_detect_accepts_hl7(head: bytes) -> None:
    assert detect(head)
    assert HL7V2.detect(head)


@pytest.mark.parametrize(
    "head", [b"", b"MSH", b"MSHX|", b'{"resourceType":', b"ISA*00*", b"PID|1|", b"msh|^~\\&"]
)
def test_detect_refuses_other_things(head: bytes) -> None:
    assert not detect(head)


def test_format_name() -> None:
    assert HL7V2.name == "hl7v2"


def test_one_envelope_per_message_with_bytes_kept_exactly() -> None:
    first = msh("C1") + b"\rPID|1||123\r"
    second = msh("C2") + b"\nPID|1||456\n"
    third = msh("C3") + b"\r\nPID|1||789"
    data = b"\xef\xbb\xbf" + first + b"\r\n\r\n" + second + b"\n   \n" + third
    envelopes = list(HL7V2.split(data))
    assert [e.payload for e in envelopes] == [first, second, third]
    assert [e.locator for e in envelopes] == ["message[1]", "message[2]", "message[3]"]
    assert [e.dedupe_key for e in envelopes] == ["FAC|C1", "FAC|C2", "FAC|C3"]
    assert all(e.format == "hl7v2" and e.problems == () for e in envelopes)


def test_batch_wrappers_are_dropped() -> None:
    data = (
        b"FHS|^~\\&||ABCHS\rBHS|^~\\&||ABCHS\r"
        + msh("C1")
        + b"\rPID|1\rBTS|1\rBHS|^~\\&\r"
        + msh("C2")
        + b"\rPID|2\rBTS|1\rFTS|2\r"
    )
    envelopes = list(split(data))
    assert [e.payload for e in envelopes] == [msh("C1") + b"\rPID|1\r", msh("C2") + b"\rPID|2\r"]
    assert all(e.problems == () for e in envelopes)


def test_dedupe_key_uses_raw_values_and_is_empty_without_a_control_id() -> None:
    [with_components] = split(msh("C\\F\\1", facility="FAC^1.2.3^ISO"))
    assert with_components.dedupe_key == "FAC^1.2.3^ISO|C\\F\\1"
    [without] = split(msh(""))
    assert without.dedupe_key == ""
    [short] = split(b"MSH|^~\\&|APP|FAC")
    assert short.dedupe_key == ""
    assert short.problems == ()


def test_bytes_before_the_first_msh_become_their_own_envelope() -> None:
    data = b"garbage line\r\nmore garbage\r\n" + msh("C1") + b"\rPID|1\r"
    envelopes = list(split(data))
    assert [e.payload for e in envelopes] == [b"garbage line\r\nmore garbage\r\n", msh("C1") + b"\rPID|1\r"]
    orphan = envelopes[0]
    assert orphan.dedupe_key == ""
    assert [(p.code, p.locator) for p in orphan.problems] == [(ProblemCode.MALFORMED_MESSAGE, "segment[1]")]
    assert "garbage" not in orphan.problems[0].message
    assert envelopes[1].problems == ()


def test_bytes_after_a_trailer_become_their_own_envelope() -> None:
    data = b"BHS|^~\\&\r" + msh("C1") + b"\rBTS|1\rPID|stray\r"
    envelopes = list(split(data))
    assert [e.payload for e in envelopes] == [msh("C1") + b"\r", b"PID|stray\r"]
    assert envelopes[1].problems[0].code is ProblemCode.MALFORMED_MESSAGE


def test_a_message_with_unusable_delimiters_is_kept_with_a_problem() -> None:
    bad = b"MSH|^^\\&|APP|FAC|||20240301||ADT^A01|C1\rPID|1\r"
    envelopes = list(split(bad + msh("C2") + b"\r"))
    assert [e.payload for e in envelopes] == [bad, msh("C2") + b"\r"]
    assert [(p.code, p.locator) for p in envelopes[0].problems] == [
        (ProblemCode.MALFORMED_MESSAGE, "MSH[1]-2")
    ]
    assert envelopes[0].dedupe_key == ""
    assert envelopes[1].problems == ()


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\xef\xbb\xbf", b"  \t\r"])
def test_nothing_to_split(data: bytes) -> None:
    assert list(split(data)) == []


def test_garbage_bytes_are_one_envelope() -> None:
    data = bytes(range(256))
    envelopes = list(split(data))
    assert len(envelopes) == 1
    assert envelopes[0].problems[0].code is ProblemCode.MALFORMED_MESSAGE
    assert envelopes[0].payload == data
