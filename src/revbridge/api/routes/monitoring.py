"""What load balancers, orchestrators and Prometheus ask without credentials: is the process up
(``/healthz``), can it serve (``/readyz``: the database answers and its schema is current), and
its metrics (``/metrics``). None of them reads or reveals anything about a message."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request

from revbridge.bootstrap import Runtime
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.security.roles import Permission
from revbridge.store import migrate

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
@requires(Permission.PUBLIC)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _ready(runtime: Runtime) -> bool:
    runtime.db.check_reachable()
    return migrate.is_current(runtime.db)


@router.get("/readyz")
@requires(Permission.PUBLIC)
async def readyz(request: Request) -> Response:
    try:
        current = await anyio.to_thread.run_sync(_ready, runtime_of(request))
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
    if not current:
        return JSONResponse({"status": "unavailable", "reason": "schema not current"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
@requires(Permission.PUBLIC)
async def metrics(request: Request) -> Response:
    registry = runtime_of(request).metrics.registry
    # off the event loop: some gauges are read from the store at scrape time
    body = await anyio.to_thread.run_sync(generate_latest, registry)
    return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)
