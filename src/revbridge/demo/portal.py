"""Patient-portal JSON (docs/portal-payments.md): one item per posted body, as a portal posts a
payment the moment a patient makes it.

Only the patient's MRN goes in ``patient`` (it is tokenised on arrival); the synthetic names the
other channels carry are deliberately left out, as the schema asks. Amounts are decimal strings.
"""

from __future__ import annotations

from revbridge.demo.fhir import JsonValue, dumps
from revbridge.demo.patient import PatientMoney

TIMESTAMP = {"payment": "received_at", "refund": "issued_at", "payment_plan": "updated_at"}


def item(money: PatientMoney) -> bytes:
    visit = money.visit
    body: dict[str, JsonValue] = {
        "type": money.kind,
        "id": money.id,
        "facility": visit.facility.portal,
        "encounter": visit.number,
        "patient": {"id": visit.patient.mrn, "kind": "mrn"},
    }
    match money.kind:
        case "payment":
            body |= {"amount": f"{money.amount:.2f}", "currency": "USD", "method": money.method}
        case "refund":
            body |= {"amount": f"{money.amount:.2f}", "currency": "USD", "recipient": "patient"}
            body |= {"original_payment_id": money.original_payment_id}
        case _:
            body |= {"total": f"{money.amount:.2f}", "installments": money.installments, "status": "active"}
    body[TIMESTAMP[money.kind]] = money.at.isoformat(timespec="seconds")
    return dumps(body).encode("utf-8")
