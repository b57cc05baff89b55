"""Reconciliation over HTTP: the report `revbridge reconcile --json` prints, and AR drill-down.

``GET /api/v1/reconcile?date=YYYY-MM-DD`` answers 200 with ``ties`` true or false and every
break named; whether the numbers tie is the body's business, not the status code's.
``GET /api/v1/reconcile/ar/events`` lists the events behind one receivable balance.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import anyio.to_thread
from fastapi import APIRouter, Query
from starlette.requests import Request

from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.pipeline.reconciliation import announce, report
from revbridge.security.roles import Permission
from revbridge.store import facts

router = APIRouter(prefix="/api/v1/reconcile", tags=["reconciliation"])


@router.get("")
@requires(Permission.READ)
async def reconcile(
    request: Request,
    day: date | None = Query(None, alias="date", description="The business day; default: everything."),
    events: bool = Query(False, description="List the event keys behind held amounts and AR movements."),
    stale_after: int = Query(30, ge=1, le=7 * 24 * 60, description="Minutes work may be in flight."),
) -> dict[str, object]:
    runtime = runtime_of(request)

    def run() -> dict[str, object]:
        found = report(
            runtime.db,
            day=day,
            now=runtime.clock.now(),
            in_flight=timedelta(minutes=stale_after),
            connector_for=runtime.connector_for,
        )
        announce(runtime.db, found, now=runtime.clock.now())  # events out: reconciliation.broken
        if day is None:  # the whole store: what the reconciliation alert reads
            runtime.metrics.reconciliation_ties.labels("all").set(1 if found.ties else 0)
        return found.as_json(keys=events)

    return await anyio.to_thread.run_sync(run)


@router.get("/ar/events")
@requires(Permission.READ)
async def ar_events(
    request: Request,
    legal_entity: str = Query("", max_length=32),
    payer_class: str = Query("", max_length=64),
    since: date | None = Query(None, description="First posting date; default: the beginning."),
    through: date | None = Query(None, description="Last posting date; default: everything."),
    limit: int = Query(10_000, ge=1, le=100_000),
) -> dict[str, object]:
    runtime = runtime_of(request)
    found = await anyio.to_thread.run_sync(
        lambda: facts.ar_events(
            runtime.db, legal_entity=legal_entity, payer_class=payer_class, since=since, through=through
        )
    )
    total: dict[str, Decimal] = {}
    for _key, amount in found:
        total[amount.currency] = total.get(amount.currency, Decimal(0)) + amount.amount
    return {
        "legal_entity": legal_entity,
        "payer_class": payer_class,
        "since": since.isoformat() if since else None,
        "through": through.isoformat() if through else None,
        "total": {currency: str(amount) for currency, amount in sorted(total.items())},
        "events": [
            {"event_key": key, "amount": str(amount.amount), "currency": amount.currency}
            for key, amount in found[:limit]
        ],
        "truncated": len(found) > limit,
    }
