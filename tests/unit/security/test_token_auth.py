"""Bearer tokens through the real application: 200 with a good token, 401 for every bad one, the
first use of a token audited as a login, and nothing of the token in the logs."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from idp import AUDIENCE, ISSUER, Idp, rsa_key, unsigned
from lineformat import FORMATS
from runtime import build_runtime
from sqlalchemy import select

from revbridge.bootstrap import Runtime
from revbridge.core.errors import ConfigurationError
from revbridge.observability import logging as rblogging
from revbridge.service.app import create_app
from revbridge.store import audit
from revbridge.store.schema import audit_log


@pytest.fixture
def rt(tmp_path: Path, idp: Idp) -> Iterator[Runtime]:
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'jwt.db'}",
        tmp_path,
        formats=FORMATS,
        jwks_file=idp.jwks_file,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )
    yield runtime
    runtime.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def logins(rt: Runtime) -> list[tuple[str, str, str]]:
    with rt.db.reading() as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.target).where(
                audit_log.c.action == "login"
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_valid_token_reads_status(rt: Runtime, idp: Idp) -> None:
    client = TestClient(create_app(rt))
    response = client.get("/api/v1/status", headers=bearer(idp.token(roles=["viewer"])))
    assert response.status_code == 200
    assert "messages" in response.json()


def test_a_token_role_without_the_permission_gets_403(rt: Runtime, idp: Idp) -> None:
    client = TestClient(create_app(rt))
    response = client.get("/api/v1/status", headers=bearer(idp.token(roles=["system"])))
    assert response.status_code == 403


@pytest.mark.parametrize(
    "case",
    ["expired", "wrong_audience", "wrong_issuer", "wrong_key", "alg_none", "unknown_role", "not_yet_valid"],
)
def test_bad_tokens_get_401(rt: Runtime, idp: Idp, case: str) -> None:
    now = int(time.time())
    token = {
        "expired": lambda: idp.token(exp=now - 3600, iat=now - 7200),
        "wrong_audience": lambda: idp.token(aud="another-api"),
        "wrong_issuer": lambda: idp.token(iss="https://evil.example.test"),
        "wrong_key": lambda: idp.token(key=rsa_key()),
        "alg_none": lambda: unsigned({"alg": "none", "kid": idp.kid}, idp.claims(roles=["admin"])),
        "unknown_role": lambda: idp.token(roles=["root"]),
        "not_yet_valid": lambda: idp.token(nbf=now + 3600),
    }[case]()
    client = TestClient(create_app(rt))
    response = client.get("/api/v1/status", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid credentials"}
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert logins(rt) == []


def test_tokens_are_refused_when_no_jwks_is_configured(tmp_path: Path, idp: Idp) -> None:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'nojwt.db'}", tmp_path, formats=FORMATS)
    try:
        response = TestClient(create_app(runtime)).get("/api/v1/status", headers=bearer(idp.token()))
        assert response.status_code == 401
    finally:
        runtime.close()


def test_a_jwks_without_issuer_or_audience_is_a_configuration_error(tmp_path: Path, idp: Idp) -> None:
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'half.db'}", tmp_path, formats=FORMATS, jwks_file=idp.jwks_file
    )
    try:
        with pytest.raises(ConfigurationError):
            create_app(runtime)
    finally:
        runtime.close()


def test_the_first_use_of_a_token_is_audited_as_a_login_once(rt: Runtime, idp: Idp) -> None:
    client = TestClient(create_app(rt))
    first = idp.token(roles=["viewer", "operator"], jti="session-1")
    second = idp.token(sub="u-2002", jti="session-2")
    for _ in range(3):
        assert client.get("/api/v1/status", headers=bearer(first)).status_code == 200
    assert client.get("/api/v1/exceptions", headers=bearer(second)).status_code == 200
    assert logins(rt) == [
        ("jwt:u-1001", "login", "token/session-1"),
        ("jwt:u-2002", "login", "token/session-2"),
    ]
    count, findings = audit.check(rt.db, anchor=rt.settings.resolved_audit_anchor)
    assert findings == [] and count == 2


def test_a_refused_token_is_logged_by_reason_never_by_content(rt: Runtime, idp: Idp) -> None:
    stream = io.StringIO()
    rblogging.configure("INFO", json_lines=True, stream=stream)
    try:
        token = idp.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
        TestClient(create_app(rt)).get("/api/v1/status", headers=bearer(token))
    finally:
        rblogging.configure("INFO", json_lines=True)
    logged = stream.getvalue()
    assert "auth.token_refused" in logged and "token expired" in logged
    for part in token.split("."):
        assert part not in logged
