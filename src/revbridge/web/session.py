"""Who is signed in to the workbench, the cookies that say so, and the CSRF token forms carry.

People sign in with the same credentials machines use (an API key, or an OIDC/JWT bearer token
pasted from their identity provider); the runtime's authenticator checks it exactly as it checks
an ``Authorization`` header. The credential then travels in an HttpOnly, SameSite=Strict cookie
that the authentication middleware already reads, so pages are authorised by the same code and
the same permission table as the API. Each sign-in is audited (``login``) and gets a random
session id; the CSRF token is an HMAC of that id keyed by the credential, so it cannot be
computed without the credential, differs per session and needs no server-side state.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from revbridge.http.auth import SEEN_COOKIE, SESSION_COOKIE, SID_COOKIE, Principal, _credential, seen_value


def principal(request: Request) -> Principal | None:
    found: Any = request.scope.get("state", {}).get("principal")
    return found if isinstance(found, Principal) else None


def actor(who: Principal) -> str:
    """How a person is named in the audit trail (see ``Principal.actor``)."""
    return who.actor


def csrf_token(request: Request) -> str:
    credential = _credential(request.scope) or ""
    sid = request.cookies.get(SID_COOKIE, "")
    return hmac.new(credential.encode("utf-8"), f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, token: str) -> bool:
    # bytes, not str: compare_digest refuses non-ASCII text, and a form field is whatever was sent
    return bool(token) and hmac.compare_digest(token.encode("utf-8"), csrf_token(request).encode())


def local(target: str | None, default: str = "/") -> str:
    """Only a path on this site may follow a sign-in (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


async def redirect_to_login(scope: Scope, status: int) -> bool:
    """The authentication middleware's hook: a page navigation without valid credentials goes to
    the sign-in page; the API, and anything but GET, keeps its 401."""
    path = str(scope.get("path", ""))
    return status == 401 and scope.get("method") in ("GET", "HEAD") and not path.startswith("/api/")


def set_cookies(request: Request, response: Response, *, credential: str, sid: str, now: float) -> None:
    secure = request.url.scheme == "https"
    seen = seen_value(credential, sid, now)
    for name, value in ((SESSION_COOKIE, credential), (SID_COOKIE, sid), (SEEN_COOKIE, seen)):
        response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, path="/")


def clear_cookies(request: Request, response: Response) -> None:
    secure = request.url.scheme == "https"
    for name in (SESSION_COOKIE, SID_COOKIE, SEEN_COOKIE):
        response.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=secure)
