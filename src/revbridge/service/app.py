"""The ASGI application: the two HTTP faces behind one authentication, body limit and rate limit.

bootstrap builds the runtime; this assembles what the faces offer, and adds nothing of its own:
the API's routers (``revbridge.api.routers``: the probes, the OpenAPI document, ``/api/v1``), the
workbench's (``revbridge.web.site``), and the middleware from ``revbridge.http``. The faces never
import each other; this is the one place that knows both.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from revbridge import __version__
from revbridge.api import routers as api
from revbridge.bootstrap import Runtime
from revbridge.http.auth import AuthMiddleware, BodyLimitMiddleware
from revbridge.http.credentials import authenticator
from revbridge.http.ratelimit import RateLimitMiddleware, TokenBuckets
from revbridge.web import site


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="revbridge",
        version=__version__,
        description="Patient billing to ERP finance: intake, work items, journals, reconciliation.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    routers = [*api.routers, *site.routers]
    for router in routers:
        app.include_router(router)
    app.state.all_routes = _every_route(app, routers)
    _guard(app, runtime)
    return app


def _every_route(app: FastAPI, routers: list[APIRouter]) -> Callable[[], list[BaseRoute]]:
    """Routers carry their full prefix themselves and are included without one, so their routes
    can be matched directly: the auth middleware and the route test walk this list."""

    def every_route() -> list[BaseRoute]:
        direct = [r for r in app.router.routes if isinstance(r, APIRoute | Route)]
        return direct + [r for router in routers for r in router.routes]

    return every_route


def _guard(app: FastAPI, runtime: Runtime) -> None:
    """Added innermost first: BodyLimit -> Auth -> RateLimit -> routes. A rate of 0 turns it off."""
    authenticate = authenticator(runtime)
    app.state.authenticate = authenticate  # the workbench's sign-in page checks credentials with it
    if runtime.settings.ingest_rate_per_key > 0:
        app.add_middleware(
            RateLimitMiddleware, buckets=TokenBuckets(rate=runtime.settings.ingest_rate_per_key)
        )
    app.add_middleware(
        AuthMiddleware,
        routes=app.state.all_routes,
        authenticate=authenticate,
        on_denied=site.redirect_to_login,
        idle_seconds=runtime.settings.workbench_idle_minutes * 60,
        now=lambda: runtime.clock.now().timestamp(),
    )
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=max(runtime.settings.max_body_bytes, runtime.settings.max_x12_bytes)
    )
