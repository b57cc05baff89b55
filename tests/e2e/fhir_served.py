"""The FHIR routes served for real: a ``Service`` on a free port with a SYSTEM key, and the helpers
the FHIR API tests (test_fhir_api.py, test_fhir_api_corpus.py) read its answers and the store with.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from runtime import build_runtime
from sqlalchemy import select

from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.service import Service
from revbridge.store import apikeys
from revbridge.store.schema import events

FHIR = "fhir/fhir_models_r4__{}-example.json"
SYNTHEA = "fhir/inferno_refserver__synthea_v2.4_Emmie273_Kovacek682_transaction_bundle_claims_eobs.json"
FHIR_JSON = "application/fhir+json"
MAX_BODY = 1_000_000  # above the Synthea bundle (748 KB), far below the X12 limit the middleware holds


@dataclass
class Served:
    """The running service, its runtime, and an HTTP client that carries the SYSTEM key."""

    rt: Runtime
    service: Service
    http: httpx.Client

    def post(self, path: str, body: bytes | dict[str, Any], **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        merged = {"Content-Type": FHIR_JSON} | {k.replace("_", "-"): v for k, v in headers.items()}
        return self.http.post(path, content=content, headers=merged)

    def message_count(self) -> int:
        return sum(self.rt.status()["messages"].values())


def api_key(rt: Runtime, *roles: Role) -> str:
    _, token = apikeys.create(
        rt.db, name="fhir-test", roles=roles, now=rt.clock.now(), actor="test", anchor=None
    )
    return token


def serve(tmp_path: Path, **settings: Any) -> Iterator[Served]:
    """Start the service on a fresh SQLite store in ``tmp_path``; a fixture yields from this."""
    rt = build_runtime(
        f"sqlite:///{tmp_path / 'fhir.db'}",
        tmp_path,
        posting=True,
        http_port=0,
        max_body_bytes=MAX_BODY,
        **settings,
    )
    # No workers: the tests settle the pipeline themselves, so counts are exact when they look.
    service = Service(rt, http=True, mllp=False, workers=0, directory=False)
    service.start()
    token = api_key(rt, Role.SYSTEM)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{service.http_port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    try:
        yield Served(rt, service, client)
    finally:
        client.close()
        service.stop()
        rt.close()


def issues(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    found: list[dict[str, Any]] = body["issue"]
    return found


def codes(response: httpx.Response) -> set[str]:
    return {i["details"]["coding"][0]["code"] for i in issues(response) if "details" in i}


def event_kinds(rt: Runtime, message_id: str) -> Counter[str]:
    with rt.db.reading() as conn:
        rows = conn.execute(select(events.c.kind).where(events.c.message_id == message_id))
        return Counter(kind for (kind,) in rows)


def claim(claim_id: str | None = "C-1", **extra: Any) -> dict[str, Any]:
    """A Claim modelled on the official example; its item net is spliced in by ``raw``."""
    body: dict[str, Any] = {
        "resourceType": "Claim",
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "oral"}]},
        "use": "claim",
        "patient": {"reference": "Patient/1"},
        "created": "2014-08-16",
        "provider": {"reference": "Organization/1"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/9876B1"}}],
        "item": [
            {
                "sequence": 1,
                "productOrService": {"coding": [{"code": "1200"}]},
                "net": {"value": "NET", "currency": "USD"},
            }
        ],
    } | extra
    if claim_id is not None:
        body["id"] = claim_id
    return body


def raw(body: dict[str, Any], net: str = "135.57") -> bytes:
    # The amount is spliced in as a JSON number with every digit: json.dumps would go through float.
    return json.dumps(body).replace('"NET"', net).encode()
