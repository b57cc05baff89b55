"""The staging format object: a JSON document of rows read from one staging table.

The poller has already applied the configured column mapping, so a document names canonical
fields, not the hospital's columns::

    {"revbridge_staging": 1, "source": "pas", "table": "billing_stage",
     "rows": [{"key": "42", "kind": "charge", "fields": {"id": "C-42", "amount": "125.00", ...}}]}

Every value is a string or null. A row is located as ``<table>[<key>]`` and a field inside it as
``<table>[<key>].<field>``: a problem names the table, the key and the field, never a value.
The dedupe key is ``staging:<table>/<key>`` (``<first>..<last>`` for a group of rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Outcome, Problem, ProblemCode, Severity
from revbridge.formats.base import (
    IN_ORDER,
    Envelope,
    Format,
    ParseContext,
    cash_priority,
    first_of_each_key,
)
from revbridge.formats.portal.format import load
from revbridge.formats.staging import rows as staged_rows

NAME = "staging"
MARKER = "revbridge_staging"
_HEAD = b'"' + MARKER.encode() + b'"'


def dedupe_key(table: str, keys: Sequence[str]) -> str:
    if not keys:
        return ""
    span = keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]}"
    return f"staging:{table}/{span}"[:512]


def document(source: str, table: str, rows: Sequence[dict[str, Any]]) -> bytes:
    """The stored bytes for rows already mapped to ``{"key", "kind", "fields"}``."""
    body = {MARKER: 1, "source": source, "table": table, "rows": list(rows)}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def to_events(payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
    loaded, problems = load(payload, ctx.message_id, ctx.limits)
    if problems:
        return Outcome(problems=tuple(problems))
    doc: Any = loaded
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list) or not doc["rows"]:
        where = SourceRef(ctx.message_id, "$")
        return Outcome(
            problems=(Problem(code=ProblemCode.MALFORMED_MESSAGE, message="no staged rows", where=where),)
        )
    table = str(doc.get("table", ""))
    events = first_of_each_key(
        _rows(doc["rows"], table, ctx, problems),
        ctx.message_id,
        problems,
        "another row of this group has the same facility, kind and id",
    )
    return Outcome(tuple(events), tuple(problems))


def _rows(
    rows: list[Any], table: str, ctx: ParseContext, problems: list[Problem]
) -> Iterator[tuple[str, list[CanonicalEvent]]]:
    """Each row located as ``<table>[<key>]`` with its events (read when the caller reads them)."""
    for n, row in enumerate(rows):
        key = str(row.get("key", n)) if isinstance(row, dict) else str(n)
        path = f"{table}[{key}]"
        yield path, staged_rows.to_events(row, path, ctx, problems)


def priority_of(rows: Sequence[Any], size: int) -> int:
    """A group of payment rows only is cash (a cashier's or lockbox payment: an encounter it names
    and has not seen yet is waited for, as a portal payment's is): SMALL_CASH under
    SMALL_REMITTANCE_BYTES, else FIRST. A group holding a charge or an adjustment keeps its place in
    arrival order, so an adjustment never overtakes the charge it adjusts."""
    kinds = {row.get("kind") if isinstance(row, dict) else None for row in rows}
    if kinds != {"payment"}:
        return IN_ORDER
    return cash_priority(size)


class StagingFormat:
    priority = IN_ORDER

    @property
    def name(self) -> str:
        return NAME

    def detect(self, head: bytes) -> bool:
        text = head.lstrip()
        return text[:1] == b"{" and _HEAD in text[:8192]

    def split(self, data: bytes) -> Iterator[Envelope]:
        key = ""
        priority = IN_ORDER
        problems: tuple[Problem, ...] = ()
        try:
            doc = json.loads(data)
            rows = doc["rows"]
            key = dedupe_key(str(doc["table"]), [str(r["key"]) for r in rows])
            priority = priority_of(rows, len(data))
        except (ValueError, TypeError, KeyError, RecursionError):
            problems = (
                Problem(
                    code=ProblemCode.MALFORMED_MESSAGE,
                    message="not a staged-rows document",
                    severity=Severity.ERROR,
                ),
            )
        yield Envelope(format=NAME, payload=data, dedupe_key=key, problems=problems, priority=priority)

    def to_events(self, payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
        return to_events(payload, ctx)


STAGING: Format = StagingFormat()
