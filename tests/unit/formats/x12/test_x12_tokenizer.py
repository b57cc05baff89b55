"""The tokenizer: delimiters from the ISA, whitespace between segments, chunk boundaries, bounds."""

from __future__ import annotations

import pytest
from x12_build import codes, context, era, parse, x12

from revbridge.core.problem import ProblemCode
from revbridge.formats.base import Limits
from revbridge.formats.x12 import segments
from revbridge.formats.x12.segments import Delimiters, ElementTooLong, SegmentReader, Source, read_delimiters

PARTIES = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240105*1200"
ISA_5010 = PARTIES + "*^*00501*000000001*0*P*:~"
ISA_4010 = PARTIES + "*U*00401*000000001*0*P*>~"


def read(text: str, limit: int = 1 << 20) -> list[list[str]]:
    source = Source(text.encode("utf-8"))
    start = source.skip_between(0)
    found = read_delimiters(source.text(start, start + 512), 0)
    assert isinstance(found, Delimiters)
    return list(SegmentReader(source, start, found, limit))


def test_delimiters_come_from_the_isa() -> None:
    assert read_delimiters(ISA_5010, 0) == Delimiters(element="*", component=":", repetition="^", segment="~")


def test_004010_has_no_repetition_separator() -> None:
    assert read_delimiters(ISA_4010, 0) == Delimiters(element="*", component=">", repetition="", segment="~")


def test_unusual_delimiters_and_unpadded_isa() -> None:
    isa = "ISA|00||00||ZZ|S|ZZ|R|240105|1200|!|00501|7|0|P|}\n"
    assert read_delimiters(isa, 0) == Delimiters(element="|", component="}", repetition="!", segment="\n")
    assert read(isa + "GS|HP|S\nIEA|0|7\n") == [
        ["ISA", "00", "", "00", "", "ZZ", "S", "ZZ", "R", "240105", "1200", "!", "00501", "7", "0", "P", "}"],
        ["GS", "HP", "S"],
        ["IEA", "0", "7"],
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("GS*HP~", "does not start with ISA"),
        ("ISA*00*01~", "fewer than 16 elements"),
        ("ISA100100", "letter, digit or whitespace"),
        (PARTIES + "*^*00501*1*0*P**~", "same"),
        (PARTIES + "*^*00501*1*0*P*:", "truncated"),
    ],
)
def test_unreadable_isa_says_why(text: str, reason: str) -> None:
    found = read_delimiters(text, 0)
    assert isinstance(found, str)
    assert reason in found


def test_whitespace_crlf_indentation_and_bom_between_segments_are_skipped() -> None:
    text = "\ufeff" + ISA_5010 + "\r\n  GS*HP*A~\n\t\ufeffST*835*1~\r\n\r\nIEA*1*000000001~\n"
    assert [seg[0] for seg in read(text)] == ["ISA", "GS", "ST", "IEA"]


def test_newline_terminated_crlf_files_lose_their_cr() -> None:
    isa = ISA_5010[:-1] + "\n"
    assert read(isa.replace("\n", "\r\n") + "GS*HP*A\r\nIEA*1*1\r\n")[1:] == [
        ["GS", "HP", "A"],
        ["IEA", "1", "1"],
    ]


def test_reading_stops_after_the_iea_and_says_where() -> None:
    text = ISA_5010 + "IEA*0*000000001~\n\nISA*next"
    source = Source(text.encode())
    found = read_delimiters(text, 0)
    assert isinstance(found, Delimiters)
    reader = SegmentReader(source, 0, found, 100)
    assert [seg[0] for seg in reader] == ["ISA", "IEA"]
    assert text[reader.end :] == "\n\nISA*next"


def test_reading_stops_before_a_second_isa_without_an_iea() -> None:
    second = "ISA|00||00||ZZ|S|ZZ|R|240105|1200|^|00501|2|0|P|:\n"
    text = ISA_5010 + "GS*HP~\n" + second + "IEA|0|2\n"
    source = Source(text.encode())
    found = read_delimiters(text, 0)
    assert isinstance(found, Delimiters)
    reader = SegmentReader(source, 0, found, 100)
    assert [seg[0] for seg in reader] == ["ISA", "GS"]
    assert text[reader.end :].lstrip().startswith("ISA|")


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 13, 64, 107, 200])
def test_chunk_boundaries_never_change_the_segments(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    text = x12(era("CLP*C1*1*10.00*10.00", "NM1*QC*1*" + "X" * 300 + "****MI*M1", bpr02="10.00")).decode()
    expected = read(text)
    monkeypatch.setattr(segments, "_CHUNK", chunk)
    assert read(text) == expected
    assert ["NM1", "QC", "1", "X" * 300, "", "", "", "MI", "M1"] in expected


def test_non_ascii_payloads_read_the_same_as_utf8_or_byte_for_byte() -> None:
    body = era("CLP*C1*1*10.00*10.00", "NM1*QC*1*MÜLLER*JÖRG****MI*M1", bpr02="10.00")
    utf8 = x12(body)
    latin1 = utf8.decode("utf-8").encode("latin-1")
    assert parse(utf8).items == parse(latin1).items
    assert len(parse(utf8).items) == 2


def test_an_overlong_element_stops_the_message_with_a_located_problem() -> None:
    data = x12(era("CLP*C1*1*10.00*10.00", "NM1*QC*1*" + "X" * 500, bpr02="10.00"))
    outcome = parse(data, context(limits=Limits(max_element_length=400)))
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.LIMIT_EXCEEDED, "ST[1]/SEG[10]-3")]
    assert "X" * 10 not in str(outcome.problems)


def test_overlong_elements_are_found_by_the_tokenizer() -> None:
    with pytest.raises(ElementTooLong) as raised:
        read(ISA_5010 + "GS*" + "A" * 50 + "~", limit=40)
    assert (raised.value.ordinal, raised.value.segment_id, raised.value.element) == (2, "GS", 1)


def test_an_overlong_message_is_refused_before_reading() -> None:
    data = x12(era("CLP*C1*1*10.00*10.00", bpr02="10.00"))
    outcome = parse(data, context(limits=Limits(max_message_bytes=len(data) - 1)))
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.LIMIT_EXCEEDED, "")]
