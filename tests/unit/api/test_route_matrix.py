"""Every registered route x every role (and no credentials): allowed, or refused with 401/403.

The expected grants are written out here independently of ``security/roles.py``, so a change to
the one table has to be made twice on purpose. The matrix runs once with API keys and once with
OIDC bearer tokens. Routes are discovered, not listed: a new route without a permission fails
the first test, and one that is public without being on the short public list fails the second.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from lineformat import FORMATS
from runtime import build_runtime
from starlette.routing import Route

from revbridge.bootstrap import Runtime
from revbridge.http.permissions import permission_of
from revbridge.security.roles import GRANTS, Permission, Role, permissions
from revbridge.service.app import create_app
from revbridge.store import apikeys

P = Permission
EXPECTED_GRANTS: dict[Role, set[Permission]] = {
    Role.VIEWER: {P.READ},
    Role.OPERATOR: {P.READ, P.OPERATE},
    Role.STEWARD: {P.READ, P.OPERATE, P.CONFIG_PROPOSE},
    Role.APPROVER: {P.READ, P.CONFIG_APPROVE},
    Role.PHI_READER: {P.READ, P.PHI_READ},
    Role.ADMIN: {P.READ, P.OPERATE, P.CONFIG_PROPOSE, P.CONFIG_APPROVE, P.PHI_READ, P.ADMIN},
    Role.SYSTEM: {P.INGEST},
}
# Routes anyone may call. A new public route must be added here on purpose.
PUBLIC_PATHS = re.compile(r"^(/healthz|/readyz|/metrics|/openapi\.json|/docs|/login|/logout|/static(/.*)?)$")
# Routes whose permission is pinned here, so the matrix cannot pass by a route declaring less.
PINNED = {
    "GET /api/v1/messages/{message_id}/raw": P.PHI_READ,
    "GET /api/v1/messages/{message_id}": P.READ,
    "POST /api/v1/ingest/hl7v2": P.INGEST,
    "POST /api/v1/ingest/x12": P.INGEST,
    "GET /api/v1/status": P.READ,
    "POST /api/v1/exceptions/{item_id}/resolve": P.OPERATE,
    "POST /api/v1/exceptions/{item_id}/ignore": P.OPERATE,
    "POST /api/v1/exceptions/{item_id}/assign": P.OPERATE,
}
ISSUER, AUDIENCE = "https://idp.example.test", "revbridge-api"


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def rt(tmp_path: Path, idp_key: rsa.RSAPrivateKey) -> Iterator[Runtime]:
    jwks = tmp_path / "jwks.json"
    public = json.loads(RSAAlgorithm.to_jwk(idp_key.public_key()))
    jwks.write_text(json.dumps({"keys": [{**public, "kid": "m1", "alg": "RS256", "use": "sig"}]}))
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'matrix.db'}",
        tmp_path,
        formats=FORMATS,
        jwks_file=jwks,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        ingest_rate_per_key=100_000,
    )
    yield runtime
    runtime.close()


def routes(rt: Runtime) -> list[tuple[str, str, Permission | None]]:
    """(method, path, permission) for every registered route."""
    found = []
    for route in create_app(rt).state.all_routes():
        assert isinstance(route, APIRoute | Route)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            found.append((method, route.path, permission_of(route.endpoint)))
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)  # a valid int and a valid message id alike


def credential(rt: Runtime, kind: str, role: Role, key: rsa.RSAPrivateKey) -> dict[str, str]:
    if kind == "api_key":
        _, token = apikeys.create(
            rt.db, name=f"matrix-{role}", roles=(role,), now=rt.clock.now(), actor="test", anchor=None
        )
        return {"X-API-Key": token}
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": f"matrix-{role}",
        "exp": now + 600,
        "roles": [role.value],
    }
    return {"Authorization": "Bearer " + jwt.encode(claims, pem, algorithm="RS256", headers={"kid": "m1"})}


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    return client.request(
        method,
        concrete(path),
        content=body,
        headers={**headers, "content-type": "application/json"},
        follow_redirects=False,
    )


def test_the_grant_table_is_the_documented_one() -> None:
    assert set(GRANTS) == set(Role)
    for role, expected in EXPECTED_GRANTS.items():
        assert permissions([role]) == expected | {P.PUBLIC}, role
    assert GRANTS[Role.SYSTEM] == {P.INGEST}  # source systems can only ingest


def test_every_route_declares_a_permission(rt: Runtime) -> None:
    listed = routes(rt)
    assert len(listed) >= 14
    assert [f"{m} {p}" for m, p, perm in listed if perm is None] == []


def test_only_the_known_routes_are_public(rt: Runtime) -> None:
    public = [f"{m} {p}" for m, p, perm in routes(rt) if perm is P.PUBLIC]
    assert "GET /healthz" in public
    assert [r for r in public if not PUBLIC_PATHS.match(r.split(" ", 1)[1])] == []


def test_sensitive_routes_declare_the_permission_they_need(rt: Runtime) -> None:
    declared = {f"{m} {p}": perm for m, p, perm in routes(rt)}
    assert {k: declared.get(k) for k in PINNED} == PINNED
    for route, perm in declared.items():
        method, path = route.split(" ", 1)
        if path.endswith("/raw"):  # raw payloads are PHI wherever they are served
            assert perm is P.PHI_READ, route
        if "/ingest/" in path:
            assert perm is P.INGEST, route
        if method in ("POST", "PUT", "PATCH", "DELETE") and not PUBLIC_PATHS.match(path):
            assert perm not in (P.READ, P.PUBLIC), route  # a change is never a mere read


@pytest.mark.parametrize("kind", ["api_key", "jwt"])
def test_route_role_matrix(rt: Runtime, idp_key: rsa.RSAPrivateKey, kind: str) -> None:
    client = TestClient(create_app(rt), raise_server_exceptions=False)
    headers = {role: credential(rt, kind, role, idp_key) for role in Role}
    wrong: list[str] = []
    checked = 0
    for method, path, needed in routes(rt):
        assert needed is not None
        anonymous = call(client, method, path, {})
        if needed is P.PUBLIC:
            if anonymous.status_code in (401, 403):
                wrong.append(f"{method} {path} anonymous: {anonymous.status_code}, expected public")
        elif not (
            anonymous.status_code == 401
            or (anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login"))
        ):
            wrong.append(f"{method} {path} anonymous: {anonymous.status_code}, expected 401")
        for role in Role:
            status = call(client, method, path, headers[role]).status_code
            checked += 1
            allowed = needed is P.PUBLIC or needed in EXPECTED_GRANTS[role]
            if allowed and status in (401, 403):
                wrong.append(f"{method} {path} as {role}: {status}, expected allowed")
            if not allowed and status != 403:
                wrong.append(f"{method} {path} as {role}: {status}, expected 403")
    assert wrong == []
    assert checked >= 14 * len(Role)


def test_system_may_only_ingest(rt: Runtime, idp_key: rsa.RSAPrivateKey) -> None:
    client = TestClient(create_app(rt), raise_server_exceptions=False)
    system = credential(rt, "api_key", Role.SYSTEM, idp_key)
    ingest = [(m, p) for m, p, perm in routes(rt) if perm is P.INGEST]
    assert ingest, "no ingest routes registered"
    for method, path in ingest:
        assert call(client, method, path, system).status_code not in (401, 403)
    for method, path, perm in routes(rt):
        if perm not in (P.INGEST, P.PUBLIC):
            assert call(client, method, path, system).status_code == 403, f"{method} {path}"


def test_unauthenticated_malformed_bodies_get_401(rt: Runtime) -> None:
    client = TestClient(create_app(rt), raise_server_exceptions=False)
    with_body = [
        (m, p) for m, p, perm in routes(rt) if m in ("POST", "PUT", "PATCH") and perm is not P.PUBLIC
    ]
    assert with_body
    for method, path in with_body:
        for body, kind in [
            (b"{not json", "application/json"),
            (b"\x00\xff" * 64, "application/octet-stream"),
        ]:
            response = client.request(method, concrete(path), content=body, headers={"content-type": kind})
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"


def test_the_body_is_never_read_before_authentication(rt: Runtime) -> None:
    """Drive the ASGI app directly with a receive() that must not be called."""
    app = create_app(rt)
    with_body = [
        (m, p) for m, p, perm in routes(rt) if m in ("POST", "PUT", "PATCH") and perm is not P.PUBLIC
    ]

    async def exchange(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bool]:
        read = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal read
            read = True
            return {"type": "http.request", "body": b"{not json", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": concrete(path),
            "raw_path": concrete(path).encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test"), (b"content-type", b"application/json"), *headers],
            "client": ("127.0.0.1", 1234),
            "server": ("test", 80),
        }
        await app(scope, receive, send)
        return status, read

    for method, path in with_body:
        for headers in ([], [(b"authorization", b"Bearer rb_forged_key")], [(b"x-api-key", b"a.b.c")]):
            status, read = asyncio.run(exchange(method, path, headers))
            assert (status, read) == (401, False), f"{method} {path} {headers}"
