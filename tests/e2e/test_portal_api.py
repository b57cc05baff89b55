"""``POST /api/v1/ingest/portal/payments`` against a real server, through to journal lines.

A platform's payments, refunds and plans (docs/portal-payments.md) are answered 202 per item after
the commit, post as the reference rulebook says (patient payment: Dr cash_clearing, Cr ar_patient;
refund: the reverse; a plan posts nothing), and a bad body is refused whole with located problems.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from runtime import build_runtime
from sqlalchemy import select

from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.service import Service
from revbridge.store import apikeys, workitems
from revbridge.store.schema import event_lines, events, messages

URL = "/api/v1/ingest/portal/payments"
MAX_BODY = 64 * 1024
SENTINEL_MRN = "MRN-SENTINEL-90210"
SENTINEL_NAME = "Sentinella Qwertyson"


@dataclass
class Served:
    rt: Runtime
    http: httpx.Client

    def post(self, body: object, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        merged = {"Content-Type": "application/json"} | {k.replace("_", "-"): v for k, v in headers.items()}
        return self.http.post(URL, content=content, headers=merged)

    def messages(self) -> dict[str, int]:
        return self.rt.status()["messages"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    rt = build_runtime(
        f"sqlite:///{tmp_path / 'portal.db'}", tmp_path, posting=True, http_port=0, max_body_bytes=MAX_BODY
    )
    service = Service(rt, http=True, mllp=False, workers=0, directory=False)
    service.start()
    _, token = apikeys.create(
        rt.db, name="portal", roles=(Role.SYSTEM,), now=rt.clock.now(), actor="t", anchor=None
    )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{service.http_port}", headers={"X-API-Key": token}, timeout=60
    )
    try:
        yield Served(rt, client)
    finally:
        client.close()
        service.stop()
        rt.close()


def payment(item_id: str = "PAY-1", amount: object = "125.40", **extra: Any) -> dict[str, Any]:
    return {
        "type": "payment",
        "id": item_id,
        "facility": "STJ",
        "encounter": "V-889",
        "patient": {"id": SENTINEL_MRN, "name": SENTINEL_NAME},
        "amount": amount,
        "method": "card",
        "received_at": "2024-05-01T23:10:00-04:00",
    } | extra


def refund(item_id: str = "REF-1", amount: object = 20) -> dict[str, Any]:
    return {
        "type": "refund",
        "id": item_id,
        "facility": "STJ",
        "amount": amount,
        "original_payment_id": "PAY-1",
        "date": "2024-05-03",
    }


def plan(item_id: str = "PLAN-1") -> dict[str, Any]:
    return {
        "type": "payment_plan",
        "id": item_id,
        "facility": "STJ",
        "patient": {"id": SENTINEL_MRN},
        "total": "600.00",
        "installments": 6,
    }


def role_nets(rt: Runtime, message_id: str) -> dict[str, Decimal]:
    """Net per account role (debit positive) of the journal lines of one message's events."""
    with rt.db.reading() as conn:
        keys = [k for (k,) in conn.execute(select(events.c.key).where(events.c.message_id == message_id))]
        rows = conn.execute(select(event_lines).where(event_lines.c.event_key.in_(keys))).all()
    nets: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        amount = Decimal(row.amount_minor) / 100
        nets[row.role] += amount if row.side == "debit" else -amount
    return dict(nets)


def event_kinds(rt: Runtime, message_id: str) -> Counter[str]:
    with rt.db.reading() as conn:
        return Counter(
            k for (k,) in conn.execute(select(events.c.kind).where(events.c.message_id == message_id))
        )


def message_status(rt: Runtime, message_id: str) -> str:
    with rt.db.reading() as conn:
        return str(conn.execute(select(messages.c.status).where(messages.c.id == message_id)).scalar_one())


def test_a_payment_is_accepted_per_item_and_posts_cash_against_patient_ar(served: Served) -> None:
    response = served.post(payment())
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["format"] == "portal"
    assert body["items"] == [
        {"path": "$", "type": "payment", "id": "PAY-1", "status": "accepted", "problems": []}
    ]
    message_id = body["message_id"]
    assert response.headers["x-revbridge-message-id"] == message_id

    served.rt.settle(close_windows=True)
    assert message_status(served.rt, message_id) == "processed"
    assert event_kinds(served.rt, message_id) == Counter({"PatientPaymentReceived": 1})
    assert role_nets(served.rt, message_id) == {
        "cash_clearing": Decimal("125.40"),
        "ar_patient": Decimal("-125.40"),
    }


def test_a_refund_posts_the_reverse_of_a_payment(served: Served) -> None:
    response = served.post(refund(amount=20))
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    served.rt.settle(close_windows=True)
    assert event_kinds(served.rt, message_id) == Counter({"RefundIssued": 1})
    assert role_nets(served.rt, message_id) == {
        "ar_patient": Decimal("20.00"),
        "cash_clearing": Decimal("-20.00"),
    }


def test_a_payment_plan_is_context_and_posts_nothing(served: Served) -> None:
    response = served.post(plan())
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    served.rt.settle(close_windows=True)
    assert message_status(served.rt, message_id) == "processed"
    assert event_kinds(served.rt, message_id) == Counter({"PaymentPlanUpdated": 1})
    assert role_nets(served.rt, message_id) == {}


def test_a_batch_is_one_message_with_a_result_per_item_and_replays_as_a_duplicate(served: Served) -> None:
    batch = {
        "batch_id": "B-2024-05-01-0001",
        "items": [payment(amount="0.125"), refund(), plan()],
    }
    first = served.post(batch)
    assert first.status_code == 202, first.text
    items = first.json()["items"]
    assert [(i["path"], i["type"], i["id"], i["status"]) for i in items] == [
        ("$.items[0]", "payment", "PAY-1", "accepted"),
        ("$.items[1]", "refund", "REF-1", "accepted"),
        ("$.items[2]", "payment_plan", "PLAN-1", "accepted"),
    ]
    # A warning rides with its item: the amount was rounded, and the answer says so.
    assert [(p["code"], p["locator"]) for p in items[0]["problems"]] == [
        ("INEXACT_AMOUNT", "$.items[0].amount")
    ]

    again = served.post(batch)
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["x-revbridge-status"] == "duplicate"
    assert served.messages()["duplicate"] == 1
    changed = served.post(batch | {"items": [payment(amount="1.00")]})
    assert changed.status_code == 409
    assert changed.json()["problems"][0]["code"] == "DUPLICATE_CONFLICT"

    served.rt.settle(close_windows=True)
    message_id = first.json()["message_id"]
    assert event_kinds(served.rt, message_id) == Counter(
        {"PatientPaymentReceived": 1, "RefundIssued": 1, "PaymentPlanUpdated": 1}
    )
    assert role_nets(served.rt, message_id) == {
        "cash_clearing": Decimal("-19.88"),
        "ar_patient": Decimal("19.88"),
    }


def test_an_idempotency_key_names_a_body_that_has_no_id_of_its_own(served: Served) -> None:
    body = [payment("PAY-7"), payment("PAY-8")]
    first = served.post(body, Idempotency_Key="portal-run-1")
    again = served.post(body, Idempotency_Key="portal-run-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.content == first.content
    other = served.post([payment("PAY-9")], Idempotency_Key="portal-run-1")
    assert other.status_code == 409
    assert other.json()["problems"][0]["locator"] == "Idempotency-Key"
    assert served.messages()["pending"] == 1
    assert served.messages()["duplicate"] == 1


def test_a_bad_body_is_refused_whole_with_located_problems(served: Served) -> None:
    not_json = served.post(b'{"type": "payment",')
    assert not_json.status_code == 400
    assert [(p["code"], p["locator"]) for p in not_json.json()["problems"]] == [("MALFORMED_MESSAGE", "$")]

    one_bad = served.post(
        {"items": [payment("PAY-2"), payment("PAY-3", amount="-5"), {"type": "gift", "id": "G"}]}
    )
    assert one_bad.status_code == 422
    located = {(p["code"], p["locator"]) for p in one_bad.json()["problems"]}
    assert ("INVALID_AMOUNT", "$.items[1].amount") in located
    assert ("UNSUPPORTED_TRANSACTION", "$.items[2].type") in located
    assert [i["status"] for i in one_bad.json()["items"]] == ["valid", "invalid", "invalid"]

    shapeless = served.post("just a string")
    assert shapeless.status_code == 400
    oversized = served.post({"items": [payment(f"PAY-{n}") for n in range(1000)]})
    assert oversized.status_code == 413
    assert oversized.json()["problems"][0]["code"] == "LIMIT_EXCEEDED"
    wrong_media = served.post(payment(), Content_Type="text/csv")
    assert wrong_media.status_code == 415

    assert sum(served.messages().values()) == 0  # nothing refused was stored


def test_no_patient_data_in_answers_events_or_work_items(served: Served) -> None:
    accepted = served.post(
        {"items": [payment("PAY-P"), plan("PLAN-P"), payment("PAY-U", facility="NOWHERE")]}
    )
    assert accepted.status_code == 202
    refused = served.post(payment("PAY-Q", amount="x", patient={"id": SENTINEL_MRN, "name": SENTINEL_NAME}))
    assert refused.status_code == 422
    served.rt.settle(close_windows=True)
    with served.rt.db.reading() as conn:
        bodies = [b for (b,) in conn.execute(select(events.c.body))]
    items = workitems.list_items(served.rt.db, status=None)
    assert any(w.code == "UNMAPPED_FACILITY" for w in items)  # the unmapped item is a work item
    seen = " ".join([accepted.text, refused.text, *bodies, json.dumps([w.as_json() for w in items])])
    assert len(bodies) == 3
    assert SENTINEL_MRN not in seen
    assert SENTINEL_NAME not in seen
