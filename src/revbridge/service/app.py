"""The FastAPI application factory. bootstrap builds the runtime; this wires HTTP onto it."""

from __future__ import annotations

import threading
from collections import OrderedDict

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import BaseRoute, Route

from revbridge import __version__
from revbridge.api.routes import fhir, ingest, messages, operations, portal, reconcile
from revbridge.bootstrap import Runtime
from revbridge.http.auth import Authenticator, AuthMiddleware, BodyLimitMiddleware, Principal
from revbridge.http.permissions import requires
from revbridge.http.ratelimit import RateLimitMiddleware, TokenBuckets
from revbridge.observability.logging import get_logger
from revbridge.security.jwt import (
    JwksFile,
    JwksSource,
    JwksUrl,
    JwtPolicy,
    JwtVerifier,
    Refused,
    looks_like_jwt,
)
from revbridge.security.roles import Permission
from revbridge.settings import Settings
from revbridge.store import apikeys, audit, migrate
from revbridge.web import site

log = get_logger("revbridge.auth")


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
            rt.db.check_reachable()
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
    routers = [operations.router, ingest.router, messages.router, fhir.router, portal.router, *site.routers]
    routers.append(reconcile.router)
    for router in routers:
        app.include_router(router)

    def all_routes() -> list[BaseRoute]:
        direct = [r for r in app.router.routes if isinstance(r, APIRoute | Route)]
        return direct + [r for router in routers for r in router.routes]

    app.state.all_routes = all_routes

    authenticate = _authenticator(rt)
    app.state.authenticate = authenticate  # the workbench's sign-in page checks credentials with it
    # Added innermost first: BodyLimit -> Auth -> RateLimit -> routes. A rate of 0 turns it off.
    if rt.settings.ingest_rate_per_key > 0:
        app.add_middleware(RateLimitMiddleware, buckets=TokenBuckets(rate=rt.settings.ingest_rate_per_key))
    app.add_middleware(
        AuthMiddleware,
        routes=all_routes,
        authenticate=authenticate,
        on_denied=site.redirect_to_login,
        idle_seconds=rt.settings.workbench_idle_minutes * 60,
        now=lambda: rt.clock.now().timestamp(),
    )
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=max(rt.settings.max_body_bytes, rt.settings.max_x12_bytes)
    )
    return app


def jwt_verifier(settings: Settings) -> JwtVerifier | None:
    """The bearer-token verifier the settings ask for; None when no JWKS is configured."""
    source: JwksSource
    if settings.jwks_file is not None:
        source = JwksFile(settings.jwks_file)
    elif settings.jwks_url:
        source = JwksUrl(settings.jwks_url)
    else:
        return None
    policy = JwtPolicy(
        issuer=settings.jwt_issuer or "",
        audience=settings.jwt_audience or "",
        # Settings has no field for this yet; honour one as soon as it exists.
        roles_claim=settings.jwt_roles_claim,
    )
    return JwtVerifier(source, policy)


def _authenticator(rt: Runtime) -> Authenticator:
    """API keys (``rb_...``) from the store, JWTs against the JWKS. A token's first use on this
    node is audited as a ``login``; later requests with the same token are not."""
    verifier = jwt_verifier(rt.settings)
    seen: OrderedDict[str, None] = OrderedDict()
    seen_lock = threading.Lock()

    def first_use(token_id: str) -> bool:
        with seen_lock:
            if token_id in seen:
                seen.move_to_end(token_id)
                return False
            seen[token_id] = None
            if len(seen) > 10_000:
                seen.popitem(last=False)
            return True

    def record_login(principal: Principal, token_id: str, issuer: str) -> None:
        with rt.db.transaction() as conn:
            audit.append(
                conn,
                at=rt.clock.now(),
                actor=principal.actor,
                action="login",
                target=f"token/{token_id}",
                details={
                    "method": principal.method,
                    "issuer": issuer,
                    "roles": ",".join(r.value for r in principal.roles),
                },
                anchor=rt.settings.resolved_audit_anchor,
            )

    async def authenticate(credential: str) -> Principal | None:
        if credential.startswith("rb_"):
            key = await anyio.to_thread.run_sync(apikeys.verify, rt.db, credential)
            if key is None:
                return None
            return Principal(subject=key.id, name=key.name, roles=key.roles, method="api_key")
        if verifier is None or not looks_like_jwt(credential):
            return None
        verified = await anyio.to_thread.run_sync(verifier.verify, credential)
        if isinstance(verified, Refused):
            log.info("auth.token_refused", reason=verified.reason)
            return None
        principal = Principal(
            subject=verified.subject, name=verified.name, roles=verified.roles, method="jwt"
        )
        if first_use(verified.token_id):
            try:
                await anyio.to_thread.run_sync(
                    record_login, principal, verified.token_id, verifier.policy.issuer
                )
            except BaseException:
                with seen_lock:
                    seen.pop(verified.token_id, None)  # audit it on the next attempt instead
                raise
        return principal

    return authenticate
