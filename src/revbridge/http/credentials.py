"""Who a credential belongs to, for the authentication middleware both HTTP faces sit behind.

API keys (``rb_...``) are checked against the store's hashed keys; anything that looks like a JWT
is verified against the configured JWKS (issuer, audience, roles claim), when there is one. A
token's first use on this node is recorded in the audit trail as a ``login`` before the request
goes on; later requests with the same token are not, so the trail is not one entry per request.
A refused token is logged by reason only, never with the token.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import anyio.to_thread

from revbridge.bootstrap import Runtime
from revbridge.http.auth import Authenticator, Principal
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
from revbridge.settings import Settings
from revbridge.store import apikeys, audit

log = get_logger("revbridge.auth")


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
        roles_claim=settings.jwt_roles_claim,
    )
    return JwtVerifier(source, policy)


def authenticator(runtime: Runtime) -> Authenticator:
    """API keys (``rb_...``) from the store, JWTs against the JWKS. A token's first use on this
    node is audited as a ``login``; later requests with the same token are not."""
    verifier = jwt_verifier(runtime.settings)
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
        audit.record(
            runtime.db,
            at=runtime.clock.now(),
            actor=principal.actor,
            action="login",
            target=f"token/{token_id}",
            details={
                "method": principal.method,
                "issuer": issuer,
                "roles": ",".join(r.value for r in principal.roles),
            },
            anchor=runtime.settings.resolved_audit_anchor,
        )

    async def authenticate(credential: str) -> Principal | None:
        if credential.startswith("rb_"):
            key = await anyio.to_thread.run_sync(apikeys.verify, runtime.db, credential)
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
