"""Journals (``/journals``): search, one journal, and the events behind one of its lines.

A realtime journal is one source document; a batch journal is a micro-batch summary whose lines
add up many events (a day's charges for a cost centre). The drill-down from a summary line reads
the subledger rows linked to it (``event_lines.journal_line_id``), so every figure in the ERP can
be traced to the events, and from there to the messages, behind it.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from revbridge.core.errors import InputError
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.security.roles import Permission
from revbridge.store import journals
from revbridge.store.views import journals as journal_views
from revbridge.web.rendering import render

router = APIRouter(tags=["workbench"], include_in_schema=False)

PAGE = 100
JournalId = Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.:-]+$")


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise InputError(f"{text!r} is not a date (YYYY-MM-DD)") from None


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
    }
    error = ""
    found: list[journals.StoredJournal] = []
    entities = journal_views.legal_entities(runtime.db)
    ids = list(journal_views.with_account(runtime.db, account)) if account else None
    try:
        found = journals.list_journals(
            runtime.db,
            status=status or None,
            legal_entity=legal_entity or None,
            lane=lane or None,
            date_from=_date(date_from),
            date_to=_date(date_to),
            ids=ids,
            limit=PAGE + 1,
            offset=(page - 1) * PAGE,
        )
    except InputError as exc:
        error = str(exc)
    query = urlencode([(k, v) for k, v in filters.items() if v])
    context = {
        "filters": filters,
        "entities": entities,
        "journals": found[:PAGE],
        "page": page,
        "more": len(found) > PAGE,
        "query": query,
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
