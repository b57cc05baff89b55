"""Lineage (``/messages/{id}``): a message, its events, their journal lines and the ERP document.

Anyone with ``read`` sees the metadata: what arrived when and where, its state, the events it
produced with the place in the message each came from (its locator), the subledger lines each
event booked, the journal each line went into and the ERP document that journal became, and the
work items it opened. Nobody sees patient data here. The raw message, with the located segment
or element marked, is a separate page (``/messages/{id}/raw``) that needs ``phi.read``: it goes
through the disclosure both HTTP faces share (``revbridge.http.disclosure``), which audits the view
(``phi.view``) before returning any byte. What the page shows is read by
``revbridge.store.views.lineage``, the same reader as the API's message view.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from revbridge.bootstrap import Runtime
from revbridge.http.disclosure import disclose
from revbridge.http.permissions import requires
from revbridge.http.state import principal_of, runtime_of
from revbridge.security.roles import Permission
from revbridge.store import journals, workitems
from revbridge.store.journals import StoredJournal
from revbridge.store.views import lineage
from revbridge.store.views.lineage import BookedLine, MessageFacts
from revbridge.store.workitems import WorkItem
from revbridge.web import highlight
from revbridge.web.rendering import render

router = APIRouter(tags=["workbench"], include_in_schema=False)

MessageId = Path(min_length=1, max_length=36, pattern=r"^[0-9A-Za-z-]+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class EventView:
    key: str
    kind: str
    state: str
    occurred_on: str
    facility: str
    locator: str
    amount_minor: int | None
    currency: str
    lines: tuple[BookedLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Lineage:
    message: MessageFacts
    events: tuple[EventView, ...]
    journals: dict[str, StoredJournal]
    items: tuple[WorkItem, ...]
    locators: tuple[str, ...]  # every place in the message something points at, items first


def _lineage(runtime: Runtime, message_id: str) -> Lineage | None:
    with runtime.db.reading() as tx:
        found = lineage.produced(tx, message_id)
        if found is None:
            return None
        lines = lineage.booked(tx, [e.key for e in found.events])
    booked: dict[str, list[BookedLine]] = {}
    for line in lines:
        booked.setdefault(line.event_key, []).append(line)
    journal_ids = sorted({line.journal_id for line in lines if line.journal_id})
    shown = (
        {j.journal.id: j for j in journals.list_journals(runtime.db, ids=journal_ids)} if journal_ids else {}
    )
    items = tuple(workitems.list_items(runtime.db, status=None, message_id=message_id))
    views = tuple(
        EventView(
            key=e.key,
            kind=e.kind,
            state=e.state,
            occurred_on=e.occurred_on.isoformat(),
            facility=e.facility,
            locator=e.locator,
            amount_minor=e.amount_minor,
            currency=e.currency or "USD",
            lines=tuple(booked.get(e.key, [])),
        )
        for e in found.events
    )
    places = [i.locator for i in items] + [v.locator for v in views]
    locators = tuple(dict.fromkeys(p for p in places if p and p != "(message)"))
    return Lineage(message=found.message, events=views, journals=shown, items=items, locators=locators)


@router.get("/messages/{message_id}")
@requires(Permission.READ)
def lineage_page(
    request: Request,
    message_id: str = MessageId,
    item: int | None = Query(None),
    event: str = Query("", max_length=512),
) -> Response:
    runtime = runtime_of(request)
    found = _lineage(runtime, message_id)
    if found is None:
        return _missing(request, message_id)
    context = {"lineage": found, "focus_item": item, "focus_event": event}
    return render(request, "lineage.html", context, title=f"Message {message_id}", active="workqueue")


def _missing(request: Request, message_id: str) -> Response:
    context = {"back": "/workqueue"}
    return render(
        request, "message.html", context, title="Lineage", status=404, error=f"No message {message_id}."
    )


@router.get("/messages/{message_id}/raw")
@requires(Permission.PHI_READ)
async def raw_page(
    request: Request,
    message_id: str = MessageId,
    at: str = Query("", max_length=256),
    reason: str = Query("", max_length=200),
) -> Response:
    """The raw message with ``at`` marked. Contains PHI: the disclosure is audited first."""
    runtime = runtime_of(request)
    found = await anyio.to_thread.run_sync(_lineage, runtime, message_id)
    if found is None:
        return _missing(request, message_id)
    try:
        data, _media = await anyio.to_thread.run_sync(
            disclose, runtime, principal_of(request), message_id, reason
        )
    except HTTPException as exc:
        back = {"back": f"/messages/{message_id}"}
        return render(
            request,
            "message.html",
            back,
            title="Raw message",
            status=exc.status_code,
            error=str(exc.detail),
        )
    locator = at or (found.locators[0] if found.locators else "")
    shown = highlight.layout(found.message.format, data, locator)
    context = {"lineage": found, "layout": shown, "at": locator}
    return render(request, "raw.html", context, title=f"Raw message {message_id}", active="workqueue")
