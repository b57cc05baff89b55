"""Synthetic patients: obviously fake names, numbers and addresses.

The parsers tokenise identifiers and drop names, birth dates and addresses, so none of this should
ever reach an event; the values are still made to look fake at a glance (NATO-alphabet given
names, surnames like "Fakewell", 555-01xx telephone numbers, ZIP 00000-00099, a Faketown) so
that nobody mistakes a demo message for a real one, and so a test can search for them as
sentinels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from revbridge.demo.draw import Draw

GIVEN = (
    "ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT", "GOLF", "HOTEL", "INDIA", "JULIET",
    "KILO", "LIMA", "MIKE", "NOVEMBER", "OSCAR", "PAPA", "QUEBEC", "ROMEO", "SIERRA", "TANGO",
)  # fmt: skip
FAMILY = (
    "FAKEWELL", "DUMMYTON", "MOCKRIDGE", "TESTOVA", "SAMPLESEN", "NOTREAL", "MADEUPSKI", "PLACEHOLD",
    "SYNTHETICA", "EXAMPLAR", "FICTIONE", "PRETENDER", "IMAGINARO", "BOGUSSON", "PHONYWOOD",
)  # fmt: skip
STREETS = ("NOWHERE LANE", "IMAGINARY AVE", "FICTION ROAD", "PRETEND STREET", "DEMO DRIVE")
CITY = "FAKETOWN"
STATE = "NY"


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    mrn: str  # medical record number (PID-3, MR)
    member_id: str  # the payer's member id (IN1-36, NM1*IL, NM1*QC)
    fhir_id: str  # the id of the patient's FHIR Patient resource
    family: str
    given: str
    birth_date: date
    sex: str  # F | M
    street: str
    zip_code: str
    phone: str


def person(rng: Draw, visit: str, on: date) -> Person:
    """A patient for the visit numbered ``visit``; identifiers derive from it, so they are unique
    per visit (the demo never follows one patient across visits)."""
    age_days = rng.between(1 * 365, 92 * 365)
    return Person(
        mrn=f"M{visit}",
        member_id=f"ZZ{visit}",
        fhir_id=f"demo-{visit.lower()}",
        family=rng.pick(FAMILY),
        given=rng.pick(GIVEN),
        birth_date=on - timedelta(days=age_days),
        sex=rng.pick("FM"),
        street=f"{rng.between(1, 999)} {rng.pick(STREETS)}",
        zip_code=f"000{rng.between(0, 99):02d}",
        phone=f"555-01{rng.between(0, 99):02d}",
    )
