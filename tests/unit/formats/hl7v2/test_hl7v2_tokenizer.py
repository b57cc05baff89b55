"""The lazy ER7 tokenizer: delimiters, escapes, repetitions, components, segment separators and
the FT1[2]-11.1 address notation."""

from __future__ import annotations

import pytest

from revbridge.core.problem import ProblemCode
from revbridge.formats.hl7v2 import Address, Delimiters, escape, parse, read, read_delimiters, unescape
from revbridge.formats.hl7v2.message import Message

MSH = "MSH|^~\\&|APP|FAC|RCV|RFAC|20240301120000||DFT^P03|CTRL1|P|2.5"


def tokenized(text: str | bytes) -> Message:
    message, problems = parse(text)
    assert problems == ()
    assert message is not None
    return message


def test_msh_numbering_follows_the_standard() -> None:
    msh = tokenized(MSH + "\r").header
    assert msh.get(1) == "|"
    assert msh.get(2) == "^~\\&"
    assert msh.get(3) == "APP"
    assert msh.get(4) == "FAC"
    assert msh.get(9) == "DFT"
    assert msh.get(9, 2) == "P03"
    assert msh.get(10) == "CTRL1"
    assert msh.get(12) == "2.5"
    assert msh.field_count == 12
    # MSH-2 is never split on its own characters, whatever is asked.
    assert msh.repetitions(2) == ["^~\\&"]
    assert msh.get(2, 2) == ""


def test_fields_components_subcomponents_and_repetitions() -> None:
    ft1_fields = {1: "1", 2: "T1", 6: "CG", 25: "99213", 26: "MOD1~MOD2"}
    ft1_text = "|".join(["FT1", *(ft1_fields.get(n, "") for n in range(1, 27))])
    message = tokenized(MSH + "\rPID|1||123^^^HOSP&1.2.3&ISO^MR~999^^^^SS||LAST^FIRST\r" + ft1_text + "\r")
    pid = message.first("PID")
    assert pid is not None
    assert pid.get(3) == "123"
    assert pid.get(3, 4) == "HOSP"
    assert pid.get(3, 4, 2) == "1.2.3"
    assert pid.get(3, 4, 3) == "ISO"
    assert pid.get(3, 4, 4) == ""
    assert pid.get(3, 5) == "MR"
    assert pid.get(3, 1, 1, 2) == "999"
    assert pid.get(3, 5, 1, 2) == "SS"
    assert pid.get(3, 1, 1, 3) == ""
    assert pid.repetitions(3) == ["123^^^HOSP&1.2.3&ISO^MR", "999^^^^SS"]
    assert pid.tree(3)[0][3] == ["HOSP", "1.2.3", "ISO"]
    # A simple value read as a composite: component 1 is the value, later components are empty.
    assert pid.get(1, 1, 1) == "1"
    assert pid.get(1, 2) == ""
    assert pid.get(99) == ""
    ft1 = message.first("FT1")
    assert ft1 is not None
    assert ft1.get(26) == "MOD1"
    assert ft1.get(26, repetition=2) == "MOD2"
    assert read(message, "FT1[1]-26(2)") == "MOD2"
    assert read(message, "PID-3.4.2") == "1.2.3"
    assert read(message, "FT1[2]-26") == ""


def test_custom_delimiters_are_honoured() -> None:
    text = "MSH#*@!$#APP#FAC#RCV#RFAC#20240301##DFT*P03#C9#P#2.5\rFT1#1#T1#x$y*z@w#\r"
    message = tokenized(text)
    assert message.delimiters == Delimiters(
        field="#", component="*", repetition="@", escape="!", subcomponent="$"
    )
    assert message.header.get(1) == "#"
    assert message.header.get(2) == "*@!$"
    assert message.header.get(9, 2) == "P03"
    ft1 = message.first("FT1")
    assert ft1 is not None
    assert ft1.get(3) == "x"
    assert ft1.get(3, 1, 2) == "y"
    assert ft1.get(3, 2) == "z"
    assert ft1.get(3, 1, 1, 2) == "w"
    # A | in a message with other delimiters is plain data.
    assert tokenized("MSH#*@!$#A|B#F\r").header.get(3) == "A|B"


def test_escape_sequences_are_unescaped_only_when_read() -> None:
    value = "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X0D0A\\g\\H\\h\\.br\\i\\Zq\\"
    message = tokenized(MSH + "\rNTE|1||" + value + "\r")
    nte = message.first("NTE")
    assert nte is not None
    # The raw tree keeps the escapes and the field is one value: escaped delimiters do not split.
    assert nte.tree(3) == [[[value]]]
    assert nte.get(3) == "a|b^c&d~e\\f\r\ng\\H\\h\\.br\\i\\Zq\\"


def test_unescape_edge_cases() -> None:
    d = Delimiters()
    assert unescape("plain", d) == "plain"
    assert unescape("open\\F", d) == "open\\F"  # unterminated: kept as written
    assert unescape("\\X41\\", d) == "A"
    assert unescape("\\XC3A9\\", d) == "é"  # UTF-8 bytes
    assert unescape("\\XE9\\", d) == "é"  # not UTF-8: ISO 8859-1
    assert unescape("\\XZZ\\", d) == "\\XZZ\\"  # not hex: kept
    assert unescape("\\\\", d) == "\\\\"
    assert unescape("a\\P\\b", Delimiters(truncation="#")) == "a#b"
    assert unescape("a\\P\\b", d) == "a\\P\\b"


def test_escape_round_trips_through_unescape() -> None:
    for d in (
        Delimiters(),
        Delimiters(field="#", component="*", repetition="@", escape="!", subcomponent="$"),
    ):
        text = "a|b^c&d~e\\f#g*h@i!j$k\r\nend"
        escaped = escape(text, d)
        for delimiter in (d.field, d.component, d.repetition, d.subcomponent, "\r", "\n"):
            assert delimiter not in escaped
        assert unescape(escaped, d) == text


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_segment_separators(separator: str) -> None:
    text = separator.join([MSH, "EVN|P03", "PID|1||123", "FT1|1|T1"]) + separator
    message = tokenized(text)
    assert [s.name for s in message.segments] == ["MSH", "EVN", "PID", "FT1"]
    assert message.header.get(12) == "2.5"  # no separator left inside the last MSH field


def test_mixed_separators_blank_lines_and_bom() -> None:
    text = "\ufeff" + MSH + "\r\nEVN|P03\n\n   \r\rPID|1||123\rFT1|1|T1\n\r\n"
    message = tokenized(text.encode("utf-8"))
    assert [(s.name, s.position) for s in message.segments] == [
        ("MSH", 1),
        ("EVN", 2),
        ("PID", 3),
        ("FT1", 4),
    ]
    assert message.first("FT1") is not None


def test_occurrences_and_locators() -> None:
    message = tokenized(MSH + "\rFT1|1|A\rDG1|1\rFT1|2|B\rZXY|custom\r")
    ft1s = message.all("FT1")
    assert [f.occurrence for f in ft1s] == [1, 2]
    assert ft1s[1].get(2) == "B"
    assert ft1s[1].locator(11, 1) == "FT1[2]-11.1"
    assert ft1s[0].locator(26, repetition=2) == "FT1[1]-26(2)"
    assert ft1s[0].locator(3, 4, 2) == "FT1[1]-3.4.2"
    assert ft1s[1].where == "FT1[2]"
    assert message.first("ZXY") is not None  # Z-segments are kept
    assert message.count("FT1") == 2
    assert repr(ft1s[0]) == "Segment(FT1[1])"


def test_address_notation_round_trips() -> None:
    for text in ("FT1[2]-11.1", "FT1[1]-26(2)", "PID[1]-3(2).4.2", "FT1[3]", "MSH[1]-10"):
        assert str(Address.parse(text)) == text
    assert Address.parse("PID-3") == Address(segment="PID", field=3)
    assert str(Address.parse("PID-3(1).1")) == "PID[1]-3.1"
    for bad in ("ft1-1", "FT1[0]-1", "FT1-0", "FT1[1]-2.", "FT1-2(0)", ""):
        with pytest.raises(ValueError, match="not an HL7 v2 address"):
            Address.parse(bad)


def test_non_utf8_bytes_fall_back_to_latin_1() -> None:
    message, problems = parse((MSH + "\rNTE|1||caf\xe9\r").encode("latin-1"))
    assert problems == ()
    assert message is not None
    assert message.charset == "latin-1"
    nte = message.first("NTE")
    assert nte is not None
    assert nte.get(3) == "café"


@pytest.mark.parametrize(
    ("text", "locator"),
    [
        ("PID|1||123\r", "segment[1]"),
        ("", "segment[1]"),
        ("MSH", "MSH[1]-2"),
        ("MSH|", "MSH[1]-2"),
        ("MSH||APP\r", "MSH[1]-2"),
        ("MSH|^~\\&&|APP\r", "MSH[1]-2"),  # two delimiters equal
        ("MSHA^~\\&A\r", "MSH[1]-2"),  # a letter as field separator
        ("MSH|^~\\&x1|APP\r", "MSH[1]-2"),  # too many encoding characters
        ("MSH| ~\\&|APP\r", "MSH[1]-2"),  # whitespace as a delimiter
    ],
)
def test_unusable_headers_are_located_problems(text: str, locator: str) -> None:
    message, problems = parse(text)
    assert message is None
    assert [(p.code, p.locator) for p in problems] == [(ProblemCode.MALFORMED_MESSAGE, locator)]


def test_read_delimiters_fills_missing_encoding_characters_with_the_standard_ones() -> None:
    assert read_delimiters("MSH|^~|APP") == Delimiters()
    assert read_delimiters("MSH|^~\\&#|APP") == Delimiters(truncation="#")
    assert read_delimiters("MSH|^") == Delimiters()


def test_garbage_segment_lines_become_located_problems() -> None:
    message, problems = parse(MSH + "\rPID|1\r%%% garbage\rft1|lower\r  EVN|P03\rFT1|1\r")
    assert message is not None
    assert [s.name for s in message.segments] == ["MSH", "PID", "EVN", "FT1"]
    assert [(p.code, p.locator) for p in problems] == [
        (ProblemCode.MALFORMED_SEGMENT, "segment[3]"),
        (ProblemCode.MALFORMED_SEGMENT, "segment[4]"),
    ]
    # The text of a bad line never reaches the problem.
    assert all("garbage" not in p.message and "lower" not in p.message for p in problems)


def test_segment_fields_are_split_lazily() -> None:
    message = tokenized(MSH + "\rPID|1||123\r")
    pid = message.first("PID")
    assert pid is not None
    assert pid._fields is None
    assert pid.get(3) == "123"
    assert pid._fields == ["PID", "1", "", "123"]
