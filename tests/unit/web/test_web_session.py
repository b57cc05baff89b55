"""Signing in and out, the session cookie, and CSRF protection of every form."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from runtime import build_runtime
from sqlalchemy import select
from workbench import RUSHMORE, People, csrf_of, ingest

from revbridge.bootstrap import Runtime
from revbridge.core.clock import FixedClock
from revbridge.http.auth import _seen_at, seen_value
from revbridge.security.roles import Role
from revbridge.service.app import create_app
from revbridge.store import workitems
from revbridge.store.schema import audit_log


def _audit(rt: Runtime, action: str) -> list[tuple[str, str, dict[str, str]]]:
    with rt.db.reading() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.seq))
        return [(r.actor, r.target, json.loads(r.details)) for r in rows]


def test_sign_in_sets_an_httponly_strict_cookie_and_is_audited(rt: Runtime, people: People) -> None:
    client = TestClient(create_app(rt))
    answer = client.post(
        "/login",
        data={"credential": people.tokens[Role.OPERATOR], "next": "/workqueue?code=X"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/workqueue?code=X"
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("revbridge_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
    assert any(c.startswith("revbridge_sid=") and "HttpOnly" in c for c in cookies)
    logins = _audit(rt, "login")
    assert logins[-1][0] == f"apikey:{people.ids[Role.OPERATOR]}"
    assert logins[-1][2]["via"] == "workbench"
    assert client.get("/workqueue").status_code == 200  # the cookie alone authenticates pages


def test_a_wrong_key_is_refused_without_a_cookie(rt: Runtime, people: People) -> None:
    client = TestClient(create_app(rt))
    wrong = people.tokens[Role.VIEWER][:-4] + "AAAA"
    answer = client.post("/login", data={"credential": wrong}, follow_redirects=False)
    assert answer.status_code == 422
    assert "not accepted" in answer.text
    assert "set-cookie" not in answer.headers
    assert _audit(rt, "login") == []
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_only_redirects_within_the_site(rt: Runtime, people: People) -> None:
    client = TestClient(create_app(rt))
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = client.post(
            "/login", data={"credential": people.tokens[Role.VIEWER], "next": target}, follow_redirects=False
        )
        assert answer.headers["location"] == "/", target


def test_sign_out_clears_the_session_and_is_audited(rt: Runtime, people: People) -> None:
    browser = people.browser(Role.VIEWER)
    answer = browser.post("/logout", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    cleared = answer.headers.get_list("set-cookie")
    assert any(c.startswith('revbridge_session=""') or "Max-Age=0" in c for c in cleared)
    assert browser.get("/", follow_redirects=False).status_code == 303
    assert [actor for actor, _t, _d in _audit(rt, "logout")] == [f"apikey:{people.ids[Role.VIEWER]}"]


def test_a_pasted_oidc_token_signs_in(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]}))
    rt = build_runtime(
        f"sqlite:///{tmp_path / 'jwt.db'}",
        tmp_path,
        posting=True,
        jwks_file=jwks,
        jwt_issuer="https://idp.example.test",
        jwt_audience="revbridge",
    )
    try:
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        claims = {
            "iss": "https://idp.example.test",
            "aud": "revbridge",
            "sub": "dana@example.test",
            "name": "Dana",
            "exp": int(time.time()) + 600,
            "roles": ["approver"],
        }
        token = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": "k1"})
        client = TestClient(create_app(rt))
        answer = client.post("/login", data={"credential": token}, follow_redirects=False)
        assert answer.status_code == 303
        page = client.get("/config")
        assert page.status_code == 200
        assert "dana@example.test" in page.text or "Dana" in page.text
        assert "jwt:dana@example.test" in [actor for actor, _t, _d in _audit(rt, "login")]
    finally:
        rt.close()


def test_forms_without_the_sessions_csrf_token_are_refused(rt: Runtime, people: People, corpus: Path) -> None:
    ingest(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")
    item = next(i for i in workitems.list_items(rt.db) if i.code == "UNMAPPED_PAYER")
    operator = people.browser(Role.OPERATOR)
    form = {"action": "ignore", "item": str(item.id), "reason": "test"}
    assert operator.post("/workqueue/actions", data=form).status_code == 400
    assert operator.post("/workqueue/actions", data=form | {"csrf": "0" * 64}).status_code == 400
    assert (
        operator.post("/workqueue/actions", data=form | {"csrf": "\u00e9" * 64}).status_code == 400
    )  # not 500
    # A token from another session (the same key signed in again) is not this session's token.
    other = people.browser(Role.OPERATOR)
    foreign = csrf_of(other.get("/workqueue").text)
    mine = csrf_of(operator.get("/workqueue").text)
    assert foreign != mine
    assert operator.post("/workqueue/actions", data=form | {"csrf": foreign}).status_code == 400
    assert workitems.get(rt.db, item.id).status == "open"  # type: ignore[union-attr]
    done = operator.post("/workqueue/actions", data=form | {"csrf": mine}, follow_redirects=False)
    assert done.status_code == 303
    assert workitems.get(rt.db, item.id).status == "ignored"  # type: ignore[union-attr]


def test_configuration_forms_check_the_csrf_token_too(rt: Runtime, people: People) -> None:
    steward = people.browser(Role.STEWARD)
    answer = steward.post("/config/propose", data={"file": "payers.yaml", "text": "payers: []"})
    assert answer.status_code == 400
    approver = people.browser(Role.APPROVER)
    assert approver.post("/config/versions/1/decide", data={"decision": "approve"}).status_code == 400


# ---- automatic logoff ---------------------------------------------------------------------------


@contextmanager
def _clocked(tmp_path: Path, **settings: object) -> Iterator[tuple[Runtime, FixedClock, People]]:
    """A workbench runtime on a clock the test moves, with its people; closed afterwards."""
    clock = FixedClock(datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'idle.db'}", tmp_path, posting=True, clock=clock, **settings
    )
    try:
        yield runtime, clock, People(runtime)
    finally:
        runtime.close()


def test_a_session_idle_past_the_timeout_is_signed_out(tmp_path: Path) -> None:
    with _clocked(tmp_path) as (rt, clock, people):  # default: 15 minutes
        browser = people.browser(Role.VIEWER)
        seen = [c for c in browser.cookies.jar if c.name == "revbridge_seen"]
        assert len(seen) == 1
        clock.advance(timedelta(minutes=10))
        assert browser.get("/", follow_redirects=False).status_code == 200  # renews the session
        clock.advance(timedelta(minutes=10))
        assert browser.get("/", follow_redirects=False).status_code == 200  # 20 min in, 10 idle
        clock.advance(timedelta(minutes=15, seconds=1))
        answer = browser.get("/workqueue", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        assert browser.get("/api/v1/status").status_code == 401
        # the credential itself is still good: a machine sending it in a header is not timed out
        api = TestClient(create_app(rt))
        assert api.get("/api/v1/status", headers={"X-API-Key": people.tokens[Role.VIEWER]}).status_code == 200
        # and signing in again starts a new session
        assert people.browser(Role.VIEWER).get("/", follow_redirects=False).status_code == 200


def test_the_last_seen_cookie_cannot_be_forged_or_carried_to_another_session(tmp_path: Path) -> None:
    with _clocked(tmp_path) as (_rt, clock, people):
        browser = people.browser(Role.VIEWER)
        other = people.browser(Role.VIEWER)
        token = people.tokens[Role.VIEWER]
        later = int(clock.now().timestamp()) + 3600
        clock.advance(timedelta(hours=1))
        for value in (
            f"{later}.{'0' * 64}",  # a fresh time without the credential's MAC
            next(c.value for c in other.cookies.jar if c.name == "revbridge_seen"),  # another sid's
            seen_value(token, "", later),  # a MAC for no session id
            "",
        ):
            browser.cookies.set("revbridge_seen", value, domain="testserver.local", path="/")
            assert browser.get("/", follow_redirects=False).status_code == 303, value
        # the control: the same cookie made with the credential for this session is honoured
        sid = next(c.value for c in browser.cookies.jar if c.name == "revbridge_sid")
        browser.cookies.set(
            "revbridge_seen", seen_value(token, sid, later), domain="testserver.local", path="/"
        )
        assert browser.get("/", follow_redirects=False).status_code == 200


def test_an_idle_timeout_of_zero_keeps_sessions_for_as_long_as_their_credential(tmp_path: Path) -> None:
    with _clocked(tmp_path, workbench_idle_minutes=0) as (_rt, clock, people):
        browser = people.browser(Role.VIEWER)
        clock.advance(timedelta(days=3))
        assert browser.get("/", follow_redirects=False).status_code == 200


def test_signing_in_again_in_the_same_browser_starts_a_working_session(tmp_path: Path) -> None:
    with _clocked(tmp_path) as (rt, _clock, people):
        browser = people.browser(Role.VIEWER)
        answer = browser.post(
            "/login", data={"credential": people.tokens[Role.OPERATOR]}, follow_redirects=False
        )
        seen = [
            v
            for k, v in answer.headers.multi_items()
            if k == "set-cookie" and v.startswith("revbridge_seen=")
        ]
        assert len(seen) == 1  # the new session's, not the old one's renewed beside it
        assert browser.get("/", follow_redirects=False).status_code == 200
        assert _audit(rt, "login")[-1][0] == f"apikey:{people.ids[Role.OPERATOR]}"


def test_a_last_seen_cookie_of_non_ascii_digits_is_refused_not_an_error() -> None:
    # latin-1 decoding turns byte 0xB2 into "²", which str.isdigit() accepts and int() refuses
    assert _seen_at("credential", "sid", "\u00b2." + "0" * 64) is None
    assert _seen_at("credential", "sid", "1800000000.\u00b2") is None  # compare_digest refuses such str
    assert _seen_at("credential", "sid", seen_value("credential", "sid", 1_800_000_000)) == 1_800_000_000
