"""What may stand before an MSH, and what may not stand inside one.

Some sender tools write a text marker before each message (``[SOM]MSH|...``, or ``[SOM]`` on a
line of its own), some another after it (``[EOM]``). Such a file is still HL7 v2: the splitter
keeps the markers with the message (the stored bytes are what was received) and the tokenizer
skips them, each with a MARKER_SKIPPED warning. A marker is one word of printable ASCII that starts with
punctuation, as no segment does (``[SOM]``, ``<SOM>``, ``##``; no blanks inside: a line of prose
before an MSH is garbage, not a marker), at most ``MAX_MARKER`` characters, and cannot be the start
of another format (no JSON braces or quotes).

Control characters inside the MSH (a NUL from a broken sender, an escape byte) are refused: the
MSH is echoed into the acknowledgement and names the message's sender and control id, so a
header that holds them cannot be trusted or answered. Works on text; callers holding bytes decode
them as Latin-1, which keeps every byte at its position.
"""

from __future__ import annotations

import re

MAX_MARKER = 64
_HEADER = re.compile(r"MSH[^A-Za-z0-9\s]")
_MARKER = re.compile(r"\s*[!-~]+\s*")  # one word of printable ASCII, blanks around it
_NOT_IN_MARKER = frozenset('{}"')
# C0 controls and DEL; CR and LF end the segment, so they are never inside it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def marker_length(text: str) -> int:
    """Where the MSH begins when a sender's marker precedes it; 0 when ``text`` does not start
    with a marker followed by an MSH (either it starts with the MSH or it is no HL7 v2 at all)."""
    found = _HEADER.search(text, 0, MAX_MARKER + 4)
    if found is None or found.start() == 0:
        return 0
    return found.start() if is_marker(text[: found.start()]) else 0


def is_marker(text: str) -> bool:
    """Short printable text that is not the start of another format."""
    stripped = text.strip()
    if not stripped or stripped[0].isalnum() or len(stripped) > MAX_MARKER:
        return False
    return _MARKER.fullmatch(text) is not None and not (_NOT_IN_MARKER & set(stripped))


def has_control_characters(header: str) -> bool:
    return _CONTROL.search(header) is not None


def without_control_characters(text: str) -> str:
    return _CONTROL.sub("", text)
