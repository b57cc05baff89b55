"""A posted FHIR document: one resource, or a Bundle whose entries carry resources.

This is the first step of both intake (``intake.check``) and parsing (``mapping.parse``): bytes to
JSON with Decimal money (``parse_float=Decimal``, ints stay ints, NaN and Infinity refused), then
the Bundle's entries with their FHIRPath locations. A Bundle of any type is read for the
resources it carries; ``transaction`` and ``batch`` entries must be POST or PUT, because a DELETE
or a PATCH cannot be turned into a canonical event (a withdrawn resource is sent with status
``entered-in-error`` instead).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from revbridge.core.problem import ProblemCode, Severity
from revbridge.formats.base import Limits
from revbridge.formats.fhir.reader import JsonObject, Reader

# The financial and context resources revbridge reads (FHIR 4.0.1). Others inside a Bundle are
# skipped without a problem: a Synthea bundle is mostly Observations that concern no ledger.
SUPPORTED = frozenset(
    {
        "Patient",
        "Encounter",
        "Account",
        "Coverage",
        "ChargeItem",
        "Claim",
        "ClaimResponse",
        "ExplanationOfBenefit",
        "PaymentReconciliation",
        "PaymentNotice",
        "Invoice",
    }
)
BUNDLE_TYPES = frozenset(
    {
        "document",
        "message",
        "transaction",
        "transaction-response",
        "batch",
        "batch-response",
        "history",
        "searchset",
        "collection",
    }
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"})
_WRITES = frozenset({"POST", "PUT"})
_RESPONSES = frozenset({"transaction-response", "batch-response"})
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    path: str  # "Bundle.entry[3].resource", or the resource type for a bare resource
    resource_type: str
    resource: JsonObject
    index: int | None = None  # position in Bundle.entry
    full_url: str = ""
    method: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    resource_type: str
    id: str = ""
    version_id: str = ""
    bundle_type: str = ""  # "" for a bare resource
    entry_count: int = 0  # Bundle.entry as sent, readable or not
    entries: tuple[Entry, ...] = ()

    @property
    def is_bundle(self) -> bool:
        return self.resource_type == "Bundle"


def _refuse_constant(name: str) -> Decimal:
    raise ValueError(f"{name} is not a JSON number")


def load(payload: bytes, reader: Reader, limits: Limits) -> tuple[bool, Any]:
    """(True, JSON value) or (False, None) with a problem recorded."""
    if len(payload) > limits.max_message_bytes:
        reader.problem(
            ProblemCode.LIMIT_EXCEEDED,
            "",
            f"body of {len(payload)} bytes exceeds the limit of {limits.max_message_bytes}",
        )
        return False, None
    if payload.startswith(_BOM):
        payload = payload[len(_BOM) :]
    try:
        return True, json.loads(payload, parse_float=Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        # The decoder's own message names the syntax error and its position, never the content.
        reader.problem(
            ProblemCode.MALFORMED_MESSAGE,
            "",
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        )
    except UnicodeDecodeError:
        reader.problem(ProblemCode.MALFORMED_MESSAGE, "", "not valid JSON: the body is not UTF-8 text")
    except RecursionError:
        reader.problem(ProblemCode.MALFORMED_MESSAGE, "", "not valid JSON: nested too deeply")
    except ValueError as exc:  # NaN/Infinity, integers longer than Python accepts
        reader.problem(ProblemCode.MALFORMED_MESSAGE, "", f"not valid JSON: {str(exc)[:80]}")
    return False, None


def read_document(payload: bytes, reader: Reader, limits: Limits) -> Document | None:
    ok, data = load(payload, reader, limits)
    if not ok:
        return None
    return read_json(data, reader)


def read_json(data: object, reader: Reader) -> Document | None:
    if not isinstance(data, dict):
        reader.problem(ProblemCode.MALFORMED_MESSAGE, "", "a FHIR document must be a JSON object")
        return None
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        reader.problem(ProblemCode.MISSING_FIELD, "resourceType", "resourceType is required")
        return None
    if resource_type != "Bundle":
        return Document(
            resource_type=resource_type,
            id=_text(data.get("id")),
            version_id=_version(data),
            entry_count=1,
            entries=(Entry(path=resource_type, resource_type=resource_type, resource=data),),
        )
    bundle_type = reader.code(data, "type", "Bundle", BUNDLE_TYPES, required=True)
    entries: list[Entry] = []
    raw_entries = data.get("entry", [])
    if not isinstance(raw_entries, list):
        reader.problem(ProblemCode.INVALID_VALUE, "Bundle.entry", "entry must be a JSON array")
        raw_entries = []
    for index, raw in enumerate(raw_entries):
        entry = _entry(raw, index, bundle_type, reader)
        if entry is not None:
            entries.append(entry)
    return Document(
        resource_type="Bundle",
        id=_text(data.get("id")),
        version_id=_version(data),
        bundle_type=bundle_type,
        entry_count=len(raw_entries),
        entries=tuple(entries),
    )


def _entry(raw: object, index: int, bundle_type: str, reader: Reader) -> Entry | None:
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict):
        reader.problem(ProblemCode.INVALID_VALUE, where, "a Bundle entry must be an object")
        return None
    full_url = reader.string(raw, "fullUrl", where)
    method = url = ""
    request = reader.child(raw, "request", where, required=bundle_type in ("transaction", "batch"))
    if request is not None:
        method = reader.code(request, "method", f"{where}.request", _METHODS, required=True)
        url = reader.string(request, "url", f"{where}.request", required=True)
        if method and bundle_type in ("transaction", "batch") and method not in _WRITES:
            reader.problem(
                ProblemCode.UNSUPPORTED_TRANSACTION,
                f"{where}.request.method",
                f"{method} entries are not supported; "
                "send the resource (status entered-in-error to withdraw it)",
            )
            return None
    resource = raw.get("resource")
    if resource is None:
        if bundle_type not in _RESPONSES and method not in ("DELETE", "GET", "HEAD"):
            reader.problem(ProblemCode.MISSING_FIELD, f"{where}.resource", "entry has no resource")
        return None
    path = f"{where}.resource"
    if not isinstance(resource, dict):
        reader.problem(ProblemCode.INVALID_VALUE, path, "resource must be a JSON object")
        return None
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        reader.problem(ProblemCode.MISSING_FIELD, f"{path}.resourceType", "resourceType is required")
        return None
    if resource_type == "Bundle":
        reader.problem(
            ProblemCode.UNSUPPORTED_MESSAGE,
            path,
            "a Bundle inside a Bundle is not read; post it on its own",
            severity=Severity.WARNING,
        )
        return None
    return Entry(
        path=path,
        resource_type=resource_type,
        resource=resource,
        index=index,
        full_url=full_url,
        method=method,
        url=url,
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _version(data: JsonObject) -> str:
    meta = data.get("meta")
    return _text(meta.get("versionId")) if isinstance(meta, dict) else ""
