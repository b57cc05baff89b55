"""Authentication and authorization as pure ASGI middleware, ahead of any body parsing.

A request names its credentials in ``Authorization: Bearer <api key or JWT>`` or ``X-API-Key``;
the workbench's login sets a session cookie carrying the same key. The middleware finds the route
the request will reach, reads the permission it declares, and answers 401 (no or bad credentials)
or 403 (a role that lacks the permission) before the handler runs, so an unauthenticated request
with a malformed body never has its body parsed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from revbridge.api.permissions import permission_of
from revbridge.security.roles import Permission, Role, allows

SESSION_COOKIE = "revbridge_session"


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


def _credential(scope: Scope) -> str | None:
    headers: dict[str, str] = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
    }
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    if headers.get("x-api-key"):
        return headers["x-api-key"].strip()
    cookie = headers.get("cookie", "")
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None


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
    ) -> None:
        self.app = app
        self.routes = routes
        self.authenticate = authenticate
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
        credential = _credential(scope)
        if credential:
            principal = await self.authenticate(credential)
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
