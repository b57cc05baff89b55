"""The workbench's own stylesheet and script, served from the package (no CDN: hospital networks
are often air-gapped). Only plain file names under ``web/static`` are served."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException
from starlette.responses import Response

from revbridge.http.permissions import requires
from revbridge.security.roles import Permission

router = APIRouter(tags=["workbench"], include_in_schema=False)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(css|js|svg|ico)$")
_TYPES = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "svg": "image/svg+xml",
    "ico": "image/x-icon",
}


@cache
def _asset(name: str) -> bytes | None:
    resource = files("revbridge.web").joinpath("static", name)
    return resource.read_bytes() if resource.is_file() else None


@router.get("/static/{name}")
@requires(Permission.PUBLIC)
def asset(name: str) -> Response:
    found = _NAME.fullmatch(name)
    body = _asset(name) if found else None
    if found is None or body is None:
        raise HTTPException(404, "no such asset")
    return Response(
        body,
        media_type=_TYPES[found.group(1)],
        headers={"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"},
    )
