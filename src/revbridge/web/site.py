"""The workbench's routers, in one list for ``revbridge.service.app`` to include, and the hook
that sends an unauthenticated page request to the sign-in page."""

from __future__ import annotations

from fastapi import APIRouter

from revbridge.web import (
    configuration,
    finance,
    journals,
    lineage,
    overview,
    reconciliation,
    signin,
    static,
    workqueue,
)
from revbridge.web.session import redirect_to_login

routers: list[APIRouter] = [
    signin.router,
    static.router,
    overview.router,
    workqueue.router,
    lineage.router,
    journals.router,
    configuration.router,
    reconciliation.router,
    finance.router,
]

__all__ = ["redirect_to_login", "routers"]
