"""Fuzz of the FHIR and portal readers: arbitrary JSON values, arbitrary bytes and mutated corpus
resources never raise out of a parser, and whatever they do produce is well formed: exact money,
keys, located problems."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revbridge.canonical.codec import dumps, loads
from revbridge.canonical.events import CanonicalEvent
from revbridge.core.money import Money
from revbridge.core.problem import Outcome
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.fhir import FHIR, HANDLERS, check
from revbridge.formats.portal import PORTAL
from revbridge.formats.portal import check as portal_check

pytestmark = pytest.mark.slow  # several seconds per property

CTX = ParseContext(message_id="fuzz", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 1))

FHIR_WORDS = [
    "resourceType",
    "Bundle",
    "Claim",
    "ClaimResponse",
    "ExplanationOfBenefit",
    "ChargeItem",
    "PaymentReconciliation",
    "Patient",
    "Coverage",
    "entry",
    "resource",
    "fullUrl",
    "urn:uuid:1",
    "value",
    "currency",
    "USD",
    "status",
    "active",
    "billable",
    "total",
    "item",
    "payment",
    "amount",
    "reference",
    "id",
]
PORTAL_WORDS = ["type", "payment", "refund", "payment_plan", "id", "facility", "amount", "items", "patient"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.text(max_size=12),
    st.sampled_from(FHIR_WORDS + PORTAL_WORDS),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(FHIR_WORDS + PORTAL_WORDS), st.text(max_size=6)), inner, max_size=5
        ),
    ),
    max_leaves=25,
)


def encode(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else "0"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


def well_formed(outcome: Outcome[CanonicalEvent]) -> None:
    for event in outcome.items:
        assert event.key
        assert event.source.message_id == "fuzz"
        for name in ("amount", "total", "charge", "paid", "patient_responsibility"):
            value = getattr(event, name, None)
            if isinstance(value, Money):
                assert value.is_exact(), (name, value)
        assert loads(dumps(event)) == event
    for problem in outcome.problems:
        assert problem.message
    assert len({e.key for e in outcome.items}) == len(outcome.items)


def run_all(payload: bytes) -> None:
    well_formed(FHIR.to_events(payload, CTX))
    well_formed(PORTAL.to_events(payload, CTX))
    check(payload, None)
    check(payload, "Bundle")
    portal_check(payload)
    assert list(FHIR.split(payload))
    assert list(PORTAL.split(payload))
    FHIR.detect(payload[:64])
    PORTAL.detect(payload[:64])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_values(value: Any) -> None:
    run_all(encode(value).encode())


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(HANDLERS)), st.dictionaries(st.sampled_from(FHIR_WORDS), json_values, max_size=6)
)
def test_arbitrary_resources_of_every_supported_type(resource_type: str, body: dict[str, Any]) -> None:
    body["resourceType"] = resource_type
    run_all(encode(body).encode())
    run_all(encode({"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": body}]}).encode())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data: bytes) -> None:
    run_all(data)


# ---- mutated corpus resources -----------------------------------------------------------------


def _load(path: Path) -> Any:
    return json.loads(path.read_bytes(), parse_float=Decimal)


@pytest.fixture(scope="module")
def seeds(corpus: Path) -> list[Any]:
    folder = corpus / "fhir"
    out = [_load(p) for p in sorted(folder.glob("fhir_models_r4__*.json"))]
    synthea = _load(next(folder.glob("inferno_*.json")))
    # A small Bundle keeps each example fast: the Patient, a Claim, its EOB and an Encounter.
    picked = [e for e in synthea["entry"] if e["resource"]["resourceType"] == "Patient"]
    for kind in ("Claim", "ExplanationOfBenefit", "Encounter", "Organization"):
        picked += [e for e in synthea["entry"] if e["resource"]["resourceType"] == kind][2:4]
    out.append({**synthea, "entry": picked})
    assert len(out) == 10
    return out


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            out += _paths(inner, (*prefix, n))
    return out


def _mutate(document: Any, path: tuple[Any, ...], action: str, replacement: Any) -> Any:
    if not path:
        return replacement
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    else:
        parent[last] = replacement
    return document


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_corpus_resources(seeds: list[Any], data: st.DataObject) -> None:
    document = copy.deepcopy(data.draw(st.sampled_from(seeds)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(document)
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["replace", "delete", "duplicate"]))
        document = _mutate(document, path, action, data.draw(json_values))
    run_all(encode(document).encode())


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_portal_items(data: st.DataObject) -> None:
    item: dict[str, Any] = {
        "type": "payment",
        "id": "P1",
        "facility": "F1",
        "patient": {"id": "M1"},
        "amount": "10.00",
        "received_at": "2024-01-01T10:00:00Z",
    }
    for key in data.draw(
        st.lists(st.sampled_from([*item, "method", "currency", "date", "total", "recipient"]))
    ):
        if data.draw(st.booleans()):
            item[key] = data.draw(json_values)
        else:
            item.pop(key, None)
    run_all(
        encode(data.draw(st.sampled_from([item, [item, item], {"batch_id": "b", "items": [item]}]))).encode()
    )
