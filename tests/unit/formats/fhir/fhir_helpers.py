"""Helpers for the FHIR unit tests: a parse context, JSON text with exact decimals, resources.

Imported by module name: pytest puts this folder on sys.path (the test folders are not packages).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome, Problem
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.fhir import to_events

RECEIVED = date(2024, 3, 1)


def ctx(message_id: str = "msg-1") -> ParseContext:
    return ParseContext(message_id=message_id, tokenizer=fixed_tokenizer(), received_on=RECEIVED)


def encode(value: Any) -> str:
    """JSON text in which a Decimal is written as the number it is (json.dumps would refuse it)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


def run(document: dict[str, Any]) -> Outcome[CanonicalEvent]:
    return to_events(encode(document).encode(), ctx())


def bundle(*resources: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    entries = []
    for resource in resources:
        entry: dict[str, Any] = {"resource": resource}
        if "fullUrl" in resource:
            entry["fullUrl"] = resource.pop("fullUrl")
        if kind in ("transaction", "batch"):
            entry["request"] = {"method": "POST", "url": resource["resourceType"]}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def by_code(problems: tuple[Problem, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in problems:
        out.setdefault(str(p.code), []).append(p.locator)
    return out


def money(value: str, currency: str = "USD") -> dict[str, Any]:
    return {"value": Decimal(value), "currency": currency}


def claim(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Claim",
        "id": "c1",
        "status": "active",
        "type": {"coding": [{"code": "professional"}]},
        "use": "claim",
        "patient": {"reference": "Patient/p1"},
        "created": "2024-02-10",
        "provider": {"reference": "Organization/hosp"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurer": {"reference": "Organization/payer"},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/cov1"}}],
        "item": [
            {
                "sequence": 1,
                "productOrService": {"coding": [{"code": "99213"}]},
                "modifier": [{"coding": [{"code": "25"}]}],
                "servicedDate": "2024-02-09",
                "unitPrice": money("60.00"),
                "quantity": {"value": 2},
                "net": money("120.00"),
            },
            {"sequence": 2, "productOrService": {"coding": [{"code": "36415"}]}, "net": money("15.50")},
        ],
        "total": money("135.50"),
    }
    resource.update(changes)
    return resource


def claim_response(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": "cr1",
        "status": "active",
        "type": {"coding": [{"code": "professional"}]},
        "use": "claim",
        "patient": {"reference": "Patient/p1"},
        "created": "2024-02-20",
        "insurer": {"reference": "Organization/payer"},
        "requestor": {"reference": "Organization/hosp"},
        "request": {"reference": "Claim/c1"},
        "outcome": "complete",
        "item": [
            {
                "itemSequence": 1,
                "adjudication": [
                    {"category": {"coding": [{"code": "submitted"}]}, "amount": money("120.00")},
                    {"category": {"coding": [{"code": "eligible"}]}, "amount": money("100.00")},
                    {"category": {"coding": [{"code": "copay"}]}, "amount": money("20.00")},
                    {"category": {"coding": [{"code": "benefit"}]}, "amount": money("80.00")},
                ],
            }
        ],
        "total": [
            {"category": {"coding": [{"code": "submitted"}]}, "amount": money("120.00")},
            {"category": {"coding": [{"code": "benefit"}]}, "amount": money("80.00")},
        ],
        "payment": {
            "type": {"coding": [{"code": "complete"}]},
            "date": "2024-02-25",
            "amount": money("80.00"),
            "identifier": {"value": "EFT-77"},
        },
    }
    resource.update(changes)
    return resource
