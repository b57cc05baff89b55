"""The API face's routers, in one list for the application (``revbridge.service.app``) to
include: the monitoring probes and the OpenAPI document first, then ``/api/v1``. Each router
carries its full prefix, so its routes can be matched as they are (the authentication middleware
walks them to find the permission a request needs)."""

from __future__ import annotations

from fastapi import APIRouter

from revbridge.api.routes import docs, fhir, ingest, messages, monitoring, operations, portal, reconcile, sap

routers: list[APIRouter] = [
    monitoring.router,
    docs.router,
    operations.router,
    ingest.router,
    messages.router,
    fhir.router,
    portal.router,
    reconcile.router,
    sap.router,
]

__all__ = ["routers"]
