"""FHIR R4 (4.0.1) financial resources and Bundles -> canonical events.

Pure: bytes in, typed models, events and located problems out. ``FHIR`` is the format object
(formats/base.py); ``check`` answers the HTTP routes before a body is stored; ``operation_outcome``
and ``bundle_response`` build what those routes answer. fhir.resources is never used here: it
reads money through float and validates at under a thousand resources a second.
"""

from revbridge.formats.fhir.format import FHIR, FhirFormat, dedupe_key
from revbridge.formats.fhir.intake import Admission, EntryCheck, check
from revbridge.formats.fhir.mapping import HANDLERS, Parsed, Resource, parse, to_events
from revbridge.formats.fhir.outcome import EntryOutcome, bundle_response, http_status, operation_outcome

__all__ = [
    "FHIR",
    "HANDLERS",
    "Admission",
    "EntryCheck",
    "EntryOutcome",
    "FhirFormat",
    "Parsed",
    "Resource",
    "bundle_response",
    "check",
    "dedupe_key",
    "http_status",
    "operation_outcome",
    "parse",
    "to_events",
]
