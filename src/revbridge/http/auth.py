"""Authentication and authorization as pure ASGI middleware, ahead of any body parsing.

A request names its credentials in ``Authorization: Bearer <api key or JWT>`` or ``X-API-Key``,
or, for a machine that can only send HTTP basic authentication (SAP's outbound communication
user pushing journal confirmations), ``Authorization: Basic`` with the API key as the password;
the workbench's login sets a session cookie carrying the same key. The middleware finds the route
the request will reach, reads the permission it declares, and answers 401 (no or bad credentials)
or 403 (a role that lacks the permission) before the handler runs, so an unauthenticated request
with a malformed body never has its body parsed.

A workbench session also ends after ``idle_seconds`` without a request (automatic logoff): the
``revbridge_seen`` cookie carries the time of the last request and an HMAC of it keyed by the
credential and bound to the session id, and every authenticated response renews it. A credential
sent in a header is a machine's and is not timed out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from revbridge.http.permissions import permission_of
from revbridge.security.roles import Permission, Role, allows

SESSION_COOKIE = "revbridge_session"
SID_COOKIE = "revbridge_sid"
SEEN_COOKIE = "revbridge_seen"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str  # api key id or token subject; never a patient
    name: str
    roles: tuple[Role, ...]
    method: str  # "api_key" | "jwt"

    @property
    def actor(self) -> str:
        """How this principal is named in the audit trail and in maker-checker comparisons; the
        CLI names an API key holder the same way (``apikey:<id>``)."""
        kind = "apikey" if self.method == "api_key" else self.method
        return f"{kind}:{self.subject}"


Authenticator = Callable[[str], Awaitable[Principal | None]]


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    found = {}
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name and value:
            found[name] = value
    return found


def _credential_from(scope: Scope) -> tuple[str | None, bool]:
    """The credential and whether it came from the workbench's session cookie."""
    headers = _headers(scope)
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None, False
    if auth[:6].lower() == "basic ":
        return _basic_password(auth[6:]), False
    if headers.get("x-api-key"):
        return headers["x-api-key"].strip(), False
    cookie = _cookies(headers).get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def _basic_password(encoded: str) -> str | None:
    """The password of HTTP basic credentials (RFC 7617): the API key; the user name is not used."""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2].strip() or None


def _credential(scope: Scope) -> str | None:
    return _credential_from(scope)[0]


def seen_value(credential: str, sid: str, at: float) -> str:
    """The ``revbridge_seen`` cookie for a request at ``at`` (Unix seconds) in session ``sid``."""
    stamp = str(int(at))
    mac = hmac.new(credential.encode("utf-8"), f"seen:{sid}:{stamp}".encode(), hashlib.sha256).hexdigest()
    return f"{stamp}.{mac}"


def _seen_at(credential: str, sid: str, value: str) -> float | None:
    stamp, _, _mac = value.partition(".")
    if not (stamp.isascii() and stamp.isdigit()):
        return None
    expected = seen_value(credential, sid, int(stamp)).encode()
    # bytes, not str: compare_digest refuses non-ASCII text, and a cookie is whatever was sent
    if not hmac.compare_digest(value.encode("utf-8"), expected):
        return None
    return float(stamp)


def seen_cookie_header(credential: str, sid: str, at: float, *, secure: bool) -> bytes:
    parts = [f"{SEEN_COOKIE}={seen_value(credential, sid, at)}", "HttpOnly", "Path=/", "SameSite=strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


async def _reject(send: Send, status: int, detail: str, *, challenge: bool) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if challenge:
        headers.append((b"www-authenticate", b'Bearer realm="revbridge"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], Iterable[BaseRoute]],
        authenticate: Authenticator,
        on_denied: Callable[[Scope, int], Awaitable[bool]] | None = None,
        idle_seconds: float = 0.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.routes = routes
        self.authenticate = authenticate
        self.idle_seconds = idle_seconds  # 0: workbench sessions last as long as their credential
        self.now = now
        # Lets the workbench turn a 401 on a page into a redirect to its login page.
        self.on_denied = on_denied

    def _permission(self, scope: Scope) -> Permission | None:
        for route in self.routes():
            match, _ = route.matches(scope)
            if match is Match.FULL:
                endpoint = getattr(route, "endpoint", None)
                return permission_of(endpoint) if endpoint is not None else None
        return Permission.PUBLIC  # no route: let the router answer 404/405

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = self._permission(scope)
        if needed is None:
            # A route without a declared permission is a bug; refuse rather than expose it.
            await _reject(send, 403, "route declares no permission", challenge=False)
            return
        principal: Principal | None = None
        credential, from_cookie = _credential_from(scope)
        renew: bytes | None = None
        if credential and from_cookie and self.idle_seconds > 0:
            renew = self._session_alive(scope, credential)
            if renew is None:
                credential = None  # the session timed out: as if signed out
        if credential:
            principal = await self.authenticate(credential)
        if principal is not None and renew is not None:
            send = _renewing(send, renew)
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["permission"] = needed  # the rate limit and handlers read what the route declared
        if needed is Permission.PUBLIC:
            await self.app(scope, receive, send)
            return
        if principal is None:
            if self.on_denied is not None and await self.on_denied(scope, 401):
                await self._redirect_login(scope, send)
                return
            await _reject(
                send,
                401,
                "authentication required" if not credential else "invalid credentials",
                challenge=True,
            )
            return
        if not allows(principal.roles, needed):
            await _reject(send, 403, f"role lacks the {needed.value} permission", challenge=False)
            return
        await self.app(scope, receive, send)

    def _session_alive(self, scope: Scope, credential: str) -> bytes | None:
        """The renewed ``revbridge_seen`` cookie, or None if the session has been idle too long."""
        cookies = _cookies(_headers(scope))
        sid = cookies.get(SID_COOKIE, "")
        seen = _seen_at(credential, sid, cookies.get(SEEN_COOKIE, ""))
        now = self.now()
        if seen is None or not (now - self.idle_seconds <= seen <= now + 60):
            return None
        return seen_cookie_header(credential, sid, now, secure=scope.get("scheme") == "https")

    async def _redirect_login(self, scope: Scope, send: Send) -> None:
        target = scope.get("path", "/")
        location = f"/login?next={target}".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", location), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def _renewing(send: Send, cookie: bytes) -> Send:
    """Add the renewed ``revbridge_seen`` cookie to the response, unless the response sets that
    cookie itself (a sign-in starting a new session, a sign-out ending this one)."""
    prefix = f"{SEEN_COOKIE}=".encode()

    async def sending(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(k.lower() == b"set-cookie" and v.startswith(prefix) for k, v in headers):
                message = {**message, "headers": [*headers, (b"set-cookie", cookie)]}
        await send(message)

    return sending


class BodyLimitMiddleware:
    """Refuse bodies over the limit: by Content-Length at once, by counting when streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reject(send, 400, "invalid Content-Length", challenge=False)
                    return
                if declared > self.max_bytes:
                    await _reject(send, 413, f"body larger than {self.max_bytes} bytes", challenge=False)
                    return
        seen = 0
        started = False

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await _reject(send, 413, f"body larger than {self.max_bytes} bytes", challenge=False)


class _TooLarge(Exception):
    pass
