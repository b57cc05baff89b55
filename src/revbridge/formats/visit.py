"""The fields every encounter event carries, as one keyword set for the event constructors.

An HL7 v2 ADT/BAR message and a FHIR Encounter or Account each say one thing about one visit:
it was registered, updated or cancelled. Their mappers fill a ``Visit`` once and pass it to
whichever of EncounterRegistered, EncounterUpdated or EncounterCancelled their trigger or status
names, adding only what a registration or an update says besides. This module names fields; it
reads nothing and decides nothing.
"""

from __future__ import annotations

from datetime import date
from typing import TypedDict

from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef


class Visit(TypedDict):
    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    encounter: str
    patient: PatientToken
    trigger: str  # A01, A04, A08, A11, ... or the FHIR resource type
