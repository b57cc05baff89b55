"""A bare 835 (ST ... SE without ISA/GS, as clearinghouse portals export it; issue 18): detected,
split into one envelope keyed by payer and TRN02, read with the delimiters its ST shows, and
turned into exactly the events the same transaction set gives inside its envelopes."""

from __future__ import annotations

import pytest
from x12_build import V835, era, parse, transaction, x12

from revbridge.core.problem import ProblemCode, Severity
from revbridge.formats.registry import FORMATS
from revbridge.formats.x12 import X12
from revbridge.formats.x12.bare import read_bare_delimiters
from revbridge.pipeline.intake import detect

SENTINEL_NAME = "ZZSENTINEL"
SENTINEL_MEMBER = "MBR8675309"
BODY = era(
    "LX*1",
    "CLP*A100*1*1250.00*650.00*150.00*12*ICN-A",
    f"NM1*QC*1*{SENTINEL_NAME}*JANE****MI*{SENTINEL_MEMBER}",
    "SVC*HC:99213:25*1250.00*650.00**1",
    "DTM*472*20231215",
    "CAS*CO*45*450.00",
    "CAS*PR*1*100.00**2*50.00",
    "PLB*1234567893*20241231*L6:INT*-5.25*WO:REF1*40.00",
    bpr02="615.25",
)


def bare(
    body: list[str] = BODY, *, terminator: str = "~\n", control: str = "0001", component: str = ":"
) -> bytes:
    # In 005010 ST03 names the implementation guide; a bare set has no GS08 to fall back on.
    segments = transaction(body, control=control)
    segments[0] += f"*{V835}"
    if component != ":":
        segments = [
            s.replace("HC:", f"HC{component}")
            .replace(":INT", f"{component}INT")
            .replace(":REF", f"{component}REF")
            for s in segments
        ]
    return (terminator.join(segments) + terminator).encode()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"ST*835*0001*005010X221A1~", True),
        (b"\r\n  ST|835|0001|005010X221A1\n", True),
        (b"ST*837*0001*005010X222A1~", True),
        (b"ST*999*0001~", False),
        (b"STATUS*835", False),
        (b"ST 835 0001", False),
    ],
)
def test_detect(head: bytes, expected: bool) -> None:
    assert X12.detect(head) is expected


def test_intake_tells_a_bare_835_is_x12() -> None:
    assert detect(bare(), FORMATS) is X12


@pytest.mark.parametrize("terminator", ["~\n", "~", "~\r\n", "\n", "\r\n"])
def test_a_bare_835_gives_the_events_of_the_enveloped_one(terminator: str) -> None:
    enveloped = parse(x12(BODY))
    assert enveloped.problems == () and len(enveloped.items) == 4
    outcome = parse(bare(terminator=terminator))
    assert outcome.items == enveloped.items
    [warning] = outcome.problems
    assert (warning.code, warning.severity, warning.locator) == (
        ProblemCode.MISSING_ENVELOPE,
        Severity.WARNING,
        "ST[1]",
    )
    assert outcome.ok


@pytest.mark.parametrize("component", [">", "^"])
def test_the_component_separator_is_the_one_the_first_composite_uses(component: str) -> None:
    data = bare(component=component)
    delimiters = read_bare_delimiters(data.decode(), 0)
    assert not isinstance(delimiters, str)
    assert (delimiters.element, delimiters.segment, delimiters.component) == ("*", "~", component)
    assert parse(data).items == parse(x12(BODY)).items


def test_element_separator_is_the_character_after_st() -> None:
    data = bare().replace(b"*", b"|")
    assert parse(data).items == parse(x12(BODY)).items


def test_split_keys_a_bare_835_by_payer_and_trace() -> None:
    [envelope] = X12.split(b"\r\n" + bare())
    assert envelope.format == "x12"
    assert envelope.dedupe_key == "ST|1512345678|TRACE1"
    assert envelope.payload == bare()
    assert envelope.problems == ()
    assert envelope.locator == "ST[1]"


def test_two_bare_835s_in_one_file_both_post_and_both_key() -> None:
    second = era("CLP*C2*1*10.00*10.00", bpr02="10.00", trace="TRACE2", originator="", payer_n1="PAYER02")
    data = bare() + bare(second, control="0002")
    [envelope] = X12.split(data)
    assert envelope.dedupe_key == "ST|1512345678|TRACE1,ST|PAYER02|TRACE2"
    outcome = parse(data)
    assert len(outcome.items) == 4 + 2
    assert [p.code for p in outcome.problems] == [ProblemCode.MISSING_ENVELOPE]


def test_a_bare_set_still_checks_its_se() -> None:
    data = bare().replace(b"SE*", b"SE*99*", 1).replace(b"*99*9*", b"*99*", 1)
    outcome = parse(data)
    assert outcome.items == ()
    assert ProblemCode.ENVELOPE_MISMATCH in [p.code for p in outcome.problems]


def test_no_phi_in_the_problems_of_a_bare_file() -> None:
    broken = bare().replace(b"*650.00*150.00*", b"*650.00*150.0X*", 1)
    outcome = parse(broken)
    assert outcome.problems
    for p in outcome.problems:
        assert SENTINEL_NAME not in p.message and SENTINEL_MEMBER not in p.message
        assert all(SENTINEL_NAME not in v and SENTINEL_MEMBER not in v for _k, v in p.details)


def test_an_st_without_terminator_is_malformed_not_refused() -> None:
    [envelope] = X12.split(b"ST*835*0001")
    assert [p.code for p in envelope.problems] == [ProblemCode.MALFORMED_MESSAGE]
    assert not parse(b"ST*835*0001").ok


def test_a_bare_835_without_st03_is_read_by_the_5010_guide_and_says_so() -> None:
    data = bare().replace(f"*{V835}".encode(), b"", 1)
    assert data.startswith(b"ST*835*0001~")
    outcome = parse(data)
    assert outcome.items == parse(x12(BODY)).items
    assert [(p.code, p.locator, p.severity) for p in outcome.problems] == [
        (ProblemCode.MISSING_ENVELOPE, "ST[1]", Severity.WARNING),
        (ProblemCode.MISSING_ENVELOPE, "ST[1]-3", Severity.WARNING),
    ]


def test_text_before_an_isa_line_is_x12_and_kept_apart() -> None:
    data = b"Remittance report, page 1\r\n" + x12(BODY)
    assert detect(data, FORMATS) is X12
    junk, interchange = X12.split(data)
    assert [p.code for p in junk.problems] == [ProblemCode.MALFORMED_MESSAGE]
    assert interchange.problems == () and interchange.dedupe_key == "SENDER|000000001"
    assert parse(interchange.payload).items == parse(x12(BODY)).items


def test_text_with_no_message_at_all_is_still_refused() -> None:
    assert detect(b"remember to call the payer about ISA and MSH\n", FORMATS) is None
