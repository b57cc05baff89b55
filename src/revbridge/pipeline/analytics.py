"""``run``: one analytics report (issue 18) over the store, with the configuration in effect.

The store reads the facts of a range in one snapshot (``store/views/analytics.py``); this module
names their payers and classifies their CAS triples with the configuration in effect on the
report's end, asks the reconciliation report for each business day's status (``operations``),
and hands everything to the pure report functions (``revbridge.analytics``). It writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime

from revbridge.analytics import Adjudicated, CasTriple, Figures, Period
from revbridge.analytics.denials import denials
from revbridge.analytics.operations import DayStatus, operations
from revbridge.analytics.receivables import ar_days
from revbridge.analytics.revenue import revenue
from revbridge.core.errors import InputError
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem
from revbridge.masterdata.configuration import Configuration
from revbridge.pipeline.reconciliation import report as reconciliation
from revbridge.store import Database, facts
from revbridge.store.views import analytics as views

REPORTS: Mapping[str, str] = {
    "revenue": "Gross charges, contractual adjustments, denials, net revenue and cash by facility, "
    "department and payer class; payer mix.",
    "denials": "Denial rate and dollars by payer, CAS group and reason; top ten reasons; trend; "
    "remittance turnaround (837 sent to 835 paid).",
    "ar-days": "Days in A/R by payer class; cash collected against expected.",
    "operations": "Posting latency against the SLA, exception rate, open items' age by code, "
    "reconciliation status per day.",
}
MAX_RECONCILED_DAYS = 93  # operations reconciles each business day: bound the work


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    name: str
    start: date | None
    end: date | None
    by: Period
    now: datetime
    sla_seconds: float  # the realtime lane's; the batch lane adds the configured batch window
    connector_for: Callable[[str], object] | None = None


def run(db: Database, request: Request) -> Figures:
    if request.name not in REPORTS:
        raise InputError(f"unknown report {request.name!r}; reports: {', '.join(REPORTS)}")
    start, end = _range(db, request)
    config = facts.configuration_on(db, end) or facts.configuration_on(db, request.now.date())
    by = request.by
    with db.reading() as tx:
        match request.name:
            case "revenue":
                return revenue(views.posted_lines(tx, start=start, end=end), start=start, end=end, by=by)
            case "denials":
                claims = _named(views.adjudications(tx, start=start, end=end), config)
                sent = tuple(
                    replace(s, payer=_payer(s.payer, "", config)[0])
                    for s in views.submissions(tx, through=end)
                )
                return denials(claims, sent, start=start, end=end, by=by)
            case "ar-days":
                balances = views.receivables(tx, through=end)
                lines = views.posted_lines(tx, start=start, end=end)
                claims = _named(views.adjudications(tx, start=start, end=end), config)
                return ar_days(balances, lines, claims, start=start, end=end, by=by)
            case _:
                timings = views.journal_timings(tx, start=start, end=end)
                received = views.messages_received(tx, start=start, end=end)
                items = views.work_item_facts(tx, end=end)
                business = {t.posting_date for t in timings}
    return operations(
        timings,
        received,
        items,
        _reconciled(db, business, request),
        start=start,
        end=end,
        by=by,
        now=request.now,
        sla=_sla(config, request.sla_seconds),
    )


def _range(db: Database, request: Request) -> tuple[date, date]:
    """The dates asked for; a missing end is the last date held, a missing start the first."""
    with db.reading() as tx:
        business, traffic = views.spans(tx)
    held = traffic if request.name == "operations" else business
    today = request.now.date()
    start = request.start or (held[0] if held else today)
    end = request.end or (held[1] if held else today)
    if start > end:
        raise InputError(f"--from {start.isoformat()} is after --to {end.isoformat()}")
    return start, end


def _payer(sent: str, payer_class: str, config: Configuration | None) -> tuple[str, str]:
    """The payer's code and class in master data; the id as sent when it is not mapped."""
    if config is None:
        return sent, payer_class
    found = config.payer(sent, SourceRef())
    if isinstance(found, Problem):
        return sent, payer_class
    return found.code, payer_class or found.payer_class


def _named(claims: tuple[Adjudicated, ...], config: Configuration | None) -> tuple[Adjudicated, ...]:
    named = []
    for a in claims:
        code, payer_class = _payer(a.payer, a.payer_class, config)
        named.append(
            replace(a, payer=code, payer_class=payer_class, adjustments=_classified(a.adjustments, config))
        )
    return tuple(named)


def _classified(triples: tuple[CasTriple, ...], config: Configuration | None) -> tuple[CasTriple, ...]:
    if config is None:
        return triples
    found = []
    for t in triples:
        category = config.carc(t.group, t.reason, SourceRef())
        role = None if isinstance(category, Problem) or category.role is None else category.role.value
        found.append(replace(t, role=role))
    return tuple(found)


def _sla(config: Configuration | None, seconds: float) -> dict[str, float]:
    window = config.master.posting.batch_window.max_age.total_seconds() if config is not None else 0.0
    return {"realtime": seconds, "batch": seconds + window}


def _reconciled(db: Database, days: set[date], request: Request) -> tuple[DayStatus, ...]:
    found = []
    for day in sorted(days)[-MAX_RECONCILED_DAYS:]:
        found_report = reconciliation(db, day=day, now=request.now, connector_for=request.connector_for)
        found.append(DayStatus(day=day, ties=found_report.ties, breaks=len(found_report.breaks)))
    return tuple(found)


__all__ = ["REPORTS", "Request", "run"]
