"""The FastAPI application factory. bootstrap builds the runtime; this wires HTTP onto it."""

from __future__ import annotations

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import BaseRoute, Route

from revbridge import __version__
from revbridge.api.auth import AuthMiddleware, BodyLimitMiddleware, Principal
from revbridge.api.permissions import requires
from revbridge.api.routes import ingest, operations
from revbridge.bootstrap import Runtime
from revbridge.security.roles import Permission
from revbridge.store import apikeys, migrate
from revbridge.store.engine import check_reachable


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(
        title="revbridge",
        version=__version__,
        description="Patient billing to ERP finance: intake, work items, journals, reconciliation.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = rt

    @app.get("/healthz", include_in_schema=False)
    @requires(Permission.PUBLIC)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    @requires(Permission.PUBLIC)
    async def readyz() -> Response:
        def check() -> bool:
            check_reachable(rt.db)
            return migrate.is_current(rt.db)

        try:
            current = await anyio.to_thread.run_sync(check)
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
        if not current:
            return JSONResponse({"status": "unavailable", "reason": "schema not current"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    @requires(Permission.PUBLIC)
    async def metrics() -> Response:
        return PlainTextResponse(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", include_in_schema=False)
    @requires(Permission.PUBLIC)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    @requires(Permission.PUBLIC)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="revbridge API")

    # Routers carry their full prefix themselves and are included without one, so their routes
    # can be matched directly: the auth middleware and the route test walk ``all_routes``.
    routers = [operations.router, ingest.router]
    for router in routers:
        app.include_router(router)

    def all_routes() -> list[BaseRoute]:
        direct = [r for r in app.router.routes if isinstance(r, APIRoute | Route)]
        return direct + [r for router in routers for r in router.routes]

    app.state.all_routes = all_routes

    async def authenticate(credential: str) -> Principal | None:
        key = await anyio.to_thread.run_sync(apikeys.verify, rt.db, credential)
        if key is None:
            return None
        return Principal(subject=key.id, name=key.name, roles=key.roles, method="api_key")

    app.add_middleware(AuthMiddleware, routes=all_routes, authenticate=authenticate)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=max(rt.settings.max_body_bytes, rt.settings.max_x12_bytes)
    )
    return app
