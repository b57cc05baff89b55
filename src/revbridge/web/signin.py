"""The sign-in and sign-out pages (public routes): a credential in, a session cookie out.

The credential is checked by the runtime's own authenticator (``app.state.authenticate``, the
one the middleware uses for every request), so an API key or an OIDC/JWT token is accepted here
exactly when it would be accepted on the API. A key that may only ingest is refused: the
workbench is for people. Sign-in and sign-out are audited.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable

import anyio.to_thread
from fastapi import APIRouter, Form, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from revbridge.http.auth import SID_COOKIE, Principal
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.security.roles import Permission, allows
from revbridge.store import audit
from revbridge.web import session
from revbridge.web.rendering import render

router = APIRouter(tags=["workbench"], include_in_schema=False)


def _record(request: Request, who: Principal, action: str, sid: str) -> None:
    runtime = runtime_of(request)
    audit.record(
        runtime.db,
        at=runtime.clock.now(),
        actor=session.actor(who),
        action=action,
        target=f"session/{hashlib.sha256(sid.encode()).hexdigest()[:16]}",
        details={
            "via": "workbench",
            "method": who.method,
            "roles": ",".join(r.value for r in who.roles),
        },
        anchor=runtime.settings.resolved_audit_anchor,
    )


@router.get("/login")
@requires(Permission.PUBLIC)
def login_page(request: Request, next: str = Query("/", max_length=512)) -> Response:
    return render(request, "login.html", {"next": session.local(next)}, title="Sign in")


@router.post("/login")
@requires(Permission.PUBLIC)
async def login(
    request: Request,
    credential: str = Form("", max_length=8192),
    next: str = Form("/", max_length=512),
) -> Response:
    authenticate: Callable[[str], Awaitable[Principal | None]] = request.app.state.authenticate
    given = credential.strip()
    who = await authenticate(given) if given else None
    if who is None or not allows(who.roles, Permission.READ):
        reason = (
            "That key or token was not accepted."
            if who is None
            else "This key may only send messages; it cannot use the workbench."
        )
        context = {"next": session.local(next)}
        return render(request, "login.html", context, title="Sign in", status=422, error=reason)
    sid = secrets.token_urlsafe(24)
    await anyio.to_thread.run_sync(_record, request, who, "login", sid)
    response = RedirectResponse(session.local(next), status_code=303)
    session.set_cookies(
        request, response, credential=given, sid=sid, now=runtime_of(request).clock.now().timestamp()
    )
    return response


@router.post("/logout")
@requires(Permission.PUBLIC)
async def logout(request: Request) -> Response:
    who = session.principal(request)
    if who is not None:
        sid = request.cookies.get(SID_COOKIE, "")
        await anyio.to_thread.run_sync(_record, request, who, "logout", sid)
    response = RedirectResponse("/login", status_code=303)
    session.clear_cookies(request, response)
    return response
