"""Status and work items over HTTP; the work-item routes are a face over ``revbridge.workqueue``."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field
from starlette.requests import Request

from revbridge import workqueue
from revbridge.core.errors import InputError
from revbridge.http.permissions import requires
from revbridge.http.state import principal_of, runtime_of
from revbridge.security.roles import Permission

# Work item ids are positive 64-bit integers; anything else is a 422, never a database error.
ItemId = Annotated[int, Path(ge=1, le=2**63 - 1)]

router = APIRouter(prefix="/api/v1", tags=["operations"])


@router.get("/status")
@requires(Permission.READ)
async def status(request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)

    return await anyio.to_thread.run_sync(runtime.status)


@router.get("/exceptions")
@requires(Permission.READ)
async def list_exceptions(
    request: Request,
    status: str = Query("open", pattern="^(open|resolved|ignored|all)$"),
    code: str | None = Query(None, max_length=64),
    limit: int = Query(500, ge=1, le=5000),
) -> list[dict[str, object]]:
    runtime = runtime_of(request)
    selection = workqueue.Selection(status=None if status == "all" else status, code=code)
    items = await anyio.to_thread.run_sync(
        lambda: workqueue.find(runtime.db, selection, now=runtime.clock.now(), limit=limit)
    )
    return [i.as_json() for i in items]


@router.get("/exceptions/{item_id}")
@requires(Permission.READ)
async def get_exception(request: Request, item_id: ItemId) -> dict[str, object]:
    runtime = runtime_of(request)
    item = await anyio.to_thread.run_sync(workqueue.get, runtime.db, item_id)
    if item is None:
        raise HTTPException(404, f"no work item {item_id}")
    return item.as_json()


class Resolution(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class Assignment(BaseModel):
    assignee: str | None = Field(default=None, max_length=128)


def _close(request: Request, item_id: ItemId, status: str, reason: str) -> dict[str, object]:
    runtime = runtime_of(request)
    actor = principal_of(request).actor
    close = workqueue.resolve if status == workqueue.RESOLVED else workqueue.ignore
    try:
        close(
            runtime.db,
            runtime.clock,
            [item_id],
            reason=reason,
            actor=actor,
            anchor=runtime.settings.resolved_audit_anchor,
        )
    except InputError as exc:
        raise HTTPException(409, str(exc)) from None
    item = workqueue.get(runtime.db, item_id)
    assert item is not None
    return item.as_json()


@router.post("/exceptions/{item_id}/resolve")
@requires(Permission.OPERATE)
async def resolve_exception(request: Request, item_id: ItemId, body: Resolution) -> dict[str, object]:
    return await anyio.to_thread.run_sync(_close, request, item_id, workqueue.RESOLVED, body.reason)


@router.post("/exceptions/{item_id}/ignore")
@requires(Permission.OPERATE)
async def ignore_exception(request: Request, item_id: ItemId, body: Resolution) -> dict[str, object]:
    return await anyio.to_thread.run_sync(_close, request, item_id, workqueue.IGNORED, body.reason)


@router.post("/exceptions/{item_id}/assign")
@requires(Permission.OPERATE)
async def assign_exception(request: Request, item_id: ItemId, body: Assignment) -> dict[str, object]:
    runtime = runtime_of(request)
    actor = principal_of(request).actor

    def run() -> dict[str, object]:
        anchor = runtime.settings.resolved_audit_anchor
        if (
            workqueue.assign(
                runtime.db, runtime.clock, [item_id], assignee=body.assignee, actor=actor, anchor=anchor
            )
            != 1
        ):
            raise HTTPException(409, f"work item {item_id} is not open")
        item = workqueue.get(runtime.db, item_id)
        assert item is not None
        return item.as_json()

    return await anyio.to_thread.run_sync(run)
