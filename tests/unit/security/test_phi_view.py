"""The raw message view: only phi_reader and admin see payloads, each view is audited before the
bytes leave, and the metadata view carries lineage but never the payload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lineformat import FORMATS
from runtime import build_runtime
from sqlalchemy import select, update

from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.service.app import create_app
from revbridge.store import apikeys, audit
from revbridge.store.messages import Arrival
from revbridge.store.schema import audit_log, messages

SENTINEL = "NAME ZZSENTINEL^PATIENT^Q"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'phi.db'}", tmp_path, formats=FORMATS)
    yield runtime
    runtime.close()


def key(rt: Runtime, *roles: Role) -> dict[str, str]:
    _, token = apikeys.create(rt.db, name="t", roles=roles, now=rt.clock.now(), actor="test", anchor=None)
    return {"X-API-Key": token}


def stored(rt: Runtime, payload: bytes) -> str:
    accepted = rt.store.accept(Arrival(channel="test", format="lines", payload=payload))
    return accepted.message_id


def audit_rows(rt: Runtime) -> list[dict[str, Any]]:
    with rt.db.reading() as conn:
        return [dict(r._mapping) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq))]


def test_phi_reader_gets_the_raw_bytes_and_the_view_is_audited(rt: Runtime) -> None:
    payload = f"CHARGE c1 12.50\n{SENTINEL}".encode()
    message_id = stored(rt, payload)
    headers = key(rt, Role.PHI_READER)
    before = len(audit_rows(rt))
    client = TestClient(create_app(rt))
    response = client.get(f"/api/v1/messages/{message_id}/raw?reason=denial%20review", headers=headers)
    assert response.status_code == 200
    assert response.content == payload
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/octet-stream"
    rows = audit_rows(rt)
    assert len(rows) == before + 1
    entry = rows[-1]
    assert entry["action"] == "phi.view"
    assert entry["actor"] == "apikey:" + headers["X-API-Key"].split("_")[1]
    assert entry["target"] == f"message/{message_id}"
    details = json.loads(entry["details"])
    assert details == {
        "method": "api_key",
        "format": "lines",
        "bytes": str(len(payload)),
        "reason": "denial review",
    }
    assert SENTINEL not in json.dumps(rows, default=str)
    count, findings = audit.check(rt.db, anchor=rt.settings.resolved_audit_anchor)
    assert findings == [] and count == len(rows)


def test_admin_may_view_raw_too(rt: Runtime) -> None:
    message_id = stored(rt, b"CHARGE c2 1.00")
    response = TestClient(create_app(rt)).get(
        f"/api/v1/messages/{message_id}/raw", headers=key(rt, Role.ADMIN)
    )
    assert response.status_code == 200 and response.content == b"CHARGE c2 1.00"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.STEWARD, Role.APPROVER, Role.SYSTEM])
def test_other_roles_get_403_and_leave_no_audit_entry(rt: Runtime, role: Role) -> None:
    message_id = stored(rt, SENTINEL.encode())
    headers = key(rt, role)
    before = audit_rows(rt)
    response = TestClient(create_app(rt)).get(f"/api/v1/messages/{message_id}/raw", headers=headers)
    assert response.status_code == 403
    assert SENTINEL not in response.text
    assert audit_rows(rt) == before


def test_without_credentials_401(rt: Runtime) -> None:
    message_id = stored(rt, SENTINEL.encode())
    assert TestClient(create_app(rt)).get(f"/api/v1/messages/{message_id}/raw").status_code == 401


def test_metadata_view_has_lineage_and_no_payload(rt: Runtime) -> None:
    message_id = stored(rt, f"CHARGE c3 20.00\nCHARGE c4 5.00\nBAD UNMAPPED_DEPARTMENT\n{SENTINEL}".encode())
    rt.worker().drain()
    response = TestClient(create_app(rt)).get(f"/api/v1/messages/{message_id}", headers=key(rt, Role.VIEWER))
    assert response.status_code == 200
    body = response.json()
    assert SENTINEL not in response.text and "ZZSENTINEL" not in response.text
    assert "payload" not in body and "ack" not in body
    assert body["id"] == message_id
    assert body["format"] == "lines" and body["status"] == "excepted"
    assert body["payload_available"] is True and body["purged_at"] is None
    assert body["key_id"] == rt.keyring.active
    assert [e["key"] for e in body["events"]] == ["c3", "c4"]
    assert {e["kind"] for e in body["events"]} == {"ChargeCaptured"}
    assert [w["code"] for w in body["work_items"]] == ["UNMAPPED_DEPARTMENT"]
    assert body["work_items"][0]["message_id"] == message_id


def test_unknown_messages_are_404_and_not_audited(rt: Runtime) -> None:
    client = TestClient(create_app(rt))
    headers = key(rt, Role.ADMIN)
    before = audit_rows(rt)
    assert (
        client.get("/api/v1/messages/0190aaaa-0000-7000-8000-000000000000", headers=headers).status_code
        == 404
    )
    raw = client.get("/api/v1/messages/0190aaaa-0000-7000-8000-000000000000/raw", headers=headers)
    assert raw.status_code == 404
    assert client.get("/api/v1/messages/bad%20id!/raw", headers=headers).status_code == 422
    assert audit_rows(rt) == before


def test_a_purged_payload_is_gone_and_not_audited(rt: Runtime) -> None:
    message_id = stored(rt, SENTINEL.encode())
    with rt.db.transaction() as conn:
        conn.execute(
            update(messages).where(messages.c.id == message_id).values(payload=None, purged_at=rt.clock.now())
        )
    headers = key(rt, Role.PHI_READER)
    before = audit_rows(rt)
    client = TestClient(create_app(rt))
    response = client.get(f"/api/v1/messages/{message_id}/raw", headers=headers)
    assert response.status_code == 410 and "purged" in response.json()["detail"]
    assert audit_rows(rt) == before
    meta = client.get(f"/api/v1/messages/{message_id}", headers=headers).json()
    assert meta["payload_available"] is False and meta["purged_at"] is not None


def test_a_tampered_payload_is_refused_clearly_and_the_failure_audited(rt: Runtime) -> None:
    message_id = stored(rt, SENTINEL.encode())
    with rt.db.transaction() as conn:
        blob = bytearray(
            conn.execute(select(messages.c.payload).where(messages.c.id == message_id)).scalar_one()
        )
        blob[20] ^= 0x01
        conn.execute(update(messages).where(messages.c.id == message_id).values(payload=bytes(blob)))
    client = TestClient(create_app(rt), raise_server_exceptions=False)
    response = client.get(f"/api/v1/messages/{message_id}/raw", headers=key(rt, Role.PHI_READER))
    assert response.status_code == 500
    assert "failed authentication" in response.json()["detail"] and "tampered" in response.json()["detail"]
    assert "ZZSENTINEL" not in response.text
    actions = [r["action"] for r in audit_rows(rt)]
    assert actions[-1] == "integrity.failure" and "phi.view" not in actions


def test_no_bytes_leave_when_the_view_cannot_be_audited(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    message_id = stored(rt, SENTINEL.encode())
    headers = key(rt, Role.PHI_READER)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(audit, "append", broken)
    client = TestClient(create_app(rt), raise_server_exceptions=False)
    response = client.get(f"/api/v1/messages/{message_id}/raw", headers=headers)
    assert response.status_code == 500
    assert "ZZSENTINEL" not in response.text
