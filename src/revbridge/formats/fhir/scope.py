"""What the resource mappers share while one document is turned into events.

A ``Scope`` resolves references inside the posted document (``urn:uuid:`` fullUrls of a Bundle,
``Type/id`` of its entries, ``#id`` of contained resources), turns patient references into
tokens, builds event keys and supplies the business-date fallback. It reads referenced resources
only for the few facts a mapper needs (a Patient's identity, an Encounter's serviceProvider, a
Coverage's payor) and never reads a name, a display of a patient reference or an address.

Patient tokens: a reference that resolves to a Patient with an id, or a literal ``Patient/<id>``
reference, becomes ``tokenizer("fhir:Patient", "Patient/<id>")``, so the same patient has the same
token whether or not the Patient resource came along. Only a Patient without an id falls back to
its MR identifier (``tokenizer("mrn", value)``), and a logical reference to its identifier
(``tokenizer("fhir:identifier", "system|value")``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef
from revbridge.core.problem import ProblemCode, Severity
from revbridge.formats.base import ParseContext
from revbridge.formats.fhir.bundle import Entry
from revbridge.formats.fhir.reader import Head, JsonObject, Reader, Ref


@dataclass(frozen=True, slots=True)
class Target:
    resource_type: str
    id: str  # "" for a contained resource (its id is local to its container) or none given
    raw: JsonObject


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _logical(reference: str) -> tuple[str, str]:
    """("Claim", "15476332402") from "Claim/15476332402", ".../fhir/Claim/1/_history/2"."""
    parts = reference.split("?", 1)[0].rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2], parts[-1]
    return "", ""


class Scope:
    __slots__ = ("_index", "_reported", "_tokens", "ctx", "ignored", "in_bundle", "reader")

    def __init__(
        self, *, ctx: ParseContext, reader: Reader, entries: Iterable[Entry], in_bundle: bool
    ) -> None:
        self.ctx = ctx
        self.reader = reader
        self.in_bundle = in_bundle
        self.ignored: list[str] = []  # why resources that post nothing were passed over
        self._tokens: dict[tuple[str, str, str], PatientToken | None] = {}
        self._reported: set[str] = set()
        self._index: dict[str, Target] = {}
        for entry in entries:
            rid = _str(entry.resource.get("id"))
            target = Target(entry.resource_type, rid, entry.resource)
            if entry.full_url:
                self._index.setdefault(entry.full_url, target)
                kind, lid = _logical(entry.full_url)
                if kind == entry.resource_type:
                    self._index.setdefault(f"{kind}/{lid}", target)
            if rid:
                self._index.setdefault(f"{entry.resource_type}/{rid}", target)

    # ---- places and dates ------------------------------------------------------------------

    def source(self, path: str) -> SourceRef:
        return SourceRef(self.ctx.message_id, path)

    def occurred(self, *dates: date | None) -> date:
        for value in dates:
            if value is not None:
                return value
        return self.ctx.received_on

    def key(self, head: Head) -> str:
        """``fhir:<type>/<id>[/_history/<versionId>]``; mappers add ``#...`` per extra event."""
        if head.id:
            history = f"/_history/{head.version_id}" if head.version_id else ""
            return f"fhir:{head.resource_type}/{head.id}{history}"
        if head.full_url.startswith("urn:uuid:"):
            return f"fhir:{head.resource_type}/{head.full_url}"
        # Stable on replay (same message, same position) but not across re-sends: mapping.py
        # warns when such a key reaches an event.
        return f"fhir:{head.resource_type}@{self.ctx.message_id}:{head.path}"

    # ---- references ------------------------------------------------------------------------

    def resolve(self, ref: Ref | None, container: JsonObject | None = None) -> Target | None:
        if ref is None or not ref.reference:
            return None
        reference = ref.reference
        if reference.startswith("#"):
            return self._contained(reference[1:], container)
        hit = self._index.get(reference)
        if hit is None and not reference.startswith("urn:"):
            kind, lid = _logical(reference)
            if kind:
                hit = self._index.get(f"{kind}/{lid}")
        # Inner references read out of another resource carry no path: that resource reports its
        # own dangling references when it is mapped.
        if hit is None and reference.startswith("urn:") and self.in_bundle and ref.path:
            if ref.path in self._reported:
                return None
            self._reported.add(ref.path)
            self.reader.problem(
                ProblemCode.UNRESOLVED_REFERENCE,
                f"{ref.path}.reference",
                "the urn reference names no entry of this Bundle",
            )
        return hit

    def _contained(self, local: str, container: JsonObject | None) -> Target | None:
        contained = container.get("contained") if container is not None else None
        if isinstance(contained, list):
            for item in contained:
                if isinstance(item, dict) and item.get("id") == local:
                    return Target(_str(item.get("resourceType")), "", item)
        return None

    def text(self, ref: Ref | None, container: JsonObject | None = None) -> str:
        """A non-patient reference as master data will see it: ``Organization/1`` (a urn:uuid
        resolved to its entry's type and id), else the reference, identifier value or display."""
        if ref is None:
            return ""
        if ref.reference:
            target = self.resolve(ref, container)
            if target is not None and target.id:
                return f"{target.resource_type}/{target.id}"
            if ref.reference.startswith("#"):
                return ref.display or ref.reference
            return ref.reference
        return ref.value or ref.display

    def local_id(self, ref: Ref | None, container: JsonObject | None = None) -> str:
        """The id of what a reference points at: an encounter or claim number."""
        if ref is None:
            return ""
        if ref.reference:
            target = self.resolve(ref, container)
            if target is not None and target.id:
                return target.id
            if ref.reference.startswith("urn:uuid:"):
                return ref.reference[len("urn:uuid:") :]
            kind, lid = _logical(ref.reference)
            return lid if kind else ref.reference
        return ref.value

    def patient(self, ref: Ref | None) -> PatientToken | None:
        if ref is None:
            return None
        cache_key = (ref.reference, ref.system, ref.value)
        if cache_key in self._tokens:
            return self._tokens[cache_key]
        token = self._patient(ref)
        self._tokens[cache_key] = token
        return token

    def _patient(self, ref: Ref) -> PatientToken | None:
        reader = self.reader
        if ref.reference:
            target = self.resolve(ref)
            if target is not None:
                if target.resource_type != "Patient":
                    self._not_a_patient(ref)
                    return None
                if target.id:
                    return reader.token("fhir:Patient", f"Patient/{target.id}")
                mrn = _mrn(target.raw)
                if mrn:
                    return reader.token("mrn", mrn)
                return reader.token("fhir:Patient", ref.reference)
            kind, lid = _logical(ref.reference)
            if kind == "Patient":
                return reader.token("fhir:Patient", f"Patient/{lid}")
            if kind:
                self._not_a_patient(ref)
                return None
            return reader.token("fhir:Patient", ref.reference)
        if ref.value:
            return reader.token("fhir:identifier", f"{ref.system}|{ref.value}")
        return None  # display only: a name, never read

    def _not_a_patient(self, ref: Ref) -> None:
        self.reader.problem(
            ProblemCode.INVALID_VALUE,
            f"{ref.path}.reference",
            "the reference does not name a Patient",
            severity=Severity.WARNING,
        )

    def payer_of_coverage(self, ref: Ref | None, container: JsonObject | None) -> str:
        """The payor of a referenced Coverage (in the Bundle or contained), else its display."""
        if ref is None:
            return ""
        target = self.resolve(ref, container)
        if target is not None and target.resource_type == "Coverage":
            payors = target.raw.get("payor")
            if isinstance(payors, list) and payors and isinstance(payors[0], dict):
                first = payors[0]
                inner = Ref(
                    path="",
                    reference=_str(first.get("reference")),
                    display=_str(first.get("display")),
                    value=_identifier_value(first),
                )
                text = self.text(inner, target.raw if not target.id else None)
                if text:
                    return text
        return ref.display

    def service_provider(self, encounter: Ref | None) -> str:
        """An Encounter's serviceProvider when the Encounter came in the same document."""
        target = self.resolve(encounter)
        if target is None or target.resource_type != "Encounter":
            return ""
        provider = target.raw.get("serviceProvider")
        if not isinstance(provider, dict):
            return ""
        inner = Ref(
            path="",
            reference=_str(provider.get("reference")),
            value=_identifier_value(provider),
            display=_str(provider.get("display")),
        )
        return self.text(inner)


def _identifier_value(raw: JsonObject) -> str:
    identifier = raw.get("identifier")
    return _str(identifier.get("value")) if isinstance(identifier, dict) else ""


def _mrn(patient: JsonObject) -> str:
    identifiers = patient.get("identifier")
    if not isinstance(identifiers, list):
        return ""
    for identifier in identifiers:
        if not isinstance(identifier, dict):
            continue
        kind = identifier.get("type")
        codings = kind.get("coding") if isinstance(kind, dict) else None
        if isinstance(codings, list) and any(isinstance(c, dict) and c.get("code") == "MR" for c in codings):
            return _str(identifier.get("value"))
    return ""
