"""The portal format object: detect, split and to_events for portal payment JSON.

One posted body is one message, whatever it holds (an item, an array, a batch): the platform sent
it as one unit and gets one acknowledgement. Its dedupe key is ``portal:batch/<batch_id>`` for a
batch with an id, ``portal:<facility>/<type>/<id>`` for a single item, else empty (content hash).
``check`` answers the HTTP route before the body is stored: valid JSON within the size limit, the
right shape, and every item readable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Outcome, Problem, ProblemCode, Severity
from revbridge.formats.base import SMALL_CASH, Envelope, Format, Limits, ParseContext, first_of_each_key
from revbridge.formats.portal import payments

NAME = "portal"
_BOM = b"\xef\xbb\xbf"
_KEY_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_HEAD = re.compile(rb'"type"\s*:\s*"(?:payment|refund|payment_plan)"')
MAX_ITEMS = 10_000


def _refuse_constant(name: str) -> Decimal:
    raise ValueError(f"{name} is not a JSON number")


def load(payload: bytes, message_id: str, limits: Limits) -> tuple[object, list[Problem]]:
    def problem(code: ProblemCode, message: str) -> list[Problem]:
        return [Problem(code=code, message=message, where=SourceRef(message_id, "$"))]

    if len(payload) > limits.max_message_bytes:
        return None, problem(
            ProblemCode.LIMIT_EXCEEDED, f"body of {len(payload)} bytes exceeds {limits.max_message_bytes}"
        )
    try:
        return json.loads(
            payload.removeprefix(_BOM), parse_float=Decimal, parse_constant=_refuse_constant
        ), []
    except json.JSONDecodeError as exc:
        return None, problem(ProblemCode.MALFORMED_MESSAGE, f"not valid JSON: {exc.msg} at line {exc.lineno}")
    except (ValueError, RecursionError):
        return None, problem(ProblemCode.MALFORMED_MESSAGE, "not valid JSON")


def items_of(document: object, message_id: str) -> tuple[list[tuple[str, object]], list[Problem]]:
    """(path, item) pairs from an item, an array of items or a batch object."""

    def problem(where: str, message: str) -> list[Problem]:
        return [
            Problem(code=ProblemCode.MALFORMED_MESSAGE, message=message, where=SourceRef(message_id, where))
        ]

    if isinstance(document, list):
        items, base = document, "$"
    elif isinstance(document, dict) and "items" in document and "type" not in document:
        items, base = document["items"], "$.items"
        if not isinstance(items, list):
            return [], problem("$.items", "items must be a JSON array")
    elif isinstance(document, dict):
        return [("$", document)], []
    else:
        return [], problem("$", "expected a payment item, an array of items or a batch object")
    if not items:
        return [], problem(base, "the batch holds no items")
    if len(items) > MAX_ITEMS:
        return [], [
            Problem(
                code=ProblemCode.LIMIT_EXCEEDED,
                message=f"{len(items)} items exceed the limit of {MAX_ITEMS} per body",
                where=SourceRef(message_id, base),
            )
        ]
    return [(f"{base}[{n}]", item) for n, item in enumerate(items)], []


def to_events(payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
    document, problems = load(payload, ctx.message_id, ctx.limits)
    if problems:
        return Outcome(problems=tuple(problems))
    items, problems = items_of(document, ctx.message_id)
    events = first_of_each_key(
        ((path, payments.to_events(item, path, ctx, problems)) for path, item in items),
        ctx.message_id,
        problems,
        "another item of this body has the same facility, type and id",
    )
    return Outcome(tuple(events), tuple(problems))


def _no_token(kind: str, value: str) -> PatientToken:
    return PatientToken("pt_check")  # tokens made while checking are thrown away


def check(
    payload: bytes, *, limits: Limits | None = None, default_currency: str = "USD"
) -> tuple[Problem, ...]:
    """Every problem the body has; it is acceptable when none has severity ERROR."""
    ctx = ParseContext(
        message_id="",
        tokenizer=_no_token,
        received_on=date(2000, 1, 1),  # a placeholder: checking posts nothing
        default_currency=default_currency,
        limits=limits or Limits(),
    )
    return to_events(payload, ctx).problems


def dedupe_key(document: object) -> str:
    if not isinstance(document, dict):
        return ""
    if "items" in document and "type" not in document:
        batch = document.get("batch_id")
        return f"portal:batch/{batch}" if isinstance(batch, str) and _KEY_PART.fullmatch(batch) else ""
    parts = (document.get("facility"), document.get("type"), document.get("id"))
    if all(isinstance(p, str) and _KEY_PART.fullmatch(p) for p in parts):
        return "portal:{}/{}/{}".format(*parts)
    return ""


class PortalFormat:
    priority = SMALL_CASH  # patient payments and refunds: cash, no encounter context, milliseconds

    @property
    def name(self) -> str:
        return NAME

    def detect(self, head: bytes) -> bool:
        text = head.removeprefix(_BOM).lstrip()
        window = text[:8192]
        return (
            text[:1] in (b"{", b"[") and b'"resourceType"' not in window and _HEAD.search(window) is not None
        )

    def split(self, data: bytes) -> Iterator[Envelope]:
        document: Any = None
        problems: tuple[Problem, ...] = ()
        try:
            document = json.loads(data.removeprefix(_BOM), parse_float=Decimal)
        except (ValueError, RecursionError):
            problems = (
                Problem(
                    code=ProblemCode.MALFORMED_MESSAGE, message="not valid JSON", severity=Severity.ERROR
                ),
            )
        yield Envelope(
            format=NAME,
            payload=data,
            dedupe_key=dedupe_key(document),
            problems=problems,
            priority=self.priority,
        )

    def to_events(self, payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
        return to_events(payload, ctx)


PORTAL: Format = PortalFormat()  # typed so mypy holds the class to the Format contract
