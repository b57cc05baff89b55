"""A lazy ER7 tokenizer: one HL7 v2 message as segments whose fields are split only when read.

Parsing a message cuts it into segment lines and indexes them by name; nothing below the segment
is split until somebody asks for a value, and a value is unescaped only when it is returned. That
is what keeps this close to a bare ``str.split`` (see bench/hl7v2_parse.py) while a full parse
tree of every field would cost 20-30 times more.

Field numbering follows the standard: in ``MSH`` (and ``FHS``/``BHS``) field 1 is the field
separator itself and field 2 the encoding characters, which are never split or unescaped.
Addresses and locators use the notation in ``address.py``: ``FT1[2]-11.1``.

This module reads no patient data on its own: callers decide which fields they look at.
"""

from __future__ import annotations

import re

from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.formats.hl7v2.delimiters import Delimiters, read_delimiters, unescape
from revbridge.formats.hl7v2.lead import has_control_characters, is_marker, marker_length

BOM = "\ufeff"
HEADER_SEGMENTS = frozenset({"MSH", "FHS", "BHS"})
_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")


def is_segment_name(name: str) -> bool:
    """Three upper-case letters or digits, the first a letter (Z-segments included)."""
    return _SEGMENT_NAME.fullmatch(name) is not None


class Segment:
    """One segment line. Fields are split on first access and cached."""

    __slots__ = ("_d", "_fields", "_header", "name", "occurrence", "position", "raw")

    def __init__(self, name: str, occurrence: int, position: int, raw: str, d: Delimiters) -> None:
        self.name = name
        self.occurrence = occurrence  # 1-based among segments of the same name in the message
        self.position = position  # 1-based among all segments of the message
        self.raw = raw
        self._d = d
        self._fields: list[str] | None = None
        self._header = name in HEADER_SEGMENTS

    @property
    def where(self) -> str:
        return f"{self.name}[{self.occurrence}]"

    def locator(
        self, field: int, component: int | None = None, sub: int | None = None, repetition: int = 1
    ) -> str:
        out = f"{self.name}[{self.occurrence}]-{field}"
        if repetition != 1:
            out += f"({repetition})"
        if component is not None:
            out += f".{component}"
            if sub is not None:
                out += f".{sub}"
        return out

    def fields(self) -> list[str]:
        """Raw (still escaped) field texts; index n holds field n, index 0 the segment name."""
        fields = self._fields
        if fields is None:
            fields = self.raw.split(self._d.field)
            if self._header:
                fields.insert(1, self._d.field)
            self._fields = fields
        return fields

    @property
    def field_count(self) -> int:
        return len(self.fields()) - 1

    def raw_field(self, field: int) -> str:
        fields = self.fields()
        return fields[field] if 0 < field < len(fields) else ""

    def repetitions(self, field: int) -> list[str]:
        """Raw texts of each repetition of a field (one empty string for an empty field)."""
        text = self.raw_field(field)
        if self._header and field <= 2:
            return [text]
        return text.split(self._d.repetition)

    def tree(self, field: int) -> list[list[list[str]]]:
        """A field split all the way down, still escaped: ``tree(f)[r-1][c-1][s-1]``. For looking
        at a whole field (tests, tools); translations read single values with ``get``."""
        d = self._d
        text = self.raw_field(field)
        if self._header and field <= 2:
            return [[[text]]]
        return [[c.split(d.subcomponent) for c in r.split(d.component)] for r in text.split(d.repetition)]

    def get(self, field: int, component: int = 1, sub: int = 1, repetition: int = 1) -> str:
        """The unescaped value at a position, or "" when the message does not reach it.

        Asking for component 1 (or sub-component 1) of a value that has no components returns the
        whole value, as the standard's rule for reading a simple value as a composite says.
        """
        # The hot path of every translation: kept flat on purpose (see bench/hl7v2_parse.py).
        fields = self._fields
        if fields is None:
            fields = self.fields()
        if not 0 < field < len(fields):
            return ""
        text = fields[field]
        if not text:
            return ""
        d = self._d
        if field <= 2 and self._header:
            return text if component == 1 and sub == 1 and repetition == 1 else ""
        if d.repetition in text:
            parts = text.split(d.repetition)
            text = parts[repetition - 1] if 0 < repetition <= len(parts) else ""
        elif repetition != 1:
            return ""
        if d.component in text:
            parts = text.split(d.component)
            text = parts[component - 1] if 0 < component <= len(parts) else ""
        elif component != 1:
            return ""
        if d.subcomponent in text:
            parts = text.split(d.subcomponent)
            text = parts[sub - 1] if 0 < sub <= len(parts) else ""
        elif sub != 1:
            return ""
        return unescape(text, d) if d.escape in text else text

    def __repr__(self) -> str:
        # Names only: a segment's text may hold patient data and reprs end up in logs.
        return f"Segment({self.where})"


class Message:
    """The segments of one message, in order and by name."""

    __slots__ = ("_by_name", "charset", "delimiters", "segments")

    def __init__(self, segments: list[Segment], delimiters: Delimiters, charset: str) -> None:
        self.segments = segments
        self.delimiters = delimiters
        self.charset = charset  # how the bytes were decoded: "utf-8" or "latin-1"
        by_name: dict[str, list[Segment]] = {}
        for seg in segments:
            by_name.setdefault(seg.name, []).append(seg)
        self._by_name = by_name

    @property
    def header(self) -> Segment:
        return self.segments[0]

    def all(self, name: str) -> list[Segment]:
        return self._by_name.get(name, [])

    def first(self, name: str) -> Segment | None:
        found = self._by_name.get(name)
        return found[0] if found else None

    def count(self, name: str) -> int:
        return len(self._by_name.get(name, ()))

    def __repr__(self) -> str:
        return f"Message({len(self.segments)} segments)"


def decode(data: bytes | str) -> tuple[str, str]:
    """Text and the charset used: UTF-8 when the bytes are valid UTF-8, else ISO 8859-1 (which
    accepts every byte, so a stray byte never loses a message)."""
    if isinstance(data, str):
        return data, "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def segment_lines(text: str) -> list[str]:
    """Non-blank segment lines; CR, LF, CRLF and any mix of them end a segment."""
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    return [line for line in text.split("\r") if line and not line.isspace()]


def parse(data: bytes | str) -> tuple[Message | None, tuple[Problem, ...]]:
    """Tokenize one message. Problems carry locators only (``segment[4]``, ``MSH[1]-2``), never
    the text that caused them."""
    text, charset = decode(data)
    text = text.lstrip(BOM + " \t\r\n\x0b")
    problems: list[Problem] = []
    lead = 0 if text.startswith("MSH") else marker_length(text)
    if lead:
        text = text[lead:]
        problems.append(_skipped(lead))
    if not text.startswith("MSH"):
        return None, (_malformed("the message does not start with an MSH segment", "segment[1]"),)
    if has_control_characters(text[: _header_end(text)]):
        found = Problem(
            code=ProblemCode.CONTROL_CHARACTERS,
            message="the MSH segment holds control characters (NUL, ESC, ...)",
            where=_ref("MSH[1]"),
        )
        return None, (found,)
    delimiters = read_delimiters(text)
    if isinstance(delimiters, str):
        return None, (_malformed(f"unusable delimiters: {delimiters}", "MSH[1]-2"),)
    fs = delimiters.field
    segments: list[Segment] = []
    seen: dict[str, int] = {}
    lines = segment_lines(text)
    for position, line in enumerate(lines, start=1):
        end = line.find(fs)
        name = line if end < 0 else line[:end]
        if not is_segment_name(name):
            stripped = name.strip()
            if not is_segment_name(stripped):
                trailer = position == len(lines) and end < 0 and is_marker(line)
                problems.append(_trailer(position) if trailer else _unnamed(position))
                continue
            line = line.lstrip()
            name = stripped
        occurrence = seen.get(name, 0) + 1
        seen[name] = occurrence
        segments.append(Segment(name, occurrence, position, line, delimiters))
    return Message(segments, delimiters, charset), tuple(problems)


def _header_end(text: str) -> int:
    cr = text.find("\r")
    end = len(text) if cr < 0 else cr
    lf = text.find("\n", 0, end)
    return end if lf < 0 else lf


def _skipped(characters: int) -> Problem:
    """The marker itself is not shown: it is the sender's text, and could be anything."""
    return Problem(
        code=ProblemCode.MARKER_SKIPPED,
        message=f"{characters} characters of text before the MSH segment (a sender's marker) were skipped",
        where=_ref("MSH[1]"),
        severity=Severity.WARNING,
    )


def _unnamed(position: int) -> Problem:
    return Problem(
        code=ProblemCode.MALFORMED_SEGMENT,
        message="a segment does not start with a three-character segment name",
        where=_ref(f"segment[{position}]"),
        severity=Severity.ERROR,
    )


def _trailer(position: int) -> Problem:
    return Problem(
        code=ProblemCode.MARKER_SKIPPED,
        message="a sender's marker after the last segment was skipped",
        where=_ref(f"segment[{position}]"),
        severity=Severity.WARNING,
    )


def _ref(locator: str) -> SourceRef:
    return SourceRef("", locator)


def _malformed(text: str, locator: str) -> Problem:
    return Problem(code=ProblemCode.MALFORMED_MESSAGE, message=text, where=_ref(locator))
