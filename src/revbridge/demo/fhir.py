"""FHIR R4 documents of the facility whose claims and payer go by FHIR (facilities.yaml maps
``Organization/1`` to St. Joseph, payers.yaml ``Organization/2`` to Aetna).

Its Aetna claims are posted one ``Claim`` at a time as they drop; Aetna's payments come as a
``collection`` Bundle per payment: the ``PaymentReconciliation`` (paymentAmount, one ``payment``
detail per claim) and a ``ClaimResponse`` per claim whose items carry submitted, eligible,
deductible, copay, coinsurance and benefit adjudications, the FHIR spelling of CO-45, PR-1, PR-3
and PR-2. Money is written as JSON numbers with two decimals, never through float, by the small
writer below (json.dumps cannot emit a Decimal as a number).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from revbridge.demo.billing import Adjudication, Claim, Remittance

JsonValue = str | int | bool | Decimal | Sequence["JsonValue"] | Mapping[str, "JsonValue"]
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CPT = "http://www.ama-assn.org/go/cpt"
REVENUE = "https://www.nubc.org/CodeSystem/RevenueCodes"
_SHARES = (("1", "deductible"), ("3", "copay"), ("2", "coinsurance"))


def dumps(value: JsonValue) -> str:
    match value:
        case bool():
            return "true" if value else "false"
        case Decimal():
            return f"{value:.2f}"
        case int():
            return str(value)
        case str():
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        case Mapping():
            return "{" + ",".join(f"{dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
        case _:
            return "[" + ",".join(dumps(v) for v in value) + "]"


def _money(value: Decimal) -> dict[str, JsonValue]:
    return {"value": value, "currency": "USD"}


def _concept(system: str, code: str) -> dict[str, JsonValue]:
    return {"coding": [{"system": system, "code": code}]}


def _claim_type(claim: Claim) -> dict[str, JsonValue]:
    return _concept(CLAIM_TYPE, "institutional" if claim.institutional else "professional")


def _product(procedure_code: str, revenue_code: str) -> dict[str, JsonValue]:
    return _concept(CPT, procedure_code) if procedure_code else _concept(REVENUE, revenue_code)


def claim(claim: Claim) -> bytes:
    visit = claim.visit
    payer, facility = claim.payer, visit.facility
    items: list[JsonValue] = [
        {
            "sequence": n,
            "revenue": _concept(REVENUE, c.procedure.revenue_code),
            "productOrService": _product(c.procedure.code, c.procedure.revenue_code),
            "servicedDate": c.service_on.isoformat(),
            "quantity": {"value": c.units},
            "unitPrice": _money(c.amount / c.units),
            "net": _money(c.amount),
        }
        for n, c in enumerate(claim.lines, start=1)
    ]
    resource: dict[str, JsonValue] = {
        "resourceType": "Claim",
        "id": claim.claim_id,
        "status": "active",
        "type": _claim_type(claim),
        "use": "claim",
        "patient": {"reference": f"Patient/{visit.patient.fhir_id}"},
        "billablePeriod": {
            "start": visit.timeline.registered_at.date().isoformat(),
            "end": visit.timeline.discharged_at.date().isoformat(),
        },
        "created": claim.billed_at.date().isoformat(),
        "insurer": {"reference": payer.fhir},
        "provider": {"reference": facility.fhir},
        "priority": _concept("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": {"reference": f"Coverage/{visit.patient.member_id.lower()}"},
            }
        ],
        "item": items,
        "total": _money(claim.total),
    }
    return dumps(resource).encode("utf-8")


def _adjudications(
    line_amount: Decimal, allowed: Decimal, shares: dict[str, Decimal], paid: Decimal
) -> list[JsonValue]:
    found: list[JsonValue] = [
        {"category": _concept(ADJUDICATION, "submitted"), "amount": _money(line_amount)},
        {"category": _concept(ADJUDICATION, "eligible"), "amount": _money(allowed)},
    ]
    for reason, category in _SHARES:
        if shares.get(reason):
            found.append({"category": _concept(ADJUDICATION, category), "amount": _money(shares[reason])})
    found.append({"category": _concept(ADJUDICATION, "benefit"), "amount": _money(paid)})
    return found


def _claim_response(adjudication: Adjudication, remittance: Remittance, at: datetime) -> dict[str, JsonValue]:
    claim = adjudication.claim
    visit = claim.visit
    items: list[JsonValue] = []
    for n, line in enumerate(adjudication.lines, start=1):
        contractual = sum((a.amount for a in line.adjustments if a.group == "CO"), Decimal(0))
        shares = {a.reason: a.amount for a in line.adjustments if a.group == "PR"}
        items.append(
            {
                "itemSequence": n,
                "adjudication": _adjudications(line.amount, line.amount - contractual, shares, line.paid),
            }
        )
    return {
        "resourceType": "ClaimResponse",
        "id": f"{adjudication.payer_claim_id.lower()}",
        "status": "active",
        "type": _claim_type(claim),
        "use": "claim",
        "patient": {"reference": f"Patient/{visit.patient.fhir_id}"},
        "created": at.date().isoformat(),
        "insurer": {"reference": remittance.payer.fhir},
        "requestor": {"reference": remittance.facility.fhir},
        "request": {"reference": f"Claim/{claim.claim_id}"},
        "outcome": "complete",
        "item": items,
        "total": [
            {"category": _concept(ADJUDICATION, "submitted"), "amount": _money(adjudication.charge)},
            {"category": _concept(ADJUDICATION, "benefit"), "amount": _money(adjudication.paid)},
        ],
        "payment": {
            "type": _concept("http://terminology.hl7.org/CodeSystem/ex-paymenttype", "complete"),
            "date": remittance.paid_on.isoformat(),
            "amount": _money(adjudication.paid),
            "identifier": {"value": remittance.trace},
        },
    }


def remittance(remittance: Remittance, at: datetime) -> bytes:
    payer, facility = remittance.payer, remittance.facility
    details: list[JsonValue] = [
        {
            "type": _concept("http://terminology.hl7.org/CodeSystem/payment-type", "payment"),
            "request": {"reference": f"Claim/{a.claim.claim_id}"},
            "date": remittance.paid_on.isoformat(),
            "amount": _money(a.paid),
        }
        for a in remittance.claims
    ]
    reconciliation: dict[str, JsonValue] = {
        "resourceType": "PaymentReconciliation",
        "id": remittance.trace.lower(),
        "status": "active",
        "created": at.date().isoformat(),
        "paymentIssuer": {"reference": payer.fhir},
        "requestor": {"reference": facility.fhir},
        "outcome": "complete",
        "paymentDate": remittance.paid_on.isoformat(),
        "paymentAmount": _money(remittance.amount),
        "paymentIdentifier": {"value": remittance.trace},
        "detail": details,
    }
    entries: list[JsonValue] = [
        {"fullUrl": f"urn:uuid:{_uuid(remittance.trace, 0)}", "resource": reconciliation}
    ]
    for n, adjudication in enumerate(remittance.claims, start=1):
        entries.append(
            {
                "fullUrl": f"urn:uuid:{_uuid(remittance.trace, n)}",
                "resource": _claim_response(adjudication, remittance, at),
            }
        )
    bundle: dict[str, JsonValue] = {
        "resourceType": "Bundle",
        "id": f"era-{remittance.trace.lower()}",
        "type": "collection",
        "timestamp": at.isoformat(),
        "entry": entries,
    }
    return dumps(bundle).encode("utf-8")


def _uuid(trace: str, n: int) -> str:
    """A stable UUID for a Bundle entry's fullUrl (a pure generator has no uuid4)."""
    return str(uuid.UUID(bytes=hashlib.sha256(f"{trace}/{n}".encode()).digest()[:16], version=4))
