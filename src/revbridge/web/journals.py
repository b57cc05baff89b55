"""Journals (``/journals``): search, one journal, and the events behind one of its lines.

The search lists journals newest first, each described by what it was built from (a remittance's
payer and check/EFT number, a batch's window: ``store/views/journal_sources.py``, PHI-free), with
its debit and credit totals and those of everything the filters match, filterable by source kind
and payer as well as status, legal entity, lane, posting dates and account.

A realtime journal is one source document; a batch journal is a micro-batch summary whose lines
add up many events (a day's charges for a cost centre). The drill-down from a summary line reads
the subledger rows linked to it (``event_lines.journal_line_id``), so every figure in the ERP can
be traced to the events, and from there to the messages, behind it.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from revbridge.core.errors import InputError
from revbridge.core.money import Money
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.security.roles import Permission
from revbridge.store import journals
from revbridge.store.database import Database
from revbridge.store.views import journal_sources as sources
from revbridge.store.views import journals as journal_views
from revbridge.store.views.journal_sources import Source
from revbridge.web.rendering import render

router = APIRouter(tags=["workbench"], include_in_schema=False)

PAGE = 100
JournalId = Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.:-]+$")


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise InputError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _ids(*narrowing: tuple[str, ...] | None) -> list[str] | None:
    """The ids every given id filter allows; None when none narrows."""
    given = [set(ids) for ids in narrowing if ids is not None]
    if not given:
        return None
    return sorted(set.intersection(*given))


def _window(source: Source) -> str:
    opened, closed = source.window_opened, source.window_closed
    if opened is None:
        return "of unknown times"
    if closed is None:
        return f"{opened:%Y-%m-%d %H:%M} (still open)"
    if closed.date() != opened.date():
        return f"{opened:%Y-%m-%d %H:%M} to {closed:%Y-%m-%d %H:%M}"
    return f"{opened:%Y-%m-%d %H:%M}-{closed:%H:%M}"


def describe(source: Source | None, lane: str) -> str:
    """One PHI-free line saying what a journal was built from, for people looking for it."""
    if source is None:
        return f"{lane} journal (its source is no longer stored)"
    if source.kind == sources.BATCH:
        lines = f"{source.window_lines} subledger line" + ("" if source.window_lines == 1 else "s")
        return f"Batch window {_window(source)} UTC, {lines}"
    if source.kind == sources.REMITTANCE:
        payer = source.payer_name or (f"payer {source.payer_id}" if source.payer_id else "unknown payer")
        paid = " ".join(part for part in (source.method, source.trace) if part)
        return f"Remittance from {payer}" + (f", {paid}" if paid else " (claim responses, no payment)")
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", source.kind).lower()
    return words[:1].upper() + words[1:] + (f", {source.method}" if source.method else "")


@router.get("/journals")
@requires(Permission.READ)
def journals_page(
    request: Request,
    status: str = Query("", pattern="^(|staged|submitting|accepted|posted|failed)$"),
    legal_entity: str = Query("", max_length=32),
    lane: str = Query("", pattern="^(|realtime|batch)$"),
    date_from: str = Query("", max_length=10),
    date_to: str = Query("", max_length=10),
    account: str = Query("", max_length=64),
    kind: str = Query("", max_length=40, pattern=r"^[A-Za-z]*$"),
    payer: str = Query("", max_length=128),
    page: int = Query(1, ge=1, le=10_000),
) -> Response:
    runtime = runtime_of(request)
    filters = {
        "status": status,
        "legal_entity": legal_entity,
        "lane": lane,
        "date_from": date_from,
        "date_to": date_to,
        "account": account,
        "kind": kind,
        "payer": payer,
    }
    error = ""
    context: dict[str, object] = {"journals": [], "more": False, "total_count": 0, "totals": ()}
    try:
        context |= _found(runtime.db, filters, page)
    except InputError as exc:
        error = str(exc)
    context |= {
        "filters": filters,
        "entities": journal_views.legal_entities(runtime.db),
        "kinds": sources.kinds(runtime.db),
        "payers": sources.payers(runtime.db),
        "page": page,
        "query": urlencode([(k, v) for k, v in filters.items() if v]),
    }
    return render(
        request,
        "journals.html",
        context,
        title="Journals",
        active="journals",
        error=error,
        status=422 if error else 200,
    )


def _found(db: Database, filters: dict[str, str], page: int) -> dict[str, object]:
    """One page of the journals passing ``filters``, newest first, each with its source's
    description and its debit and credit totals, and the totals of everything that passes."""
    account, kind, payer = filters["account"], filters["kind"], filters["payer"]
    ids = _ids(
        journal_views.with_account(db, account) if account else None,
        sources.with_source(db, kind=kind, payer=payer) if kind or payer else None,
    )
    search = journals.Filters(
        status=filters["status"] or None,
        legal_entity=filters["legal_entity"] or None,
        lane=filters["lane"] or None,
        date_from=_date(filters["date_from"]),
        date_to=_date(filters["date_to"]),
        ids=ids,
    )
    found = journals.list_journals(
        db, limit=PAGE + 1, offset=(page - 1) * PAGE, newest_first=True, event_keys=False, **search
    )
    shown = found[:PAGE]
    described = sources.describe(
        db, ((s.journal.id, s.journal.lane.value, s.journal.reference) for s in shown)
    )
    count, totals = sources.totals(db, **search)
    rows = [
        {
            "stored": s,
            "description": describe(described.get(s.journal.id), s.journal.lane.value),
            "totals": [(s.journal.total_debits(c), s.journal.total_credits(c)) for c in s.journal.currencies],
        }
        for s in shown
    ]
    return {
        "journals": rows,
        "more": len(found) > PAGE,
        "total_count": count,
        "totals": [
            (Money.from_minor(t.debit_minor, t.currency), Money.from_minor(t.credit_minor, t.currency))
            for t in totals
        ],
    }


@router.get("/journals/{journal_id}")
@requires(Permission.READ)
def journal_page(request: Request, journal_id: str = JournalId) -> Response:
    runtime = runtime_of(request)
    stored = journals.get(runtime.db, journal_id)
    if stored is None:
        return render(
            request,
            "message.html",
            {"back": "/journals"},
            title="Journal",
            status=404,
            error=f"No journal {journal_id}.",
        )
    context = {"stored": stored, "lines": journal_views.lines(runtime.db, journal_id)}
    return render(request, "journal.html", context, title=f"Journal {journal_id}", active="journals")


@router.get("/journals/{journal_id}/lines/{line_id}")
@requires(Permission.READ)
def journal_line_page(request: Request, line_id: int, journal_id: str = JournalId) -> Response:
    runtime = runtime_of(request)
    found = journal_views.line_behind(runtime.db, journal_id, line_id)
    if found is None:
        return render(
            request,
            "message.html",
            {"back": f"/journals/{journal_id}"},
            title="Journal line",
            status=404,
            error=f"Journal {journal_id} has no line {line_id}.",
        )
    context = {"journal_id": journal_id, "line": found.line, "behind": found.contributions}
    return render(
        request,
        "journal_line.html",
        context,
        title=f"Line {found.line.line_no} of journal {journal_id}",
        active="journals",
    )
