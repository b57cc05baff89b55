"""How handlers reach the runtime and the authenticated principal."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from revbridge.bootstrap import Runtime
from revbridge.http.auth import Principal


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def principal_of(request: Request) -> Principal:
    principal: Any = request.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        raise RuntimeError("route reached without a principal: the auth middleware is missing")
    return principal
