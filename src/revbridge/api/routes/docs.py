"""The API's own description: the OpenAPI document (``/openapi.json``) and the Swagger UI that
reads it (``/docs``). Public, as the API's shape is no secret; the workbench's routes are left out
of the document (they declare ``include_in_schema=False``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.requests import Request

from revbridge.http.permissions import requires
from revbridge.security.roles import Permission

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
@requires(Permission.PUBLIC)
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
@requires(Permission.PUBLIC)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="revbridge API")
