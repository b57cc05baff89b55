"""The one registry of formats, in detection order (a portal JSON document is any JSON that is not
FHIR, so it comes last). bootstrap.py chooses from here; a test checks every name is documented."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from revbridge.formats.base import Format
from revbridge.formats.fhir import FHIR
from revbridge.formats.hl7v2 import HL7V2
from revbridge.formats.portal import PORTAL
from revbridge.formats.staging import STAGING
from revbridge.formats.x12 import X12

FORMATS: Mapping[str, Format] = MappingProxyType({f.name: f for f in (HL7V2, X12, FHIR, STAGING, PORTAL)})
