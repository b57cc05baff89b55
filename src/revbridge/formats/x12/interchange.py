"""Cutting a received X12 file into interchanges, the unit the store keeps as one message.

Intake calls this before anything is stored, so it works on the raw bytes, copies each ISA..IEA
out exactly as received, and never fails: bytes that are not an interchange still become an
``Envelope`` (with a MALFORMED_MESSAGE problem) so nothing received is lost. Everything past the
ISA is left to ``to_events``, which checks the envelopes properly. A file that is a bare
transaction set (``ST*835`` ... ``SE``, no ISA or GS; bare.py) is one envelope from its ST to the
end, deduplicated on the payer and TRN02 of its 835s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode
from revbridge.formats.base import IN_ORDER, Envelope, cash_priority
from revbridge.formats.x12 import bare
from revbridge.formats.x12.segments import Delimiters, read_delimiters

NAME = "x12"
_BETWEEN = b"\r\n\t \xef\xbb\xbf"  # whitespace and the bytes of a UTF-8 byte-order mark
_ISA_WINDOW = 512
_LINE_ISA = re.compile(rb"[\r\n][ \t]*ISA[^A-Za-z0-9\s]")


def detect(head: bytes) -> bool:
    """ISA after an optional byte-order mark and whitespace, then a non-alphanumeric separator."""
    start = head.lstrip(_BETWEEN)
    if start[:3] == b"ISA" and (len(start) < 4 or not chr(start[3]).isalnum()):
        return True
    # A bare transaction set, or text before an ISA that starts a line (split keeps the text as
    # an envelope of its own with a problem, so nothing is lost and the interchange still posts).
    return bare.is_bare(start[:16].decode("latin-1")) or _LINE_ISA.search(head) is not None


def split(data: bytes) -> Iterator[Envelope]:
    pos = _skip(data, 0)
    if data[pos : pos + 2] == b"ST" and bare.is_bare(data[pos : pos + 16].decode("latin-1")):
        yield _bare(data, pos)
        return
    count = 0
    while pos < len(data):
        found = _delimiters_at(data, pos)
        if isinstance(found, str):
            # Everything up to the next readable ISA is one envelope, however many false starts
            # it holds: a file of garbage is one message to look at, not thousands.
            end = _next_interchange(data, pos + 1)
            yield _malformed(data, pos, end, found)
            pos = _skip(data, end)
            continue
        end = _interchange_end(data, pos, found)
        count += 1
        isa = data[pos : pos + _ISA_WINDOW].decode("latin-1").split(found.element, 14)
        key = f"{isa[6].strip()}|{isa[13].strip()}" if len(isa) > 13 else ""
        payload = data[pos:end]
        yield Envelope(
            format=NAME,
            payload=payload,
            dedupe_key=key,
            locator=f"ISA[{count}]",
            priority=priority_of(payload, found),
        )
        pos = _skip(data, end)


def _bare(data: bytes, pos: int) -> Envelope:
    """The whole file from its ST: the walker reads every transaction set in it (bare.py)."""
    text = data[pos:].decode("latin-1")
    delimiters = bare.read_bare_delimiters(text, 0)
    if isinstance(delimiters, str):
        return _malformed(data, pos, len(data), delimiters)
    return Envelope(
        format=NAME,
        payload=data[pos:],
        dedupe_key=bare.dedupe_key(text, delimiters),
        locator="ST[1]",
        priority=priority_of(data[pos:], delimiters),
    )


def priority_of(payload: bytes, delimiters: Delimiters) -> int:
    """Remittances (only 835 transaction sets: cash, no encounter context) go first: SMALL_CASH
    when under SMALL_REMITTANCE_BYTES, else FIRST (behind patients' payments). 837 claims, and an
    interchange mixing both, keep their place in arrival order (IN_ORDER)."""
    term = re.escape(delimiters.segment.encode("latin-1"))
    sep = re.escape(delimiters.element.encode("latin-1"))
    st = re.compile(rb"(?:^|" + term + rb")[\r\n\t ]*ST" + sep + rb"([0-9]{3})" + sep)
    codes = set(st.findall(payload))
    if codes != {b"835"}:
        return IN_ORDER
    return cash_priority(len(payload))


def _skip(data: bytes, pos: int) -> int:
    end = len(data)
    while pos < end and data[pos] in _BETWEEN:
        pos += 1
    return pos


def _delimiters_at(data: bytes, pos: int) -> Delimiters | str:
    if data[pos : pos + 3] != b"ISA":
        return "bytes outside any ISA..IEA interchange"
    return read_delimiters(data[pos : pos + _ISA_WINDOW].decode("latin-1"), 0)


def _next_interchange(data: bytes, start: int) -> int:
    """Where the next ISA with readable delimiters begins, or the end of the data."""
    while (found := data.find(b"ISA", start)) >= 0:
        separator = data[found + 3 : found + 4]
        plausible = separator and not separator.isalnum() and separator not in _BETWEEN
        if plausible and not isinstance(_delimiters_at(data, found), str):
            return found
        start = found + 1
    return len(data)


def _interchange_end(data: bytes, start: int, delimiters: Delimiters) -> int:
    """Just past the IEA's terminator; or before the next ISA when the IEA is missing."""
    term = re.escape(delimiters.segment.encode("latin-1"))
    sep = re.escape(delimiters.element.encode("latin-1"))
    boundary = re.compile(term + rb"[\r\n\t \xef\xbb\xbf]*(?:(IEA)|ISA)" + sep)
    match = boundary.search(data, start + 3)
    if match is None:
        return len(data)
    if match.group(1) is None:
        return match.start() + 1  # keep the terminator that ends the last segment
    stop = data.find(delimiters.segment.encode("latin-1"), match.end())
    return len(data) if stop < 0 else stop + 1


def _malformed(data: bytes, start: int, end: int, reason: str) -> Envelope:
    where = f"bytes[{start}:{end}]"
    problem = Problem(code=ProblemCode.MALFORMED_MESSAGE, message=reason, where=SourceRef("", where))
    return Envelope(format=NAME, payload=data[start:end], locator=where, problems=(problem,))
