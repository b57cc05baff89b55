"""The FHIR format object: detect, split and to_events for FHIR R4 JSON (formats/base.py).

``split`` cuts one Envelope per posted document: a whole Bundle is one message, and so is a single
resource. A file of newline-delimited resources (FHIR Bulk Data NDJSON) gives one Envelope per
line. The dedupe key is ``fhir:<resourceType>/<id>`` plus ``/<versionId>`` when the document has
one (``fhir:Bundle/<id>/<versionId>``), else empty so the store deduplicates on the content hash.
A PaymentReconciliation (FHIR's remittance, alone or in a Bundle of payments only) is claimed as
cash, as an 835 is (``priority_of``); everything else in arrival order.
Bytes that are not JSON still become an Envelope, carrying a MALFORMED_MESSAGE problem: nothing
received is dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Outcome, Problem, ProblemCode
from revbridge.formats.base import (
    IN_ORDER,
    Envelope,
    Format,
    ParseContext,
    cash_priority,
)
from revbridge.formats.fhir import mapping

NAME = "fhir"
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_BOM = b"\xef\xbb\xbf"


def dedupe_key(document: object) -> str:
    if not isinstance(document, dict):
        return ""
    kind, rid = document.get("resourceType"), document.get("id")
    if not isinstance(kind, str) or not kind.isalpha() or not isinstance(rid, str) or not _ID.fullmatch(rid):
        return ""
    meta = document.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    if isinstance(version, str) and _ID.fullmatch(version):
        return f"fhir:{kind}/{rid}/{version}"
    return f"fhir:{kind}/{rid}"


_PAYMENTS = frozenset({"PaymentReconciliation", "PaymentNotice"})


def priority_of(document: object, size: int) -> int:
    """A remittance (a PaymentReconciliation, alone or in a Bundle that holds only payments and
    payment notices) is cash with no encounter context, like an 835: SMALL_CASH under
    SMALL_REMITTANCE_BYTES, else FIRST. Anything mixed with encounters or charges keeps its place
    in arrival order, so a charge never overtakes the visit it belongs to."""
    kinds = _resource_types(document)
    if "PaymentReconciliation" not in kinds or not kinds <= _PAYMENTS:
        return IN_ORDER
    return cash_priority(size)


def _resource_types(document: object) -> set[str]:
    if not isinstance(document, dict):
        return set()
    kind = document.get("resourceType")
    if kind != "Bundle":
        return {kind} if isinstance(kind, str) else set()
    entries = document.get("entry")
    if not isinstance(entries, list):
        return set()
    kinds: set[str] = set()
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        inner = resource.get("resourceType") if isinstance(resource, dict) else None
        kinds.add(inner if isinstance(inner, str) else "")  # an unreadable entry is not a payment
    return kinds


def _loads(data: bytes) -> object:
    return json.loads(data, parse_float=Decimal)


class FhirFormat:
    priority = IN_ORDER

    @property
    def name(self) -> str:
        return NAME

    def detect(self, head: bytes) -> bool:
        text = head.removeprefix(_BOM).lstrip()
        return text.startswith(b"{") and b'"resourceType"' in text[:8192]

    def split(self, data: bytes) -> Iterator[Envelope]:
        body = data.removeprefix(_BOM)
        try:
            document = _loads(body)
        except (ValueError, RecursionError):
            lines = [line for line in body.splitlines() if line.strip()]
            if len(lines) > 1 and all(line.lstrip().startswith(b"{") for line in lines):
                yield from self._ndjson(lines)
                return
            yield Envelope(
                format=NAME,
                payload=data,
                problems=(Problem(code=ProblemCode.MALFORMED_MESSAGE, message="not valid JSON"),),
            )
            return
        yield Envelope(
            format=NAME,
            payload=data,
            dedupe_key=dedupe_key(document),
            priority=priority_of(document, len(data)),
        )

    def _ndjson(self, lines: list[bytes]) -> Iterator[Envelope]:
        for n, line in enumerate(lines, start=1):
            locator = f"line[{n}]"
            try:
                document = _loads(line)
            except (ValueError, RecursionError):
                yield Envelope(
                    format=NAME,
                    payload=line,
                    locator=locator,
                    problems=(
                        Problem(
                            code=ProblemCode.MALFORMED_MESSAGE,
                            message="not valid JSON",
                            where=SourceRef("", locator),
                        ),
                    ),
                )
                continue
            yield Envelope(
                format=NAME,
                payload=line,
                dedupe_key=dedupe_key(document),
                locator=locator,
                priority=priority_of(document, len(line)),
            )

    def to_events(self, payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
        return mapping.to_events(payload, ctx)


FHIR: Format = FhirFormat()  # typed so mypy holds the class to the Format contract
