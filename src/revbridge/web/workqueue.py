"""The work queue (``/workqueue``): every problem, filtered, assigned, resolved, ignored, replayed.

Reading needs ``read``; every change needs ``operate`` and is a POST form with the session's
CSRF token. Changes go through the same audited services as the API and CLI
(``pipeline.actions`` for assign/resolve/ignore, the runtime's replayer for replay), then the
page redirects back to the list it came from (post/redirect/get), so a reload never repeats an
action. Bulk replay after a fix takes the messages behind the selected items, or every message
with an open item of one code; replay is a diff, so replaying a message twice posts nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from revbridge.bootstrap import Runtime
from revbridge.core.errors import InputError
from revbridge.http.permissions import requires
from revbridge.http.state import principal_of, runtime_of
from revbridge.pipeline import actions
from revbridge.pipeline.replay import select_messages
from revbridge.security.roles import Permission
from revbridge.store import workitems
from revbridge.store.workitems import WorkItem
from revbridge.web import session
from revbridge.web.rendering import age, render

router = APIRouter(tags=["workbench"], include_in_schema=False)

AGES = {"": None, "1d": timedelta(days=1), "3d": timedelta(days=3), "7d": timedelta(days=7)}
UNASSIGNED = "(unassigned)"
LIMIT = 500
NOTICES = {
    "assigned": "{n} work item(s) assigned.",
    "resolved": "{n} work item(s) resolved.",
    "ignored": "{n} work item(s) ignored.",
    "replayed": "{n} message(s) replayed; {cleared} work item(s) cleared by the replay.",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    status: str = workitems.OPEN
    code: str = ""
    facility: str = ""
    age: str = ""
    assignee: str = ""

    def query(self) -> str:
        pairs = (
            ("status", self.status),
            ("code", self.code),
            ("facility", self.facility),
            ("age", self.age),
            ("assignee", self.assignee),
        )
        return urlencode([(k, v) for k, v in pairs if v])


def _items(rt: Runtime, f: Filters, now: datetime) -> list[WorkItem]:
    span = AGES.get(f.age)
    found = workitems.list_items(
        rt.db,
        status=f.status if f.status in workitems.STATUSES else None,
        code=f.code or None,
        facility=f.facility or None,
        assignee=f.assignee if f.assignee and f.assignee != UNASSIGNED else None,
        older_than=now - span if span is not None else None,
        limit=LIMIT + 1,
    )
    if f.assignee == UNASSIGNED:
        found = [i for i in found if not i.assignee]
    return found


def _choices(rt: Runtime) -> dict[str, list[str]]:
    """The values the filter lists offer: what open items carry now."""
    open_items = workitems.list_items(rt.db, status=workitems.OPEN, limit=20_000)
    return {
        "codes": sorted({i.code for i in open_items}),
        "facilities": sorted({i.facility for i in open_items if i.facility}),
        "assignees": sorted({i.assignee for i in open_items if i.assignee}),
    }


@router.get("/workqueue")
@requires(Permission.READ)
def workqueue_page(
    request: Request,
    status: str = Query(workitems.OPEN, pattern="^(open|resolved|ignored|all)$"),
    code: str = Query("", max_length=64),
    facility: str = Query("", max_length=128),
    age: str = Query("", pattern="^(|1d|3d|7d)$"),
    assignee: str = Query("", max_length=128),
    notice: str = Query("", max_length=16),
    n: int = Query(0, ge=0),
    cleared: int = Query(0, ge=0),
) -> Response:
    rt = runtime_of(request)
    now = rt.clock.now()
    f = Filters(status=status, code=code, facility=facility, age=age, assignee=assignee)
    items = _items(rt, f, now)
    context = {
        "filters": f,
        "items": items[:LIMIT],
        "more": len(items) > LIMIT,
        "ages": {i.id: _age(i, now) for i in items[:LIMIT]},
        "choices": _choices(rt),
        "unassigned": UNASSIGNED,
        "back": f"/workqueue?{f.query()}",
    }
    shown = NOTICES.get(notice, "").format(n=n, cleared=cleared)
    return render(request, "workqueue.html", context, title="Work queue", active="workqueue", notice=shown)


def _age(item: WorkItem, now: datetime) -> str:
    return age(item.created_at, now)


def _back(target: str) -> str:
    return target if target.startswith("/workqueue") else "/workqueue"


def _with(back: str, **params: object) -> str:
    sep = "&" if "?" in back else "?"
    return f"{back}{sep}{urlencode(params)}"


def _refuse(request: Request, message: str, status: int) -> Response:
    return render(
        request, "message.html", {"back": "/workqueue"}, title="Work queue", status=status, error=message
    )


def _replay(rt: Runtime, message_ids: list[str], actor: str) -> tuple[int, int]:
    """(messages replayed, work items the replay resolved)."""
    replayer = rt.replayer()
    before = {i.id for i in workitems.list_items(rt.db, status=workitems.OPEN, limit=100_000)}
    for message_id in message_ids:
        replayer.replay(message_id, actor=actor)
    if rt.posting is not None:
        rt.posting.tick()
    after = {i.id for i in workitems.list_items(rt.db, status=workitems.OPEN, limit=100_000)}
    return len(message_ids), len(before - after)


@router.post("/workqueue/actions")
@requires(Permission.OPERATE)
def workqueue_action(
    request: Request,
    csrf: str = Form(""),
    action: str = Form(..., pattern="^(assign|assign_me|resolve|ignore|replay)$"),
    item: list[int] = Form(default_factory=list),
    assignee: str = Form("", max_length=128),
    reason: str = Form("", max_length=2000),
    back: str = Form("/workqueue", max_length=1024),
) -> Response:
    if not session.csrf_ok(request, csrf):
        return _refuse(request, "The form had expired or did not come from this site. Please try again.", 400)
    rt = runtime_of(request)
    who = principal_of(request)
    actor = session.actor(who)
    anchor = rt.settings.resolved_audit_anchor
    target = _back(back)
    if not item:
        return _refuse(request, "Select at least one work item first.", 422)
    try:
        match action:
            case "assign" | "assign_me":
                name = who.name if action == "assign_me" else assignee.strip()
                changed = actions.assign_items(
                    rt.db, rt.clock, item, assignee=name or None, actor=actor, anchor=anchor
                )
                return RedirectResponse(_with(target, notice="assigned", n=changed), status_code=303)
            case "resolve" | "ignore":
                status = workitems.RESOLVED if action == "resolve" else workitems.IGNORED
                changed = actions.close_items(
                    rt.db, rt.clock, item, status=status, actor=actor, reason=reason, anchor=anchor
                )
                return RedirectResponse(_with(target, notice=status, n=changed), status_code=303)
            case _:
                chosen = [workitems.get(rt.db, i) for i in item]
                ids = sorted({i.message_id for i in chosen if i is not None and i.message_id})
                if not ids:
                    return _refuse(request, "The selected work items name no message to replay.", 422)
                replayed, cleared = _replay(rt, select_messages(rt.db, message_ids=ids), actor)
                return RedirectResponse(
                    _with(target, notice="replayed", n=replayed, cleared=cleared), status_code=303
                )
    except InputError as exc:
        return _refuse(request, str(exc), 409)


@router.post("/workqueue/replay")
@requires(Permission.OPERATE)
def workqueue_replay_code(
    request: Request,
    csrf: str = Form(""),
    code: str = Form(..., min_length=1, max_length=64),
    back: str = Form("/workqueue", max_length=1024),
) -> Response:
    if not session.csrf_ok(request, csrf):
        return _refuse(request, "The form had expired or did not come from this site. Please try again.", 400)
    rt = runtime_of(request)
    actor = session.actor(principal_of(request))
    try:
        ids = select_messages(rt.db, exception_code=code)
        replayed, cleared = _replay(rt, ids, actor)
    except InputError as exc:
        return _refuse(request, str(exc), 409)
    return RedirectResponse(
        _with(_back(back), notice="replayed", n=replayed, cleared=cleared), status_code=303
    )
