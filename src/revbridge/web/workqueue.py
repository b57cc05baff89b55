"""The work queue page (``/workqueue``): a face over ``revbridge.workqueue``.

It parses the request, calls the work queue and renders; it decides nothing about work items.
Reading needs ``read``; every change (assign, resolve, ignore, retry, replay after a fix) needs
``operate`` and is a POST form with the session's CSRF token, then the page redirects back to
the list it came from (post/redirect/get), so a reload never repeats an action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from revbridge import workqueue
from revbridge.bootstrap import Runtime
from revbridge.core.errors import InputError
from revbridge.http.permissions import requires
from revbridge.http.state import principal_of, runtime_of
from revbridge.security.roles import Permission
from revbridge.web import session
from revbridge.web.rendering import age as time_since
from revbridge.web.rendering import render

router = APIRouter(tags=["workbench"], include_in_schema=False)

AGES = {"": None, "1d": timedelta(days=1), "3d": timedelta(days=3), "7d": timedelta(days=7)}
UNASSIGNED = "(unassigned)"
EXPIRED = "The form had expired or did not come from this site. Please try again."
LIMIT = 500
NOTICES = {
    "assigned": "{n} work item(s) assigned.",
    "resolved": "{n} work item(s) resolved.",
    "ignored": "{n} work item(s) ignored.",
    "retried": "{n} work item(s) put back for retry.",
    "replayed": "{n} message(s) replayed; {cleared} work item(s) cleared by the replay.",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    status: str = workqueue.OPEN
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

    def selection(self) -> workqueue.Selection:
        return workqueue.Selection(
            status=self.status if self.status in workqueue.STATUSES else None,
            code=self.code or None,
            facility=self.facility or None,
            assignee=self.assignee or None,
            unassigned=self.assignee == UNASSIGNED,
            older_than=AGES.get(self.age),
        )


@router.get("/workqueue")
@requires(Permission.READ)
def workqueue_page(
    request: Request,
    status: str = Query(workqueue.OPEN, pattern="^(open|resolved|ignored|all)$"),
    code: str = Query("", max_length=64),
    facility: str = Query("", max_length=128),
    age: str = Query("", pattern="^(|1d|3d|7d)$"),
    assignee: str = Query("", max_length=128),
    notice: str = Query("", max_length=16),
    n: int = Query(0, ge=0),
    cleared: int = Query(0, ge=0),
) -> Response:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    f = Filters(status=status, code=code, facility=facility, age=age, assignee=assignee)
    items = workqueue.find(runtime.db, f.selection(), now=now, limit=LIMIT + 1)
    context = {
        "filters": f,
        "items": items[:LIMIT],
        "more": len(items) > LIMIT,
        "ages": {i.id: time_since(i.created_at, now) for i in items[:LIMIT]},
        "choices": workqueue.choices(runtime.db),
        "unassigned": UNASSIGNED,
        "back": f"/workqueue?{f.query()}",
    }
    shown = NOTICES.get(notice, "").format(n=n, cleared=cleared)
    return render(request, "workqueue.html", context, title="Work queue", active="workqueue", notice=shown)


def _back(target: str) -> str:
    return target if target.startswith("/workqueue") else "/workqueue"


def _with(back: str, **params: object) -> str:
    sep = "&" if "?" in back else "?"
    return f"{back}{sep}{urlencode(params)}"


def _refuse(request: Request, message: str, status: int) -> Response:
    return render(
        request, "message.html", {"back": "/workqueue"}, title="Work queue", status=status, error=message
    )


def _replay(
    runtime: Runtime, actor: str, *, items: list[int] | None = None, code: str = ""
) -> workqueue.ReplayReport:
    replayer = runtime.replayer()
    if items is not None:
        report = workqueue.replay_items(runtime.db, replayer, items, actor=actor)
    else:
        report = workqueue.replay_code(runtime.db, replayer, code, actor=actor)
    if runtime.posting is not None:  # what the replays left waiting or in due windows goes on now
        runtime.posting.tick()
    return report


@router.post("/workqueue/actions")
@requires(Permission.OPERATE)
def workqueue_action(
    request: Request,
    csrf: str = Form(""),
    action: str = Form(..., pattern="^(assign|assign_me|resolve|ignore|retry|replay)$"),
    item: list[int] = Form(default_factory=list),
    assignee: str = Form("", max_length=128),
    reason: str = Form("", max_length=2000),
    back: str = Form("/workqueue", max_length=1024),
) -> Response:
    if not session.csrf_ok(request, csrf):
        return _refuse(request, EXPIRED, 400)
    if not item:
        return _refuse(request, "Select at least one work item first.", 422)
    runtime = runtime_of(request)
    who = principal_of(request)
    actor = session.actor(who)
    anchor = runtime.settings.resolved_audit_anchor
    try:
        match action:
            case "assign" | "assign_me":
                name = who.name if action == "assign_me" else assignee.strip()
                n = workqueue.assign(
                    runtime.db, runtime.clock, item, assignee=name or None, actor=actor, anchor=anchor
                )
                notice = {"notice": "assigned", "n": n}
            case "resolve" | "ignore":
                close = workqueue.resolve if action == "resolve" else workqueue.ignore
                n = close(runtime.db, runtime.clock, item, reason=reason, actor=actor, anchor=anchor)
                notice = {"notice": f"{action}d", "n": n}
            case "retry":
                retried = workqueue.retry(runtime.db, runtime.clock, item, actor=actor, anchor=anchor)
                notice = {"notice": "retried", "n": len(retried.items)}
            case _:
                report = _replay(runtime, actor, items=item)
                if not report.messages:
                    return _refuse(request, "The selected work items name no message to replay.", 422)
                notice = {"notice": "replayed", "n": report.messages, "cleared": report.cleared}
    except InputError as exc:
        return _refuse(request, str(exc), 409)
    return RedirectResponse(_with(_back(back), **notice), status_code=303)


@router.post("/workqueue/replay")
@requires(Permission.OPERATE)
def workqueue_replay_code(
    request: Request,
    csrf: str = Form(""),
    code: str = Form(..., min_length=1, max_length=64),
    back: str = Form("/workqueue", max_length=1024),
) -> Response:
    if not session.csrf_ok(request, csrf):
        return _refuse(request, EXPIRED, 400)
    runtime = runtime_of(request)
    try:
        report = _replay(runtime, session.actor(principal_of(request)), code=code)
    except InputError as exc:
        return _refuse(request, str(exc), 409)
    return RedirectResponse(
        _with(_back(back), notice="replayed", n=report.messages, cleared=report.cleared), status_code=303
    )
