"""The overview page (``/``): the state of the pipeline at a glance, for anyone who may read.

Tables for the counts people act on (today's messages by source and state, journals by lane and
state, open work items by code and age) and server-drawn charts where a shape says more than a
number: cash by day, work items over time, the receipt-to-posting latency histogram and the AR
roll-forward. Each chart has its numbers in a table beside it. The staging tables, broker queues,
SFTP folders and the events-out sink have a table of their own (``web/sources.py``).
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.security.roles import Permission
from revbridge.web import charts, dashboard, reconciliation, sources
from revbridge.web.rendering import render

router = APIRouter(tags=["workbench"], include_in_schema=False)


def _charts(view: dashboard.Overview) -> dict[str, Markup]:
    cur = view.currency
    cash = charts.draw(
        [d.day.isoformat() for d in view.cash],
        [charts.Series(name=f"received ({cur})", values=tuple(d.up for d in view.cash), css="bar-a")],
        ident="cash",
        title=f"Cash by day ({cur})",
        description=f"Cash booked to cash clearing on the last {len(view.cash)} posting dates with activity.",
    )
    work = charts.draw(
        [d.day.strftime("%m-%d") for d in view.work],
        [
            charts.Series(name="opened", values=tuple(Decimal(d.opened) for d in view.work), css="bar-b"),
            charts.Series(name="closed", values=tuple(Decimal(d.closed) for d in view.work), css="bar-a"),
        ],
        line=charts.Series(name="open", values=tuple(Decimal(d.backlog) for d in view.work), css="line"),
        ident="work",
        title="Work items over the last 30 days",
        description="Work items opened and closed per day, and how many were open at the end of each day.",
    )
    latency = charts.draw(
        [label for label, _n in view.latency.buckets],
        [
            charts.Series(
                name="journals", values=tuple(Decimal(n) for _l, n in view.latency.buckets), css="bar-a"
            )
        ],
        ident="latency",
        title="Receipt to posting latency",
        description="Journals posted in the last 30 days by the time from the first message behind them "
        "to their posting.",
    )
    ar = charts.draw(
        [d.day.isoformat() for d in view.receivables],
        [
            charts.Series(name="increases", values=tuple(d.up for d in view.receivables), css="bar-b"),
            charts.Series(name="decreases", values=tuple(-d.down for d in view.receivables), css="bar-a"),
        ],
        line=charts.Series(name="closing", values=tuple(d.balance for d in view.receivables), css="line"),
        ident="ar",
        title=f"AR roll-forward ({cur})",
        description="Receivables (payer, patient, unbilled) per posting date: increases, decreases and "
        "the closing balance.",
    )
    return {"cash": cash, "work": work, "latency": latency, "ar": ar}


@router.get("/")
@requires(Permission.READ)
def overview_page(request: Request) -> Response:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    view = dashboard.overview(runtime.db, now)
    tie_out = reconciliation.report_for(request, None)
    context = {
        "view": view,
        "charts": _charts(view),
        "reconciliation": reconciliation.by_facility(tie_out.value),
        "reconciled_at": tie_out.at,
        "reconciled_current": tie_out.current,
        "sources": sources.rows(request),
    }
    return render(request, "overview.html", context, title="Overview", active="overview")
