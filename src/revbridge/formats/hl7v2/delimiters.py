"""The five (or six) characters an HL7 v2 message chooses for itself, and escaping with them.

MSH-1 is the field separator; MSH-2 lists component, repetition, escape and sub-component
characters (and, from v2.7, a truncation character), HL7 v2.5 section 2.5.4. A sender may pick any
characters, so nothing downstream may assume ``|^~\\&``. Unescaping happens only when a value is
read (section 2.7): splitting on raw delimiters first is what makes ``\\F\\`` safe to carry.
"""

from __future__ import annotations

from dataclasses import dataclass

# Characters that can never be delimiters: they would be indistinguishable from data or from the
# segment terminator.
_FORBIDDEN = frozenset("\r\n\t \x0b\x1c")


@dataclass(frozen=True, slots=True)
class Delimiters:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as it would be written for these delimiters."""
        return self.component + self.repetition + self.escape + self.subcomponent + self.truncation


STANDARD = Delimiters()


def read_delimiters(header: str) -> Delimiters | str:
    """Delimiters of a segment that starts ``MSH``, ``FHS`` or ``BHS``, or why they are unusable.

    Missing encoding characters take the standard ones (as python-hl7 does); anything that makes
    two delimiters equal, or a delimiter a letter, digit or whitespace, is refused.
    """
    if len(header) < 4:
        return "the header segment ends before MSH-1"
    field = header[3]
    end = header.find(field, 4)
    encoding = header[4:] if end < 0 else header[4:end]
    if "\r" in encoding or "\n" in encoding:
        encoding = encoding.split("\r", 1)[0].split("\n", 1)[0]
    if not 1 <= len(encoding) <= 5:
        return "MSH-2 must hold 1 to 5 encoding characters"
    padded = encoding + STANDARD.encoding_characters[len(encoding) : 4]
    chars = [field, *padded]
    for char in chars:
        if char.isalnum() or char in _FORBIDDEN or not char.isprintable():
            return "a delimiter is a letter, digit, whitespace or control character"
    if len(set(chars)) != len(chars):
        return "two delimiters are the same character"
    return Delimiters(
        field=field,
        component=padded[0],
        repetition=padded[1],
        escape=padded[2],
        subcomponent=padded[3],
        truncation=padded[4] if len(padded) > 4 else "",
    )


def unescape(value: str, d: Delimiters) -> str:
    """Replace ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\P\\ \\Xhh..\\`` with what they stand for.

    Sequences we do not interpret (highlighting, formatting, character-set switches) and an
    unterminated escape are kept as written, so no data is silently lost.
    """
    esc = d.escape
    if esc not in value:
        return value
    out: list[str] = []
    i = 0
    n = len(value)
    while i < n:
        j = value.find(esc, i)
        if j < 0:
            out.append(value[i:])
            break
        out.append(value[i:j])
        k = value.find(esc, j + 1)
        if k < 0:
            out.append(value[j:])
            break
        replacement = _sequence(value[j + 1 : k], d)
        out.append(value[j : k + 1] if replacement is None else replacement)
        i = k + 1
    return "".join(out)


def _sequence(seq: str, d: Delimiters) -> str | None:
    match seq:
        case "F":
            return d.field
        case "S":
            return d.component
        case "T":
            return d.subcomponent
        case "R":
            return d.repetition
        case "E":
            return d.escape
        case "P" if d.truncation:
            return d.truncation
        case _ if len(seq) >= 3 and seq[0] == "X" and len(seq) % 2 == 1:
            try:
                raw = bytes.fromhex(seq[1:])
            except ValueError:
                return None
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw.decode("latin-1")
        case _:
            return None


def escape(value: str, d: Delimiters) -> str:
    """Make free text safe to place in one component of a message written with ``d``."""
    e = d.escape
    out = value.replace(e, f"{e}E{e}")
    for char, code in (
        (d.field, "F"),
        (d.component, "S"),
        (d.subcomponent, "T"),
        (d.repetition, "R"),
    ):
        out = out.replace(char, f"{e}{code}{e}")
    if d.truncation:
        out = out.replace(d.truncation, f"{e}P{e}")
    return out.replace("\r", f"{e}X0D{e}").replace("\n", f"{e}X0A{e}")
