"""What ``rules.apply`` needs from the store, as a protocol the pipeline implements.

Charges need their encounter (patient class, department, primary payer) and reversals their
original charge. The store knows these from earlier messages; apply asks through this protocol and
never reaches into the store itself, so it stays pure and tests pass a dictionary-backed fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterFacts:
    """The latest context of an encounter (from ADT/FHIR context events)."""

    patient_class: str = ""  # I, O, E, ... as sent
    department: str = ""  # as sent (PV1-10 / PV1-3.1): a charge without FT1-13 falls back to it
    primary_payer_id: str = ""  # as sent (IN1-3 of the priority-1 coverage); "" = no coverage


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeFacts:
    """What a reversal must mirror of the charge it reverses."""

    department: str  # as sent on the original charge
    payer_class: str  # the payer class the original charge was posted to (its line's dimension)


class PostingContext(Protocol):
    def encounter(self, facility_code: str, encounter_id: str) -> EncounterFacts | None: ...

    def charge(self, facility_code: str, charge_id: str) -> ChargeFacts | None: ...


@dataclass(frozen=True, slots=True)
class StaticContext:
    """A PostingContext over plain dictionaries: for tests, the demo and one-off tools."""

    encounters: dict[tuple[str, str], EncounterFacts]
    charges: dict[tuple[str, str], ChargeFacts]

    def encounter(self, facility_code: str, encounter_id: str) -> EncounterFacts | None:
        return self.encounters.get((facility_code, encounter_id))

    def charge(self, facility_code: str, charge_id: str) -> ChargeFacts | None:
        return self.charges.get((facility_code, charge_id))


NO_CONTEXT = StaticContext({}, {})
