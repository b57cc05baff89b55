"""Configuration (``/config``): versions, differences, proposals, the what-if, and approval.

A steward proposes a change by uploading or pasting one changed YAML file; the other files come
from the version in effect, and the whole is validated exactly as ``revbridge config validate``
validates a directory, so errors carry the file and line. A proposal is never effective by
itself: an approver who is not its proposer (maker-checker, enforced by ``store.configs``)
approves or rejects it, after reading the line-by-line difference and the what-if (the proposal
replayed over the last N days of events, read-only, as the difference it makes per account).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

import anyio.to_thread
import yaml
from fastapi import APIRouter, File, Form, Query, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from revbridge.bootstrap import Runtime
from revbridge.core.errors import InputError
from revbridge.http.permissions import requires
from revbridge.http.state import principal_of, runtime_of
from revbridge.masterdata.changes import diff
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.loader import FILES, load_texts
from revbridge.masterdata.serialisation import to_documents
from revbridge.pipeline import whatif
from revbridge.security.roles import Permission
from revbridge.store import configs
from revbridge.web import page_cache, session
from revbridge.web.rendering import render

router = APIRouter(tags=["workbench"], include_in_schema=False)

MAX_UPLOAD = 2 * 1024 * 1024
NOTICES = {
    "approved": "Version {n} approved. Replay the messages whose work items it fixes from the work queue.",
    "rejected": "Version {n} rejected.",
    "proposed": "Version {n} proposed. Another person with the approver role must approve it.",
}


def _current(runtime: Runtime) -> int | None:
    with runtime.db.reading() as conn:
        return configs.current_number(conn, runtime.clock.now().date())


def file_text(config: Configuration, name: str) -> str:
    """One configuration file of a version as YAML a steward can edit (comments are not kept)."""
    return yaml.safe_dump(to_documents(config)[name], sort_keys=False, allow_unicode=True, width=100)


def _versions(runtime: Runtime) -> list[configs.Version]:
    return list(reversed(configs.versions(runtime.db)))


@router.get("/config")
@requires(Permission.READ)
def config_page(
    request: Request,
    a: int | None = Query(None, ge=1),
    b: int | None = Query(None, ge=1),
) -> Response:
    runtime = runtime_of(request)
    versions = _versions(runtime)
    current = _current(runtime)
    changes: tuple[str, ...] | None = None
    error = ""
    if a is not None and b is not None:
        try:
            changes = diff(page_cache.configuration(request, a), page_cache.configuration(request, b))
        except InputError as exc:
            error = str(exc)
    context = {"versions": versions, "current": current, "a": a, "b": b, "changes": changes, "files": FILES}
    return render(request, "config.html", context, title="Configuration", active="config", error=error)


def _propose_form(
    request: Request, *, file: str, text: str, errors: list[str], note: str, effective: str, status: int
) -> Response:
    context = {
        "files": FILES,
        "file": file,
        "text": text,
        "errors": errors,
        "note": note,
        "effective": effective,
        "current": _current(runtime_of(request)),
    }
    message = f"{len(errors)} error(s): nothing was proposed." if errors else ""
    return render(
        request,
        "config_propose.html",
        context,
        title="Propose a configuration change",
        active="config",
        status=status,
        error=message,
    )


@router.get("/config/propose")
@requires(Permission.CONFIG_PROPOSE)
def propose_page(request: Request, file: str = Query("payers.yaml", max_length=64)) -> Response:
    runtime = runtime_of(request)
    name = file if file in FILES else FILES[0]
    current = _current(runtime)
    text = file_text(page_cache.configuration(request, current), name) if current is not None else ""
    today = runtime.clock.now().date().isoformat()
    return _propose_form(request, file=name, text=text, errors=[], note="", effective=today, status=200)


@router.post("/config/propose")
@requires(Permission.CONFIG_PROPOSE)
async def propose(
    request: Request,
    csrf: str = Form(""),
    file: str = Form(..., max_length=64),
    text: str = Form("", max_length=MAX_UPLOAD),
    upload: UploadFile | None = File(None),
    effective_from: str = Form("", max_length=10),
    note: str = Form("", max_length=2000),
) -> Response:
    if not session.csrf_ok(request, csrf):
        context = {"back": "/config"}
        message = "The form had expired or did not come from this site. Please try again."
        return render(request, "message.html", context, title="Configuration", status=400, error=message)
    if upload is not None and upload.filename:
        raw = await upload.read(MAX_UPLOAD + 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if len(raw) > MAX_UPLOAD or not text:
            return _propose_form(
                request,
                file=file,
                text="",
                errors=[f"{upload.filename}: not a UTF-8 YAML file of at most {MAX_UPLOAD} bytes"],
                note=note,
                effective=effective_from,
                status=422,
            )
    submit = partial(_submit, request, file=file, text=text, effective_from=effective_from, note=note)
    return await anyio.to_thread.run_sync(submit)


def _submit(request: Request, *, file: str, text: str, effective_from: str, note: str) -> Response:
    runtime = runtime_of(request)

    def refuse(*errors: str) -> Response:
        return _propose_form(
            request,
            file=file,
            text=text,
            errors=list(errors),
            note=note,
            effective=effective_from,
            status=422,
        )

    if file not in FILES:
        return refuse(f"{file}: not a configuration file (one of {', '.join(FILES)})")
    try:
        effective = date.fromisoformat(effective_from) if effective_from else runtime.clock.now().date()
    except ValueError:
        return refuse(f"effective from: {effective_from!r} is not a date (YYYY-MM-DD)")
    number = _current(runtime)
    if number is None:
        return refuse(
            "there is no configuration in effect to change: apply one with `revbridge config apply`"
        )
    base = page_cache.configuration(request, number)
    texts = {name: file_text(base, name) for name in FILES} | {file: text}
    config, errors = load_texts(texts)
    if config is None:
        return refuse(*(str(e) for e in errors))
    if not diff(base, config):
        return refuse(f"{file}: no change from version {number}")
    version = configs.propose(
        runtime.db,
        config,
        effective_from=effective,
        actor=session.actor(principal_of(request)),
        note=note,
        source=f"workbench: {file}",
        now=runtime.clock.now(),
        approve=False,
        anchor=runtime.settings.resolved_audit_anchor,
    )
    return RedirectResponse(f"/config/versions/{version.version}?notice=proposed", status_code=303)


@router.get("/config/versions/{number}")
@requires(Permission.READ)
def version_page(
    request: Request,
    number: int,
    days: int = Query(30, ge=1, le=366),
    notice: str = Query("", max_length=16),
) -> Response:
    runtime = runtime_of(request)
    found = {v.version: v for v in configs.versions(runtime.db)}
    version = found.get(number)
    if version is None:
        back = {"back": "/config"}
        return render(
            request, "message.html", back, title="Configuration", status=404, error=f"No version {number}."
        )
    current = _current(runtime)
    context: dict[str, Any] = {
        "version": version,
        "current": current,
        "days": days,
        "preview": None,
        "changes": None,
    }
    if current is not None and current != number:
        base, proposed = page_cache.configuration(request, current), page_cache.configuration(request, number)
        context["changes"] = diff(base, proposed)
        if version.status == configs.PROPOSED:
            since = runtime.clock.now() - timedelta(days=days)
            kept = page_cache.remembered(
                request,
                ("whatif", current, number, days),
                lambda: whatif.preview(runtime.db, current=base, proposed=proposed, since=since),
            )
            context["preview"], context["preview_at"] = kept.value, kept.at
            context["preview_current"] = kept.current
    context["proposer"] = version.proposed_by == session.actor(principal_of(request))
    shown = NOTICES.get(notice, "").format(n=number)
    return render(
        request,
        "config_version.html",
        context,
        title=f"Configuration version {number}",
        active="config",
        notice=shown,
    )


@router.post("/config/versions/{number}/decide")
@requires(Permission.CONFIG_APPROVE)
def decide(
    request: Request,
    number: int,
    csrf: str = Form(""),
    decision: str = Form(..., pattern="^(approve|reject)$"),
    reason: str = Form("", max_length=2000),
) -> Response:
    back = {"back": f"/config/versions/{number}"}
    if not session.csrf_ok(request, csrf):
        message = "The form had expired or did not come from this site. Please try again."
        return render(request, "message.html", back, title="Configuration", status=400, error=message)
    runtime = runtime_of(request)
    try:
        configs.decide(
            runtime.db,
            number,
            approve=decision == "approve",
            actor=session.actor(principal_of(request)),
            now=runtime.clock.now(),
            reason=reason,
            anchor=runtime.settings.resolved_audit_anchor,
        )
    except InputError as exc:
        return render(request, "message.html", back, title="Configuration", status=409, error=str(exc))
    outcome = "approved" if decision == "approve" else "rejected"
    return RedirectResponse(f"/config/versions/{number}?notice={outcome}", status_code=303)
