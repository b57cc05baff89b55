"""A transaction set sent without its envelopes: ``ST*835*0001~ ... SE*n*0001~``, no ISA or GS.

Clearinghouse portals and remittance tools export 835s this way. Without an ISA there is no
declaration of the delimiters, so they are read from the ST itself: the element separator is the
character after ``ST``; the segment terminator is the first character after the ST's elements
(``~`` usually, then maybe a newline; a bare CRLF reads as LF with the CR dropped); the component
separator is the one the first composite (SVC01, SV101, SV201, HI01) uses after its two-character
qualifier, else ``:``; there is no repetition separator. The envelope.py walker reads such a set
as it reads an enveloped one (same events, same journals) and warns MISSING_ENVELOPE.

Without ISA06 and ISA13 the store deduplicates on the payer and TRN02 of each 835 in the file
(``ST|<payer>|<TRN02>``), and on the content hash as always: the same remittance exported twice
is a duplicate, a different file that claims the same trace is a DUPLICATE_CONFLICT.
"""

from __future__ import annotations

import re

from revbridge.formats.x12.segments import BETWEEN_SEGMENTS, Delimiters

_BARE = re.compile(r"ST([^A-Za-z0-9\s])(835|837)\1")
_WINDOW = 64 * 1024  # where the first composite is looked for
_MAX_KEY = 400


def is_bare(text: str) -> bool:
    """True when ``text`` starts (after inter-segment whitespace) with an 835 or 837 ST."""
    return _BARE.match(text.lstrip(BETWEEN_SEGMENTS)) is not None


def read_bare_delimiters(text: str, start: int) -> Delimiters | str:
    """The delimiters of a bare transaction set whose ST begins at ``start``, or why not."""
    found = _BARE.match(text, start)
    if found is None:
        return "the transaction set does not start with ST*835 or ST*837"
    element = found.group(1)
    pos = found.end()
    while pos < len(text) and (text[pos].isalnum() or text[pos] in (element, " ")):
        pos += 1
    if pos >= len(text):
        return "the ST segment has no terminator"
    segment = text[pos]
    if segment == "\r" and text[pos + 1 : pos + 2] == "\n":
        segment = "\n"  # the tokenizer drops the CR of a CRLF when LF ends segments
    component = _component(text[start : start + _WINDOW], element, segment)
    if len({element, segment, component}) != 3:
        return "the element separator and segment terminator cannot be told apart"
    return Delimiters(element=element, component=component, repetition="", segment=segment)


def _component(text: str, element: str, segment: str) -> str:
    e, t = re.escape(element), re.escape(segment)
    composite = re.compile(rf"(?:^|{t})\s*(?:SVC|SV1|SV2|HI){e}[A-Z0-9]{{2}}([^A-Za-z0-9\s])")
    for found in composite.finditer(text):
        candidate = found.group(1)
        if candidate not in (element, segment):
            return candidate
    return ":"


def dedupe_key(text: str, delimiters: Delimiters) -> str:
    """``ST|<payer>|<TRN02>`` for each 835 in the text (joined by ``,``); "" when there is none,
    or when they would not fit a key (the content hash then stands alone)."""
    keys: list[str] = []
    trace = originator = payer = ""
    for raw in text.split(delimiters.segment):
        elements = raw.strip(BETWEEN_SEGMENTS).split(delimiters.element)
        match elements[0]:
            case "ST":
                trace = originator = payer = ""
            case "TRN" if not trace:
                trace = _at(elements, 2)
                originator = _at(elements, 3)
            case "N1" if _at(elements, 1) == "PR" and not payer:
                payer = _at(elements, 4)
            case "SE" if trace:
                keys.append(f"ST|{originator or payer}|{trace}")
    key = ",".join(keys)
    return key if len(key) <= _MAX_KEY else ""


def _at(elements: list[str], n: int) -> str:
    return elements[n].strip() if n < len(elements) else ""
