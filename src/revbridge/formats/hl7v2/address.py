"""The one notation we use to point into an HL7 v2 message, in problems, tests and docs.

    SEG[occurrence]-field(repetition).component.subcomponent

``FT1[2]-11.1`` is component 1 of field 11 of the second FT1; ``FT1[1]-26(2)`` the second
repetition of FT1-26; ``PID[1]-3(2).4.2`` sub-component 2 of component 4 of the second PID-3
repetition. Every number is 1-based; ``[1]`` may be left out when reading (``PID-3``) and
``(1)`` always is when writing. Locators without a field (``FT1[2]``) name a whole segment.
It is the analyst's notation (the one integration engines print), not python-hl7's
``FT1.F11.R1.C1``, because work items show it to people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from revbridge.formats.hl7v2.message import Message

_PATTERN = re.compile(
    r"(?P<seg>[A-Z][A-Z0-9]{2})(?:\[(?P<occ>[1-9][0-9]*)\])?"
    r"(?:-(?P<field>[1-9][0-9]*)(?:\((?P<rep>[1-9][0-9]*)\))?"
    r"(?:\.(?P<comp>[1-9][0-9]*)(?:\.(?P<sub>[1-9][0-9]*))?)?)?"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    segment: str
    occurrence: int = 1
    field: int | None = None
    repetition: int = 1
    component: int | None = None
    sub: int | None = None

    @classmethod
    def parse(cls, text: str) -> Address:
        found = _PATTERN.fullmatch(text)
        if found is None:
            raise ValueError(f"not an HL7 v2 address: {text!r}")
        g = found.groupdict()
        return cls(
            segment=g["seg"],
            occurrence=int(g["occ"] or 1),
            field=int(g["field"]) if g["field"] else None,
            repetition=int(g["rep"] or 1),
            component=int(g["comp"]) if g["comp"] else None,
            sub=int(g["sub"]) if g["sub"] else None,
        )

    def __str__(self) -> str:
        out = f"{self.segment}[{self.occurrence}]"
        if self.field is None:
            return out
        out += f"-{self.field}"
        if self.repetition != 1:
            out += f"({self.repetition})"
        if self.component is not None:
            out += f".{self.component}"
            if self.sub is not None:
                out += f".{self.sub}"
        return out


def read(message: Message, address: Address | str) -> str:
    """The unescaped value at ``address``; "" when the message does not reach it."""
    where = Address.parse(address) if isinstance(address, str) else address
    if where.field is None:
        raise ValueError("an address to read needs a field number")
    found = message.all(where.segment)
    if where.occurrence > len(found):
        return ""
    return found[where.occurrence - 1].get(
        where.field, where.component or 1, where.sub or 1, where.repetition
    )
