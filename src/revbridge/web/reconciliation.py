"""Reconciliation (``/reconciliation``): does it tie, per day and facility, and if not, where.

The figures are ``revbridge.reconcile``'s report (the same one ``revbridge reconcile`` prints):
the daily tie-out per facility and event kind (source = subledger = journals = ERP), cash per
remittance, the AR roll-forward per legal entity and payer class, completeness, and every break
by name. Drill-down goes from a roll-forward figure to the events behind it
(``/reconciliation/ar``, the store's ``facts.ar_events``) and from an event key to the lineage of
the message that brought it (``/events``, ``facts.message_id_of``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from revbridge.core.money import Money
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.pipeline.reconciliation import report
from revbridge.reconcile import Report
from revbridge.security.roles import Permission
from revbridge.store import facts
from revbridge.web import page_cache
from revbridge.web.rendering import render

router = APIRouter(tags=["workbench"], include_in_schema=False)

DAY = r"^(|\d{4}-\d{2}-\d{2})$"


@dataclass(frozen=True, slots=True, kw_only=True)
class FacilityStatus:
    facility: str
    days: int
    breaks: int

    @property
    def status(self) -> str:
        return "balanced" if not self.breaks else "unbalanced"


def by_facility(found: Report) -> list[FacilityStatus]:
    """Per facility: how many day/kind rows the tie-out has and how many of them do not tie."""
    rows: dict[str, list[bool]] = defaultdict(list)
    for row in found.daily.rows:
        rows[row.facility].append(row.ties)
    return [
        FacilityStatus(facility=f, days=len(ties), breaks=sum(1 for t in ties if not t))
        for f, ties in sorted(rows.items())
    ]


def report_for(request: Request, day: date | None) -> page_cache.Kept[Report]:
    """The reconciliation report for ``day``, kept between views (``page_cache.remembered``)."""
    runtime = runtime_of(request)
    return page_cache.remembered(
        request,
        ("reconciliation", day),
        lambda: report(runtime.db, day=day, now=runtime.clock.now(), in_flight=timedelta(minutes=30)),
    )


@router.get("/reconciliation")
@requires(Permission.READ)
def reconciliation_page(
    request: Request,
    day: str = Query("", alias="date", pattern=DAY),
    facility: str = Query("", max_length=128),
) -> Response:
    chosen = date.fromisoformat(day) if day else None
    kept = report_for(request, chosen)
    found = kept.value
    daily = [r for r in found.daily.rows if not facility or r.facility == facility]
    context = {
        "report": found,
        "current": kept.current,
        "day": day,
        "facility": facility,
        "facilities": by_facility(found),
        "daily": daily,
        "days": sorted({r.day for r in found.daily.rows}, reverse=True),
        # The opening balance is everything booked before the first day of the roll-forward.
        "opening_through": (found.ar.start - timedelta(days=1)).isoformat() if found.ar.start else "",
    }
    return render(request, "reconciliation.html", context, title="Reconciliation", active="reconciliation")


@router.get("/reconciliation/ar")
@requires(Permission.READ)
def ar_page(
    request: Request,
    legal_entity: str = Query(..., max_length=32),
    payer_class: str = Query("", max_length=64),
    since: str = Query("", pattern=DAY),
    through: str = Query("", pattern=DAY),
) -> Response:
    found = facts.ar_events(
        runtime_of(request).db,
        legal_entity=legal_entity,
        payer_class=payer_class,
        since=date.fromisoformat(since) if since else None,
        through=date.fromisoformat(through) if through else None,
    )
    context = {
        "legal_entity": legal_entity,
        "payer_class": payer_class,
        "since": since,
        "through": through,
        "events": found[:2000],
        "more": len(found) > 2000,
        "totals": _totals(found),
    }
    title = f"Receivables of {legal_entity} {payer_class or '(no payer class)'}"
    return render(request, "reconciliation_ar.html", context, title=title, active="reconciliation")


def _totals(found: Sequence[tuple[str, Money]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for _key, money in found:
        totals[money.currency] = totals.get(money.currency, Decimal(0)) + money.amount
    return dict(sorted(totals.items()))


@router.get("/events")
@requires(Permission.READ)
def event_page(request: Request, key: str = Query(..., min_length=1, max_length=512)) -> Response:
    """An event key -> the lineage of the message that brought it, with the event in focus; a key
    no message brought (a go-live opening row) -> the journal that carries its lines."""
    db = runtime_of(request).db
    message_id = facts.message_id_of(db, key)
    if message_id is not None:
        return RedirectResponse(f"/messages/{message_id}?{urlencode({'event': key})}", status_code=303)
    journal_id = facts.journal_id_of(db, key)
    if journal_id is not None:
        return RedirectResponse(f"/journals/{quote(journal_id, safe='')}", status_code=303)
    context = {"back": "/reconciliation"}
    return render(request, "message.html", context, title="Event", status=404, error=f"No event {key}.")
