"""Intake's view: detect, and split a received file into one Envelope per interchange."""

from __future__ import annotations

import pytest
from x12_build import era, group, interchange, parse, transaction, x12

from revbridge.core.problem import ProblemCode
from revbridge.formats.x12 import X12

BODY = era("CLP*C1*1*10.00*10.00", bpr02="10.00")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"ISA*00*", True),
        (b"\xef\xbb\xbf\r\n  ISA*00*", True),
        (b"ISA", True),
        (b"ISAAC", False),
        (b"MSH|^~\\&|", False),
        (b'{"resourceType"', False),
        (b"", False),
    ],
)
def test_detect(head: bytes, expected: bool) -> None:
    assert X12.detect(head) is expected
    assert X12.name == "x12"


def test_each_interchange_is_one_envelope_keyed_by_sender_and_control_number() -> None:
    first = interchange([group([transaction(BODY)])], sender="PAYER A", control="000000007")
    second = interchange(
        [group([transaction(BODY)])], sender="PAYER B", control="000000008", separator="~\r\n"
    )
    data = ("\ufeff\n" + first + "\n\n" + second.replace("*", "|")).encode()
    envelopes = list(X12.split(data))
    assert [(e.format, e.dedupe_key, e.locator, e.problems) for e in envelopes] == [
        ("x12", "PAYER A|000000007", "ISA[1]", ()),
        ("x12", "PAYER B|000000008", "ISA[2]", ()),
    ]
    assert envelopes[0].payload == first.rstrip("\n").encode()
    assert envelopes[1].payload == second.replace("*", "|").rstrip("\r\n").encode()
    assert all(len(parse(e.payload).items) == 2 for e in envelopes)


def test_an_interchange_without_iea_ends_where_the_next_one_starts() -> None:
    first = interchange([group([transaction(BODY)])], control="000000001").rsplit("IEA", 1)[0]
    second = interchange([group([transaction(BODY)])], control="000000002")
    envelopes = list(X12.split((first + second).encode()))
    assert [e.dedupe_key for e in envelopes] == ["SENDER|000000001", "SENDER|000000002"]
    assert envelopes[0].payload == first.rstrip("\n").encode()


def test_garbage_becomes_an_envelope_with_a_problem_so_nothing_is_lost() -> None:
    data = b"hello\n" + x12(BODY) + b"trailing junk"
    envelopes = list(X12.split(data))
    assert [(e.locator, [p.code for p in e.problems]) for e in envelopes] == [
        ("bytes[0:6]", [ProblemCode.MALFORMED_MESSAGE]),
        ("ISA[1]", []),
        (f"bytes[{6 + len(x12(BODY))}:{len(data)}]", [ProblemCode.MALFORMED_MESSAGE]),
    ]
    assert [e.payload for e in envelopes] == [b"hello\n", x12(BODY).rstrip(b"\n"), b"trailing junk"]


def test_a_broken_isa_is_kept_with_the_reason() -> None:
    data = b"ISA*00*broken~GS*HP~"
    [envelope] = X12.split(data)
    assert envelope.payload == data
    assert envelope.dedupe_key == ""
    assert [(p.code, p.locator) for p in envelope.problems] == [
        (ProblemCode.MALFORMED_MESSAGE, "bytes[0:20]")
    ]
    assert "fewer than 16 elements" in envelope.problems[0].message


def test_empty_input_gives_no_envelopes() -> None:
    assert list(X12.split(b" \r\n")) == []


def test_garbage_full_of_false_starts_is_one_envelope() -> None:
    data = b"ISA" * 1000 + b"ISA*broken~" + x12(BODY)
    envelopes = list(X12.split(data))
    assert [(e.locator, len(e.problems)) for e in envelopes] == [("bytes[0:3011]", 1), ("ISA[1]", 0)]
