"""The API baseline: health, metrics, API keys with roles, and a permission on every route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from lineformat import FORMATS
from runtime import build_runtime
from starlette.routing import Route

from revbridge.bootstrap import Runtime
from revbridge.http.permissions import permission_of
from revbridge.security.roles import Role
from revbridge.service.app import create_app
from revbridge.store import apikeys, audit, workitems
from revbridge.store.messages import Arrival


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, formats=FORMATS)
    yield runtime
    runtime.close()


def _key(rt: Runtime, *roles: Role) -> str:
    _, token = apikeys.create(
        rt.db,
        name="test",
        roles=roles,
        now=rt.clock.now(),
        actor="test",
        anchor=rt.settings.resolved_audit_anchor,
    )
    return token


def test_every_route_declares_a_permission(rt: Runtime) -> None:
    app = create_app(rt)
    routes = app.state.all_routes()
    assert len(routes) > 8
    missing = [
        r.path for r in routes if isinstance(r, APIRoute | Route) and permission_of(r.endpoint) is None
    ]
    assert missing == []


def test_health_and_readiness_need_no_credentials(rt: Runtime) -> None:
    client = TestClient(create_app(rt))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_metrics_count_accepted_messages(rt: Runtime) -> None:
    rt.intake.receive(b"CHARGE m1 1.00", channel="test:unit", format="lines")
    text = TestClient(create_app(rt)).get("/metrics").text
    assert 'revbridge_messages_accepted_total{channel="test",format="lines"} 1.0' in text


def test_status_requires_a_key_with_read(rt: Runtime) -> None:
    client = TestClient(create_app(rt))
    assert client.get("/api/v1/status").status_code == 401
    assert client.get("/api/v1/status", headers={"Authorization": "Bearer rb_nope_nope"}).status_code == 401
    system = _key(rt, Role.SYSTEM)
    assert client.get("/api/v1/status", headers={"X-API-Key": system}).status_code == 403
    viewer = _key(rt, Role.VIEWER)
    body = client.get("/api/v1/status", headers={"Authorization": f"Bearer {viewer}"}).json()
    assert set(body) >= {"messages", "journals", "work_items"}
    assert {"processed", "excepted", "ignored", "duplicate", "pending"} <= set(body["messages"])


def test_a_revoked_key_is_refused(rt: Runtime) -> None:
    client = TestClient(create_app(rt))
    token = _key(rt, Role.VIEWER)
    key_id = token.split("_")[1]
    assert apikeys.revoke(rt.db, key_id, now=rt.clock.now())
    assert client.get("/api/v1/status", headers={"X-API-Key": token}).status_code == 401


def test_keys_are_stored_hashed_and_their_creation_audited(rt: Runtime) -> None:
    token = _key(rt, Role.OPERATOR)
    secret = token.split("_", 2)[2]
    listed = apikeys.list_keys(rt.db)
    assert secret not in repr(listed)
    count, findings = audit.check(rt.db, anchor=rt.settings.resolved_audit_anchor)
    assert count == 1 and findings == []


def test_unauthenticated_malformed_body_gets_401_not_422(rt: Runtime) -> None:
    client = TestClient(create_app(rt))
    response = client.post(
        "/api/v1/exceptions/1/resolve", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401


def test_resolving_a_work_item_through_the_api_is_audited(rt: Runtime) -> None:
    rt.store.accept(Arrival(channel="t", format="lines", payload=b"BAD MISSING_AMOUNT"))
    rt.worker().drain()
    (item,) = workitems.list_items(rt.db)
    client = TestClient(create_app(rt))
    viewer = _key(rt, Role.VIEWER)
    operator = _key(rt, Role.OPERATOR)
    url = f"/api/v1/exceptions/{item.id}/resolve"
    assert client.post(url, json={"reason": "x"}, headers={"X-API-Key": viewer}).status_code == 403
    assert client.post(url, json={"reason": ""}, headers={"X-API-Key": operator}).status_code == 422
    done = client.post(url, json={"reason": "amount fixed upstream"}, headers={"X-API-Key": operator}).json()
    assert done["status"] == "resolved" and done["resolution"] == "amount fixed upstream"
    assert client.post(url, json={"reason": "again"}, headers={"X-API-Key": operator}).status_code == 409
    count, findings = audit.check(rt.db, anchor=rt.settings.resolved_audit_anchor)
    assert findings == [] and count == 3  # two key creations and the resolution
