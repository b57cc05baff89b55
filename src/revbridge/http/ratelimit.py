"""A token-bucket rate limit per principal on the ingest routes, as pure ASGI middleware.

It sits inside the authentication middleware, which has already put the principal and the
route's permission into the request scope, and acts only on routes that need ``ingest``: a
source system that floods the API is slowed with 429 and ``Retry-After`` before its body is read,
while people reading dashboards are never throttled by it. The bucket refills at ``rate`` requests
per second up to ``burst``. Buckets live in this process: with N API nodes a sender gets at most N
times the rate, which is the point of a per-node limit (protect this node's commit queue).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from revbridge.security.roles import Permission


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per key; ``take`` answers 0 (go) or the seconds to wait for the next token."""

    def __init__(
        self,
        *,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            else:
                bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: drop those to bound memory.
        refill = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= refill]:
            del self._buckets[key]


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.get("state", {})
        principal = state.get("principal")
        if state.get("permission") is not Permission.INGEST or principal is None:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(f"{principal.method}:{principal.subject}")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, math.ceil(wait)))
        body = json.dumps({"detail": f"rate limit exceeded; retry after {retry_after} s"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", retry_after.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
