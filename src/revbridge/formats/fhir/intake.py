"""Is a POSTed FHIR body acceptable? A quick, pure answer for the HTTP routes.

``check`` runs before anything is stored: valid JSON (Decimal money, within the size limit), a
resourceType we read that matches the route (``POST /fhir/Claim`` takes a Claim; ``POST /fhir``
takes a ``transaction`` or ``batch`` Bundle), and every supported entry readable by its resource
reader (types, required elements, codes, dates, Money). Business checks that need the whole
mapping (totals against their parts) are not made here: they become work items after the body is
stored, so nothing received is lost. Entries of types we do not read are accepted and reported
as unsupported so the route can answer them with an informational outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from revbridge.core.ids import PatientToken
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.formats.base import Limits
from revbridge.formats.fhir.bundle import Entry, read_document
from revbridge.formats.fhir.mapping import HANDLERS
from revbridge.formats.fhir.reader import Reader

_ENTRY = re.compile(r"Bundle\.entry\[(\d+)\]")


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryCheck:
    index: int
    resource_type: str = ""  # "" when the entry has no readable resource
    id: str = ""
    supported: bool = False
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)


@dataclass(frozen=True, slots=True, kw_only=True)
class Admission:
    resource_type: str = ""
    id: str = ""
    version_id: str = ""
    bundle_type: str = ""
    problems: tuple[Problem, ...] = ()  # every problem, entries' included
    entries: tuple[EntryCheck, ...] = ()  # one per Bundle.entry as sent

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)


def _no_token(kind: str, value: str) -> PatientToken:
    return PatientToken("pt_check")  # tokens made while checking are thrown away


def check(
    payload: bytes,
    expected_type: str | None,
    *,
    limits: Limits | None = None,
    default_currency: str = "USD",
) -> Admission:
    reader = Reader(message_id="", default_currency=default_currency, tokenizer=_no_token)
    document = read_document(payload, reader, limits or Limits())
    if document is None:
        return Admission(problems=tuple(reader.problems))
    kind = document.resource_type
    if expected_type is not None and kind != expected_type:
        reader.problem(
            ProblemCode.ENVELOPE_MISMATCH,
            "resourceType",
            f"this route takes {expected_type}; the body is another resource type",
        )
    if document.is_bundle:
        if expected_type == "Bundle" and document.bundle_type not in ("transaction", "batch"):
            reader.problem(
                ProblemCode.ENVELOPE_MISMATCH,
                "Bundle.type",
                "only transaction and batch Bundles can be posted",
            )
    elif kind not in HANDLERS:
        reader.problem(
            ProblemCode.UNSUPPORTED_MESSAGE,
            "resourceType",
            f"resourceType is not one of {', '.join(sorted(HANDLERS))}",
        )
        return Admission(resource_type=kind, problems=tuple(reader.problems))
    for entry in document.entries:
        if entry.url and entry.index is not None:
            target = entry.url.split("?", 1)[0].split("/", 1)[0]
            if target != entry.resource_type:
                reader.problem(
                    ProblemCode.ENVELOPE_MISMATCH,
                    f"Bundle.entry[{entry.index}].request.url",
                    "request.url names another resource type than the entry's resource",
                )
        handler = HANDLERS.get(entry.resource_type)
        if handler is not None:
            handler.read(entry, reader)
    problems = tuple(reader.problems)
    return Admission(
        resource_type=kind,
        id=document.id,
        version_id=document.version_id,
        bundle_type=document.bundle_type,
        problems=problems,
        entries=_entries(document.entry_count, document.entries, problems) if document.is_bundle else (),
    )


def _entries(count: int, entries: tuple[Entry, ...], problems: tuple[Problem, ...]) -> tuple[EntryCheck, ...]:
    by_index: dict[int, list[Problem]] = {}
    for problem in problems:
        match = _ENTRY.match(problem.locator)
        if match is not None:
            by_index.setdefault(int(match.group(1)), []).append(problem)
    readable = {e.index: e for e in entries}
    out = []
    for index in range(count):
        entry = readable.get(index)
        rtype = entry.resource_type if entry is not None else ""
        rid = entry.resource.get("id") if entry is not None else None
        out.append(
            EntryCheck(
                index=index,
                resource_type=rtype,
                id=rid if isinstance(rid, str) else "",
                supported=rtype in HANDLERS,
                problems=tuple(by_index.get(index, ())),
            )
        )
    return tuple(out)
