"""What the Business Central connector sends and how it reads BC's answers: pure functions.

Business Central has no idempotency key, so the journal id (32 hex digits, ledger/journal.py)
must travel in fields BC keeps and can filter on. BC stores both as ``Code`` fields, which it
upper-cases (so do we, before sending, so filters match):
- ``externalDocumentNumber`` (Code[35] in the v2.0 journalLines API; older v1.0/beta pages say 20):
  ``RB`` + the id, 34 characters: the whole id (ids longer than 33 digits would be cut to 33,
  132 bits). It finds unposted journal lines of a cut-off attempt.
- ``documentNumber`` (Code[20]): ``RB`` + the first 18 hex digits (72 bits). BC checks balance per
  document number and the v2.0 ``generalLedgerEntries`` API exposes only the document number, so it
  finds posted entries. The ids are SHA-256 digests: among a billion journals the chance that any
  two share 72 bits is about 1 in 10,000 (birthday bound n^2 / 2^73), per company; a clash would
  show as a lookup finding entries whose lines differ from the journal's, which reconciliation
  (``read_back``) reports.

Amounts go out as JSON numbers with the exact decimal text (``odata_json``), never as floats.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from revbridge.core.ids import digest

DOCUMENT_DIGITS = 18  # documentNumber: Code[20]
EXTERNAL_DIGITS = 33  # externalDocumentNumber: Code[35]
PREFIX = "RB"

DIMENSIONS = ("cost_center", "payer_class", "facility", "service_line")
DEFAULT_DIMENSION_CODES: Mapping[str, str] = {
    "cost_center": "DEPARTMENT",
    "payer_class": "PAYERCLASS",
    "facility": "FACILITY",
    "service_line": "SERVICELINE",
}

_LINE_NO = re.compile(r"Line No\.='?(\d+)'?")
_DOCUMENT_NO = re.compile(r"Document No\.(?:='| )([A-Z0-9]+)")
_OUR_DOCUMENT = re.compile(rf"{PREFIX}[0-9A-F]{{{DOCUMENT_DIGITS}}}")


def document_number(reference: str) -> str:
    return (PREFIX + reference[:DOCUMENT_DIGITS]).upper()


def is_our_document(number: str) -> bool:
    """Whether a document number has the shape revbridge gives its own (``RB`` + 18 hex digits):
    BC filters on the prefix only, and a hand-made ``RB-0001`` is not ours."""
    return _OUR_DOCUMENT.fullmatch(number) is not None


def external_number(reference: str) -> str:
    return (PREFIX + reference[:EXTERNAL_DIGITS]).upper()


def batch_code(prefix: str, references: Sequence[str]) -> str:
    """A journal batch name (Code[10]) for one call: the same journals give the same name, so a
    retried call finds its own leftover batch and nothing else's."""
    return (prefix + digest(*sorted(references), length=10 - len(prefix))).upper()


def odata_json(value: Any) -> str:
    """JSON with Decimals written as exact numbers (the json module would need floats)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{odata_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(odata_json(v) for v in value) + "]"
    return json.dumps(value)


def error_of(body: Any) -> tuple[str, str]:
    """BC's OData error ``{"error": {"code", "message"}}`` as (code, message), one line, bounded.
    BC appends a CorrelationId to messages; it is kept, it helps Microsoft support."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    message = " ".join(str(error.get("message", "")).split())[:500]
    return str(error.get("code", "")), message


def named_line(message: str) -> int | None:
    """The BC line number a posting error names (``Line No.='20000'``), if any."""
    found = _LINE_NO.search(message)
    return int(found.group(1)) if found else None


def named_document(message: str) -> str | None:
    """The document number a posting error names (``Document No. RB12... is out of balance``)."""
    found = _DOCUMENT_NO.search(message)
    return found.group(1) if found else None


def or_filter(field: str, values: Sequence[str]) -> str:
    """An OData ``$filter`` matching any of the values (quotes doubled per OData ABNF)."""
    quoted = (value.replace("'", "''") for value in values)
    return " or ".join(f"{field} eq '{value}'" for value in quoted)
