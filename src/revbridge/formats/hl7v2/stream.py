"""Cutting received bytes (a file, an HTTP body, an MLLP frame) into storable HL7 v2 messages.

Intake stores each Envelope before anything else happens, so this works on bytes and keeps every
byte of a message exactly as sent: one envelope per MSH, from the MSH to the end of its last
segment line. Batch wrappers (FHS/BHS ... BTS/FTS, HL7 v2.5 section 2.10.3) are envelopes of
envelopes and are dropped; blank lines between messages are dropped. Bytes that belong to no MSH
(garbage before the first message, text after a trailer) become an envelope of their own with a
MALFORMED_MESSAGE problem: nothing received is lost, and nothing here raises. A sender's marker
before an MSH (``[SOM]``, lead.py) stays with the message it precedes, with a MARKER_SKIPPED
warning; an MSH holding control characters makes a CONTROL_CHARACTERS error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.formats.base import Envelope
from revbridge.formats.hl7v2.delimiters import read_delimiters
from revbridge.formats.hl7v2.lead import (
    MAX_MARKER,
    has_control_characters,
    is_marker,
    marker_length,
)

FORMAT_NAME = "hl7v2"
UTF8_BOM = b"\xef\xbb\xbf"
_LINE = re.compile(rb"[^\r\n]+")
_BLANK = b" \t\x0b\x0c\x1c"  # whitespace plus the MLLP frame bytes a careless sender leaves in
_BATCH = frozenset({b"FHS", b"BHS", b"BTS", b"FTS"})
_STARTS = (b"MSH", b"FHS", b"BHS")
_LINE_MSH = re.compile(rb"[\r\n][ \t\x0b]*MSH[^A-Za-z0-9\s]")


def _names(line: bytes, name: bytes) -> bool:
    """True when the line is a segment called ``name`` (not merely a word starting so)."""
    return line[:3] == name and (len(line) == 3 or not line[3:4].isalnum())


def detect(head: bytes) -> bool:
    if head.startswith(UTF8_BOM):
        head = head[3:]
    head = head.lstrip(b" \t\r\n" + _BLANK)
    if any(_names(head, start) for start in _STARTS) and len(head) > 3:
        return True
    # A marker before the MSH, or any text before an MSH that starts a line: the file holds HL7 v2
    # (split keeps text that is no marker as an envelope of its own, so it is seen, not lost).
    return marker_length(head.decode("latin-1")) > 0 or _LINE_MSH.search(head) is not None


def header_line(payload: bytes) -> bytes:
    """The MSH line of a stored message, past a sender's marker if there is one."""
    start = 3 if payload.startswith(UTF8_BOM) else 0
    start = len(payload) - len(payload[start:].lstrip(b" \t\r\n\x0b"))
    if not payload.startswith(b"MSH", start):
        start += marker_length(payload[start : start + MAX_MARKER + 8].decode("latin-1"))
    cr = payload.find(b"\r", start)
    end = len(payload) if cr < 0 else cr
    lf = payload.find(b"\n", start, end)
    return payload[start : end if lf < 0 else lf]


def split(data: bytes) -> Iterator[Envelope]:
    """One Envelope per message, in stream order; see the module comment."""
    start_at = 3 if data.startswith(UTF8_BOM) else 0
    chunks: list[tuple[int, int, bool]] = []  # (start, end, starts with MSH)
    current: list[int] | None = None  # [start, end, is_message]
    pending: int | None = None  # where the line before began, when it was a marker ("[SOM]")
    for found in _LINE.finditer(data, start_at):
        line = found.group()
        body = line.lstrip(_BLANK)
        if not body.rstrip(_BLANK):
            continue
        begin = found.start() + (len(line) - len(body))
        end = _after_terminator(data, found.end())
        name = body[:3]
        if name in _BATCH and _names(body, name):
            if current is not None:
                chunks.append((current[0], current[1], bool(current[2])))
                current = None
            pending = None
            continue
        punctuation = not body[:1].isalnum()  # only a marker line (or garbage) starts so
        if _names(body, b"MSH") or (punctuation and _marked_header(body)):
            start = begin if pending is None else pending  # a marker line just before it is its own
            if current is not None and current[0] < start:
                chunks.append((current[0], min(current[1], start), bool(current[2])))
            current = [start, end, 1]
            pending = None
            continue
        marker = punctuation and _stray_marker(body)
        if current is None:
            current = [begin, end, 0]
        else:
            # A marker line after a message ([EOM]) stays with it unless an MSH follows at once,
            # which then takes the marker as its own ([SOM]): see the MSH branch above.
            current[1] = end
        pending = begin if marker else None
    if current is not None:
        chunks.append((current[0], current[1], bool(current[2])))
    for n, (start, end, is_message) in enumerate(chunks, start=1):
        payload = data[start:end]
        if is_message:
            yield _message(payload, n)
        else:
            yield _malformed(payload, n, "bytes that belong to no MSH segment", "segment[1]")


def _marked_header(body: bytes) -> bool:
    return b"MSH" in body[: MAX_MARKER + 4] and marker_length(body.decode("latin-1")) > 0


def _stray_marker(body: bytes) -> bool:
    """A line such as ``[SOM]``: punctuation first (no segment starts so) and marker text."""
    return is_marker(body.decode("latin-1"))


def _after_terminator(data: bytes, end: int) -> int:
    if data[end : end + 2] == b"\r\n":
        return end + 2
    if data[end : end + 1] in (b"\r", b"\n"):
        return end + 1
    return end


def _message(payload: bytes, n: int) -> Envelope:
    header_bytes = header_line(payload)
    try:
        header = header_bytes.decode("utf-8")
    except UnicodeDecodeError:
        header = header_bytes.decode("latin-1")
    if has_control_characters(header):
        problem = Problem(
            code=ProblemCode.CONTROL_CHARACTERS,
            message="the MSH segment holds control characters (NUL, ESC, ...)",
            where=SourceRef("", "MSH[1]"),
        )
        return Envelope(format=FORMAT_NAME, payload=payload, locator=f"message[{n}]", problems=(problem,))
    delimiters = read_delimiters(header)
    if isinstance(delimiters, str):
        return _malformed(payload, n, f"no usable MSH segment: {delimiters}", "MSH[1]-2")
    fields = header.split(delimiters.field)
    # fields[n] is MSH-(n+1): MSH-1 is the separator the split consumed.
    sender = fields[3] if len(fields) > 3 else ""
    control_id = fields[9] if len(fields) > 9 else ""
    return Envelope(
        format=FORMAT_NAME,
        payload=payload,
        dedupe_key=f"{sender}|{control_id}" if control_id else "",
        locator=f"message[{n}]",
        problems=_marked(payload),
    )


def _marked(payload: bytes) -> tuple[Problem, ...]:
    """A warning when a sender's marker precedes the MSH (the tokenizer says the same later)."""
    if payload.startswith(b"MSH"):
        return ()
    text = payload.decode("latin-1").lstrip(UTF8_BOM.decode("latin-1") + " \t\r\n\x0b")
    lead = marker_length(text)
    if not lead:
        return ()
    message = f"{lead} characters of text before the MSH segment (a sender's marker) were skipped"
    where = SourceRef("", "MSH[1]")
    return (
        Problem(code=ProblemCode.MARKER_SKIPPED, message=message, where=where, severity=Severity.WARNING),
    )


def _malformed(payload: bytes, n: int, message: str, locator: str) -> Envelope:
    """Stored all the same, so that the message ends excepted with this problem."""
    problem = Problem(code=ProblemCode.MALFORMED_MESSAGE, message=message, where=SourceRef("", locator))
    return Envelope(format=FORMAT_NAME, payload=payload, locator=f"message[{n}]", problems=(problem,))
