"""The demo health system: a seeded, pure generator of its traffic and the truth of what it sent.

``generate(start=..., days=..., seed=..., scale=...)`` returns a ``Traffic``: per day, the messages
in the order they are sent, each with the channel it arrives by (MLLP, file, FHIR or portal
HTTP), its bytes and what revbridge should make of it, plus the day's totals and its deliberate
faults. ``system`` describes the hospitals, payers and codes of ``examples/config`` as senders
use them; ``system.check(master)`` says whether a configuration maps them all.
"""

from revbridge.demo.generator import LOOKBACK, generate, visits_per_day
from revbridge.demo.system import FACILITIES, PAYERS, check
from revbridge.demo.truth import (
    Channel,
    Day,
    Expectation,
    Fault,
    FaultKind,
    Kind,
    Message,
    Status,
    Totals,
    Traffic,
)

__all__ = [
    "FACILITIES",
    "LOOKBACK",
    "PAYERS",
    "Channel",
    "Day",
    "Expectation",
    "Fault",
    "FaultKind",
    "Kind",
    "Message",
    "Status",
    "Totals",
    "Traffic",
    "check",
    "generate",
    "visits_per_day",
]
