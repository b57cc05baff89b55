"""Status and work items over HTTP."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Query
from starlette.requests import Request

from revbridge.api.app_state import runtime_of
from revbridge.api.permissions import requires
from revbridge.security.roles import Permission
from revbridge.store import workitems

router = APIRouter(prefix="/api/v1", tags=["operations"])


@router.get("/status")
@requires(Permission.READ)
async def status(request: Request) -> dict[str, Any]:
    rt = runtime_of(request)

    return await anyio.to_thread.run_sync(rt.status)


@router.get("/exceptions")
@requires(Permission.READ)
async def list_exceptions(
    request: Request,
    status: str = Query("open", pattern="^(open|resolved|ignored|all)$"),
    code: str | None = Query(None, max_length=64),
    limit: int = Query(500, ge=1, le=5000),
) -> list[dict[str, object]]:
    rt = runtime_of(request)
    items = await anyio.to_thread.run_sync(
        lambda: workitems.list_items(
            rt.db, status=None if status == "all" else status, code=code, limit=limit
        )
    )
    return [i.as_json() for i in items]


@router.get("/exceptions/{item_id}")
@requires(Permission.READ)
async def get_exception(request: Request, item_id: int) -> dict[str, object]:
    rt = runtime_of(request)
    item = await anyio.to_thread.run_sync(workitems.get, rt.db, item_id)
    if item is None:
        raise HTTPException(404, f"no work item {item_id}")
    return item.as_json()
