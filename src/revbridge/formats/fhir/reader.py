"""Typed, located access to parsed FHIR JSON.

The resource readers never index a dict directly: they ask a ``Reader`` for a string, a code, a
date, a Money or a Reference, and get either a typed value or nothing plus a ``Problem`` located by
a FHIRPath-like expression (``Bundle.entry[4].resource.total.value``) that can become an
OperationOutcome ``issue.expression``. Nothing here raises on bad input, and nothing here reads
a display name or an identifier into a problem message: messages name the element, never its
patient data.

Money arrives as ``Decimal`` (the document is read with ``parse_float=Decimal``). An amount with
more decimals than its currency allows is kept exactly as written in ``Amount.value`` and reported
as an INEXACT_AMOUNT warning; ``Amount.money()`` gives the half-even rounding that posts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef
from revbridge.core.money import CURRENCY_EXPONENT, Money
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.core.tokens import Tokenizer

JsonObject = dict[str, Any]

# Amounts at or beyond 10**21 are refused: they are never real money and would overflow the
# 28-digit decimal context when rounded (12345678901234567.89 still fits with room to spare).
_LIMIT = Decimal(10) ** 21
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_ISO4217 = re.compile(r"[A-Z]{3}")
_TIME = re.compile(r"T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")


@dataclass(frozen=True, slots=True, kw_only=True)
class Amount:
    value: Decimal  # exactly as written
    currency: str
    path: str  # the Money element: "Claim.total"

    def money(self) -> Money:
        return Money(self.value, self.currency).rounded()


@dataclass(frozen=True, slots=True, kw_only=True)
class Ref:
    path: str
    reference: str = ""
    type: str = ""
    system: str = ""  # a logical reference's identifier
    value: str = ""
    # Never used for a patient reference: a display there is usually the patient's name.
    display: str = ""


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str


Concept = tuple[Coding, ...]


def currency_shown(value: object) -> str:
    """An ISO 4217-shaped code is echoed; anything else may be patient data and is not."""
    return repr(value) if isinstance(value, str) and _ISO4217.fullmatch(value) else "(not an ISO 4217 code)"


def code_of(concept: Concept, system: str | None = None) -> str:
    for coding in concept:
        if coding.code and (system is None or coding.system == system):
            return coding.code
    return ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Head:
    """What every resource reader keeps: where the resource sits and who it is."""

    resource_type: str
    path: str  # "Claim" or "Bundle.entry[3].resource"
    id: str = ""
    version_id: str = ""
    full_url: str = ""


class Reader:
    """Typed getters over one parsed document that collect problems instead of raising."""

    __slots__ = ("currency", "message_id", "problems", "tokenizer")

    def __init__(self, *, message_id: str, default_currency: str, tokenizer: Tokenizer) -> None:
        self.message_id = message_id
        self.currency = default_currency
        self.tokenizer = tokenizer
        self.problems: list[Problem] = []

    def problem(
        self,
        code: ProblemCode,
        path: str,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
        event_key: str | None = None,
        details: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.problems.append(
            Problem(
                code=code,
                message=message,
                where=SourceRef(self.message_id, path),
                severity=severity,
                event_key=event_key,
                details=details,
            )
        )

    def token(self, kind: str, value: str) -> PatientToken:
        return self.tokenizer(kind, value)

    # ---- structure -------------------------------------------------------------------------

    def child(self, obj: JsonObject, name: str, path: str, *, required: bool = False) -> JsonObject | None:
        raw = obj.get(name)
        if raw is None:
            if required:
                self.problem(ProblemCode.MISSING_FIELD, f"{path}.{name}", f"{name} is required")
            return None
        if not isinstance(raw, dict):
            self.problem(ProblemCode.INVALID_VALUE, f"{path}.{name}", f"{name} must be a JSON object")
            return None
        return raw

    def children(
        self, obj: JsonObject, name: str, path: str, *, required: bool = False
    ) -> list[tuple[str, JsonObject]]:
        raw = obj.get(name)
        if raw is None or raw == []:
            if required:
                self.problem(ProblemCode.MISSING_FIELD, f"{path}.{name}", f"at least one {name} is required")
            return []
        if not isinstance(raw, list):
            self.problem(ProblemCode.INVALID_VALUE, f"{path}.{name}", f"{name} must be a JSON array")
            return []
        out: list[tuple[str, JsonObject]] = []
        for i, item in enumerate(raw):
            if isinstance(item, dict):
                out.append((f"{path}.{name}[{i}]", item))
            else:
                self.problem(
                    ProblemCode.INVALID_VALUE, f"{path}.{name}[{i}]", f"{name} items must be objects"
                )
        return out

    # ---- primitives ------------------------------------------------------------------------

    def string(self, obj: JsonObject, name: str, path: str, *, required: bool = False) -> str:
        raw = obj.get(name)
        if isinstance(raw, str) and raw.strip():
            return raw
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.problem(ProblemCode.MISSING_FIELD, f"{path}.{name}", f"{name} is required")
            return ""
        self.problem(ProblemCode.INVALID_VALUE, f"{path}.{name}", f"{name} must be a string")
        return ""

    def code(
        self, obj: JsonObject, name: str, path: str, allowed: frozenset[str], *, required: bool = False
    ) -> str:
        value = self.string(obj, name, path, required=required)
        if value and value not in allowed:
            # The value is not echoed: what is not a code may be anything, patient data included.
            self.problem(
                ProblemCode.INVALID_VALUE,
                f"{path}.{name}",
                f"{name} is not one of {', '.join(sorted(allowed))}",
            )
            return ""
        return value

    def integer(self, obj: JsonObject, name: str, path: str) -> int | None:
        raw = obj.get(name)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or abs(raw) > 2**31:
            self.problem(ProblemCode.INVALID_VALUE, f"{path}.{name}", f"{name} must be an integer")
            return None
        return raw

    def boolean(self, obj: JsonObject, name: str, path: str) -> bool | None:
        raw = obj.get(name)
        if raw is None or isinstance(raw, bool):
            return raw
        self.problem(ProblemCode.INVALID_VALUE, f"{path}.{name}", f"{name} must be true or false")
        return None

    def decimal(self, obj: JsonObject, name: str, path: str) -> Decimal | None:
        raw = obj.get(name)
        if raw is None:
            return None
        return self._number(raw, f"{path}.{name}", name, ProblemCode.INVALID_VALUE)

    def _number(self, raw: object, path: str, name: str, code: ProblemCode) -> Decimal | None:
        if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
            self.problem(code, path, f"{name} must be a JSON number")
            return None
        value = Decimal(raw) if isinstance(raw, int) else raw
        if not value.is_finite() or abs(value) >= _LIMIT:
            self.problem(code, path, f"{name} is out of range")
            return None
        return value

    def day(self, obj: JsonObject, name: str, path: str, *, required: bool = False) -> date | None:
        """A FHIR date, dateTime or instant, as the local date written in it."""
        text = self.string(obj, name, path, required=required)
        if not text:
            return None
        return self.parse_date(text, f"{path}.{name}", name)

    def parse_date(self, text: str, path: str, name: str) -> date | None:
        head = _DATE.fullmatch(text[:10])
        if head is None or (len(text) > 10 and _TIME.fullmatch(text[10:]) is None):
            self.problem(ProblemCode.INVALID_DATE, path, f"{name} is not a FHIR date or dateTime")
            return None
        if head.group(3) is None:
            self.problem(
                ProblemCode.INVALID_DATE,
                path,
                f"{name} is a partial date with no day; it is not used as a business date",
                severity=Severity.WARNING,
            )
            return None
        try:
            return date(int(head.group(1)), int(head.group(2)), int(head.group(3)))
        except ValueError:
            self.problem(ProblemCode.INVALID_DATE, path, f"{name} is not a calendar date")
            return None

    def period(self, obj: JsonObject, name: str, path: str) -> tuple[date | None, date | None]:
        raw = self.child(obj, name, path)
        if raw is None:
            return None, None
        where = f"{path}.{name}"
        return self.day(raw, "start", where), self.day(raw, "end", where)

    def resource_id(self, obj: JsonObject, path: str) -> str:
        value = self.string(obj, "id", path)
        if value and _ID.fullmatch(value) is None:
            self.problem(ProblemCode.INVALID_VALUE, f"{path}.id", "id is not a FHIR id ([A-Za-z0-9-.]{1,64})")
            return ""
        return value

    # ---- data types ------------------------------------------------------------------------

    def money(self, obj: JsonObject, name: str, path: str, *, required: bool = False) -> Amount | None:
        raw = self.child(obj, name, path, required=required)
        if raw is None:
            return None
        where = f"{path}.{name}"
        if raw.get("value") is None:
            self.problem(ProblemCode.MISSING_AMOUNT, f"{where}.value", f"{name} has no value")
            return None
        value = self._number(raw["value"], f"{where}.value", name, ProblemCode.INVALID_AMOUNT)
        currency = raw.get("currency", self.currency)
        if not isinstance(currency, str) or currency not in CURRENCY_EXPONENT:
            self.problem(
                ProblemCode.UNSUPPORTED_CURRENCY,
                f"{where}.currency",
                f"currency {currency_shown(currency)} is not supported",
            )
            return None
        if value is None:
            return None
        amount = Amount(value=value, currency=currency, path=where)
        exact = Money(value, currency)
        if not exact.is_exact():
            self.problem(
                ProblemCode.INEXACT_AMOUNT,
                f"{where}.value",
                f"{value} {currency} has more decimals than {currency} allows; "
                f"rounded half-even to {exact.rounded().amount}",
                severity=Severity.WARNING,
                details=(("written", str(value)), ("rounded", str(exact.rounded().amount))),
            )
        return amount

    def quantity(self, obj: JsonObject, name: str, path: str) -> Decimal | None:
        raw = self.child(obj, name, path)
        if raw is None:
            return None
        return self.decimal(raw, "value", f"{path}.{name}")

    def concept(self, obj: JsonObject, name: str, path: str) -> Concept:
        raw = obj.get(name)
        if raw is None:
            return ()
        return self._concept_at(raw, f"{path}.{name}")

    def concepts(self, obj: JsonObject, name: str, path: str) -> tuple[Concept, ...]:
        raw = obj.get(name)
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem(ProblemCode.INVALID_VALUE, f"{path}.{name}", f"{name} must be a JSON array")
            return ()
        return tuple(self._concept_at(item, f"{path}.{name}[{i}]") for i, item in enumerate(raw))

    def _concept_at(self, raw: object, where: str) -> Concept:
        if not isinstance(raw, dict):
            self.problem(ProblemCode.INVALID_VALUE, where, "a CodeableConcept must be an object")
            return ()
        codings: list[Coding] = []
        for cwhere, coding in self.children(raw, "coding", where):
            code = self.string(coding, "code", cwhere)
            if code:
                codings.append(Coding(self.string(coding, "system", cwhere), code))
        return tuple(codings)

    def identifier(self, obj: JsonObject, name: str, path: str) -> tuple[str, str]:
        """(system, value) of a single Identifier; ("", "") when absent."""
        raw = self.child(obj, name, path)
        if raw is None:
            return "", ""
        where = f"{path}.{name}"
        return self.string(raw, "system", where), self.string(raw, "value", where)

    def reference(self, obj: JsonObject, name: str, path: str, *, required: bool = False) -> Ref | None:
        raw = self.child(obj, name, path, required=required)
        if raw is None:
            return None
        return self.reference_at(raw, f"{path}.{name}")

    def reference_at(self, raw: JsonObject, where: str) -> Ref | None:
        reference = self.string(raw, "reference", where)
        system, value = self.identifier(raw, "identifier", where)
        ref = Ref(
            path=where,
            reference=reference,
            type=self.string(raw, "type", where),
            system=system,
            value=value,
            display=self.string(raw, "display", where),
        )
        if not (ref.reference or ref.value or ref.display):
            self.problem(
                ProblemCode.MISSING_FIELD, where, "a Reference needs a reference, identifier or display"
            )
            return None
        return ref

    def references(self, obj: JsonObject, name: str, path: str) -> tuple[Ref, ...]:
        refs: list[Ref] = []
        for where, raw in self.children(obj, name, path):
            ref = self.reference_at(raw, where)
            if ref is not None:
                refs.append(ref)
        return tuple(refs)

    def head(self, resource: JsonObject, resource_type: str, path: str, full_url: str = "") -> Head:
        version = ""
        meta = self.child(resource, "meta", path)
        if meta is not None:
            version = self.string(meta, "versionId", f"{path}.meta")
            if version and _ID.fullmatch(version) is None:
                self.problem(
                    ProblemCode.INVALID_VALUE, f"{path}.meta.versionId", "versionId is not a FHIR id"
                )
                version = ""
        return Head(
            resource_type=resource_type,
            path=path,
            id=self.resource_id(resource, path),
            version_id=version,
            full_url=full_url,
        )
