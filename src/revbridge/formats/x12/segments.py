"""The X12 tokenizer: delimiters from the ISA, then one segment at a time.

This is the bottom of the X12 reader and knows nothing about envelopes or loops. It reads the four
delimiters from an ISA (element separator at the ISA's fourth character, repetition ISA11,
component ISA16, segment terminator right after ISA16), then yields each segment as its list of
elements until the interchange's IEA. It splits the text a chunk at a time, so a 60 MB file costs
one chunk of extra memory, not a list of a million strings.

Whitespace (CR, LF, tabs, spaces) and a byte-order mark between segments are skipped, so pretty-
printed files with a newline after every terminator read the same as single-line ones. An element
longer than the configured bound stops the interchange with ``ElementTooLong``: a file like that
is hostile or broken, and reading on would only waste memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# Characters tolerated between segments (after a terminator). U+FEFF is a byte-order mark that
# survives concatenating files; "\xef\xbb\xbf" is the same mark in a file read as Latin-1.
BETWEEN_SEGMENTS = "\r\n\t \ufeff\xef\xbb\xbf"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str
    component: str
    repetition: str  # "" when the ISA declares none (ISA11 = "U" in 004010)
    segment: str


class ElementTooLong(Exception):
    """Internal: an element exceeds the bound. Never escapes the x12 package."""

    def __init__(self, ordinal: int, segment_id: str, element: int) -> None:
        super().__init__(f"element {element} of segment {ordinal} is too long")
        self.ordinal = ordinal  # the segment's position in the interchange, ISA = 1
        self.segment_id = segment_id
        self.element = element


def read_delimiters(text: str, start: int) -> Delimiters | str:
    """The delimiters of the ISA at ``start``, or why they cannot be read.

    The ISA is fixed-width in the standard, but senders that forget the padding exist; counting
    sixteen element separators instead of 106 characters reads both.
    """
    if text[start : start + 3] != "ISA" or len(text) < start + 4:
        return "the interchange does not start with ISA"
    element = text[start + 3]
    if element.isalnum() or element in BETWEEN_SEGMENTS:
        return "the ISA element separator is a letter, digit or whitespace"
    pos = start + 3
    for _ in range(15):
        pos = text.find(element, pos + 1, start + 512)
        if pos < 0:
            return "the ISA has fewer than 16 elements"
    # pos is the separator before ISA16; ISA16 is one character and the terminator follows it.
    if len(text) < pos + 3:
        return "the ISA is truncated"
    component, segment = text[pos + 1], text[pos + 2]
    repetition_at = _nth_element_start(text, start, element, 11)
    repetition = text[repetition_at] if repetition_at >= 0 else ""
    if repetition.isalnum() or repetition in BETWEEN_SEGMENTS:
        repetition = ""  # 004010 puts the standards id "U" here: no repetition separator
    found = [element, component, segment] + ([repetition] if repetition else [])
    if len(set(found)) != len(found):
        return "the ISA declares the same character for two delimiters"
    if component.isalnum() or segment.isalnum():
        return "the ISA component separator or segment terminator is a letter or digit"
    return Delimiters(element=element, component=component, repetition=repetition, segment=segment)


def _nth_element_start(text: str, start: int, element: str, n: int) -> int:
    pos = start + 3
    for _ in range(n - 1):
        pos = text.find(element, pos + 1)
        if pos < 0:
            return -1
    return pos + 1


class Source:
    """The payload as text. An ASCII payload (nearly every X12 file) is decoded a chunk at a time,
    so a large file is never held twice; anything else is decoded once, as UTF-8 when it is valid
    and byte for byte (Latin-1) when not, so the delimiters stay where they were either way."""

    def __init__(self, payload: bytes) -> None:
        self._bytes: bytes | None = None
        self._text = ""
        if payload.isascii():
            self._bytes = payload
        else:
            try:
                self._text = payload.decode("utf-8")
            except UnicodeDecodeError:
                self._text = payload.decode("latin-1")
        self.size = len(payload) if self._bytes is not None else len(self._text)

    def text(self, start: int, end: int) -> str:
        if self._bytes is not None:
            return self._bytes[start:end].decode("ascii")
        return self._text[start:end]

    def find(self, sub: str, start: int) -> int:
        if self._bytes is not None:
            return self._bytes.find(sub.encode("ascii"), start)
        return self._text.find(sub, start)

    def skip_between(self, pos: int) -> int:
        """The first position at or after ``pos`` that is not inter-segment whitespace."""
        while pos < self.size:
            window = self.text(pos, pos + 256)
            rest = window.lstrip(BETWEEN_SEGMENTS)
            if rest:
                return pos + len(window) - len(rest)
            pos += len(window)
        return self.size


class SegmentReader:
    """Yields the segments of one interchange as element lists, ISA first.

    Iteration stops after the IEA, or just before a second ISA when the IEA is missing (the next
    interchange may use other delimiters), or at the end of the text. ``end`` is then where the
    next interchange may begin.
    """

    def __init__(self, source: Source, start: int, delimiters: Delimiters, max_element_length: int) -> None:
        self._source = source
        self._start = start
        self._delimiters = delimiters
        self._max = max_element_length
        self.end = start

    def __iter__(self) -> Iterator[list[str]]:
        source, sep, term = self._source, self._delimiters.element, self._delimiters.segment
        strip_cr = term == "\n"  # CRLF files that end segments with a bare newline
        limit = self._max
        pos, size = self._start, source.size
        count = 0
        while pos < size:
            end = min(pos + _CHUNK, size)
            parts = source.text(pos, end).split(term)
            if end < size:
                tail = parts.pop()  # maybe cut in the middle; read it again with the next chunk
                if parts:
                    end -= len(tail)
                else:  # one segment longer than a chunk
                    stop = source.find(term, pos)
                    stop = size if stop < 0 else stop
                    parts = [source.text(pos, stop)]
                    end = min(stop + 1, size)
            for raw in parts:
                seg_start = pos
                pos += len(raw) + 1
                raw = raw.lstrip(BETWEEN_SEGMENTS)
                if not raw:
                    continue
                if strip_cr and raw[-1] == "\r":
                    raw = raw[:-1]
                first = raw[0]
                if first == "I" and count and raw[:3] == "ISA":
                    self.end = seg_start  # a new interchange without our IEA before it
                    return
                count += 1
                elements = raw.split(sep)
                if len(raw) > limit:
                    for n, value in enumerate(elements):
                        if len(value) > limit:
                            raise ElementTooLong(count, elements[0][:3], n)
                yield elements
                if first == "I" and elements[0] == "IEA":
                    self.end = min(pos, size)
                    return
            pos = end
        self.end = size
