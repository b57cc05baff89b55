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
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from revbridge.core.errors import InputError
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.security.roles import Permission
from revbridge.store import journals
from revbridge.store.schema import event_lines, events, journal_lines
from revbridge.store.schema import journals as journal_table
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
    status: str = Query("", pattern="^(|staged|submitting|posted|failed)$"),
    legal_entity: str = Query("", max_length=32),
    lane: str = Query("", pattern="^(|realtime|batch)$"),
    date_from: str = Query("", max_length=10),
    date_to: str = Query("", max_length=10),
    account: str = Query("", max_length=64),
    page: int = Query(1, ge=1, le=10_000),
) -> Response:
    rt = runtime_of(request)
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
    with rt.db.reading() as conn:
        entities = [
            e
            for (e,) in conn.execute(
                select(journal_table.c.legal_entity).distinct().order_by(journal_table.c.legal_entity)
            )
        ]
        ids = None
        if account:
            ids = [
                j
                for (j,) in conn.execute(
                    select(journal_lines.c.journal_id).distinct().where(journal_lines.c.account == account)
                )
            ]
    try:
        found = journals.list_journals(
            rt.db,
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
    rt = runtime_of(request)
    stored = journals.get(rt.db, journal_id)
    if stored is None:
        return render(
            request,
            "message.html",
            {"back": "/journals"},
            title="Journal",
            status=404,
            error=f"No journal {journal_id}.",
        )
    with rt.db.reading() as conn:
        lines = conn.execute(
            select(journal_lines)
            .where(journal_lines.c.journal_id == journal_id)
            .order_by(journal_lines.c.line_no)
        ).all()
        per_line = {
            int(line_id): int(n)
            for line_id, n in conn.execute(
                select(event_lines.c.journal_line_id, func.count())
                .where(event_lines.c.journal_id == journal_id, event_lines.c.journal_line_id.is_not(None))
                .group_by(event_lines.c.journal_line_id)
            )
        }
    context = {"stored": stored, "lines": lines, "events_per_line": per_line}
    return render(request, "journal.html", context, title=f"Journal {journal_id}", active="journals")


@router.get("/journals/{journal_id}/lines/{line_id}")
@requires(Permission.READ)
def journal_line_page(request: Request, line_id: int, journal_id: str = JournalId) -> Response:
    rt = runtime_of(request)
    with rt.db.reading() as conn:
        line = conn.execute(
            select(journal_lines).where(
                journal_lines.c.id == line_id, journal_lines.c.journal_id == journal_id
            )
        ).first()
        behind = conn.execute(
            select(event_lines, events.c.kind, events.c.message_id, events.c.occurred_on)
            .join(events, events.c.key == event_lines.c.event_key)
            .where(event_lines.c.journal_line_id == line_id)
            .order_by(event_lines.c.id)
        ).all()
    if line is None:
        return render(
            request,
            "message.html",
            {"back": f"/journals/{journal_id}"},
            title="Journal line",
            status=404,
            error=f"Journal {journal_id} has no line {line_id}.",
        )
    context = {"journal_id": journal_id, "line": line, "behind": behind}
    return render(
        request,
        "journal_line.html",
        context,
        title=f"Line {line.line_no} of journal {journal_id}",
        active="journals",
    )
