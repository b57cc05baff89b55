"""SourceRef: where in which stored message a value came from.

Locators follow the standards' own vocabulary so an analyst can find the spot by eye:
``FT1[2]-11.1`` (HL7 v2: second FT1 segment, field 11, component 1),
``ST[1]/2100[3]/CAS[1]`` (X12: first transaction set, third claim loop, first CAS),
``entry[4].resource.total`` (FHIR: a FHIRPath-like expression).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceRef:
    message_id: str = ""
    locator: str = ""

    def at(self, locator: str, *, sep: str = "/") -> SourceRef:
        """A ref deeper inside the same message."""
        if not self.locator:
            return SourceRef(self.message_id, locator)
        if not locator:
            return self
        return SourceRef(self.message_id, f"{self.locator}{sep}{locator}")

    def with_message(self, message_id: str) -> SourceRef:
        return SourceRef(message_id, self.locator)

    def __str__(self) -> str:
        return self.locator or "(message)"
