"""Finance (``/finance``): the analytics reports (docs/analytics.md) as pages, for anyone who may
read.

One page per report (``revenue``, ``denials``, ``ar-days``, ``operations``) with the same
``from``/``to``/``by`` choices as ``revbridge report``: a server-drawn chart where a shape says
more than a number, then every table of the report, each with a CSV download of exactly that
table (``/finance/{report}.csv?table=...``, the CLI's ``--csv`` columns). The figures are the
pipeline's (``pipeline/analytics.py``), kept between views while the store is unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from revbridge.analytics import Figures, Period
from revbridge.core.errors import InputError
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.pipeline.analytics import REPORTS, run
from revbridge.pipeline.analytics import Request as ReportRequest
from revbridge.security.roles import Permission
from revbridge.web import charts, page_cache
from revbridge.web.rendering import HEADERS, render

router = APIRouter(tags=["workbench"], include_in_schema=False)

DAY = r"^(|\d{4}-\d{2}-\d{2})$"
NAME = r"^(revenue|denials|ar-days|operations)$"
TABLE = r"^([a-z_]{1,40})?$"


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    table: str
    categories: tuple[str, ...]  # columns joined into one label
    bars: tuple[str, ...]
    title: str
    line: str = ""


CHARTS: dict[str, tuple[Chart, ...]] = {
    "revenue": (
        Chart(
            table="totals",
            categories=("period",),
            bars=("gross_charges", "contractual_adjustments", "denials"),
            line="net_revenue",
            title="Gross charges, deductions and net revenue",
        ),
        Chart(table="payer_mix", categories=("payer_class",), bars=("gross_charges",), title="Payer mix"),
    ),
    "denials": (
        Chart(table="trend", categories=("period",), bars=("denied",), title="Denied dollars"),
        Chart(table="top_reasons", categories=("reason",), bars=("denied",), title="Top denial reasons"),
    ),
    "ar-days": (
        Chart(
            table="days_in_ar",
            categories=("legal_entity", "payer_class"),
            bars=("days_in_ar",),
            title="Days in A/R by payer class",
        ),
    ),
    "operations": (
        Chart(
            table="posting_latency",
            categories=("period", "lane"),
            bars=("p95", "sla"),
            title="Latency p95 and SLA",
        ),
        Chart(table="exceptions", categories=("period",), bars=("items_opened",), title="Work items opened"),
    ),
}
CSS = ("bar-a", "bar-b", "bar-a")


def _figures(request: Request, name: str, start: str, end: str, by: Period) -> page_cache.Kept[Figures]:
    runtime = runtime_of(request)
    asked = ReportRequest(
        name=name,
        start=date.fromisoformat(start) if start else None,
        end=date.fromisoformat(end) if end else None,
        by=by,
        now=runtime.clock.now(),
        sla_seconds=runtime.settings.alert_cash_posting_p99_seconds,
    )
    return page_cache.remembered(request, ("finance", name, start, end, by), lambda: run(runtime.db, asked))


def _number(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value) if isinstance(value, int) else Decimal(0)


def _chart(figures: Figures, spec: Chart, n: int) -> Markup:
    """Rows with the same label are summed (a payer class over several periods)."""
    table = figures.table(spec.table)
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * (len(spec.bars) + 1))
    for record in table.records():
        label = " ".join(str(record[c]) for c in spec.categories)
        wanted = (*spec.bars, spec.line) if spec.line else spec.bars
        for i, column in enumerate(wanted):
            sums[label][i] += _number(record[column])
    labels = list(sums)
    bars = [
        charts.Series(name=column, values=tuple(sums[k][i] for k in labels), css=CSS[i])
        for i, column in enumerate(spec.bars)
    ]
    line = None
    if spec.line:
        at = len(spec.bars)
        line = charts.Series(name=spec.line, values=tuple(sums[k][at] for k in labels), css="line")
    return charts.draw(
        labels,
        bars,
        ident=f"{n}",
        title=spec.title,
        description=f"{spec.title} from the {table.title.lower()} table below.",
        line=line,
    )


@router.get("/finance")
@requires(Permission.READ)
def finance_page(
    request: Request,
    report: str = Query("revenue", pattern=NAME),
    start: str = Query("", alias="from", pattern=DAY),
    end: str = Query("", alias="to", pattern=DAY),
    by: Period = Query(Period.DAY),
) -> Response:
    context: dict[str, object] = {
        "reports": REPORTS,
        "report": report,
        "start": start,
        "end": end,
        "by": by.value,
    }
    context["periods"] = [p.value for p in Period]
    try:
        kept = _figures(request, report, start, end, by)
    except InputError as exc:
        return render(
            request,
            "finance.html",
            {**context, "figures": None},
            title="Finance",
            active="finance",
            status=400,
            error=str(exc),
        )
    figures = kept.value
    query = {"from": start, "to": end, "by": by.value}
    context |= {
        "figures": figures,
        "current": kept.current,
        "charts": [_chart(figures, spec, n) for n, spec in enumerate(CHARTS[report])],
        "downloads": {
            t.name: f"/finance/{report}.csv?" + urlencode({**query, "table": t.name}) for t in figures.tables
        },
    }
    return render(request, "finance.html", context, title="Finance", active="finance")


@router.get("/finance/{report}.csv")
@requires(Permission.READ)
def finance_csv(
    request: Request,
    report: str,
    table: str = Query("", pattern=TABLE),
    start: str = Query("", alias="from", pattern=DAY),
    end: str = Query("", alias="to", pattern=DAY),
    by: Period = Query(Period.DAY),
) -> Response:
    if report not in REPORTS:
        return Response(f"no report {report!r}\n", status_code=404, media_type="text/plain")
    try:
        figures = _figures(request, report, start, end, by).value
    except InputError as exc:
        return Response(f"{exc}\n", status_code=400, media_type="text/plain")
    if table:
        if table not in {t.name for t in figures.tables}:
            return Response(
                f"report {report} has no table {table!r}\n", status_code=404, media_type="text/plain"
            )
        figures = replace(figures, tables=(figures.table(table),))
    filename = f"{report}-{table or 'all'}-{figures.start.isoformat()}-{figures.end.isoformat()}.csv"
    headers = {**HEADERS, "content-disposition": f'attachment; filename="{filename}"'}
    return Response(figures.as_csv(), media_type="text/csv; charset=utf-8", headers=headers)
