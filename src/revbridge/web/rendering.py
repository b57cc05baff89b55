"""Templates to HTML responses, with what every page needs: who is signed in, what they may do,
the CSRF token for their forms, the navigation, and the security headers.

Templates live in the package (``web/templates``) and are autoescaped; only chart SVG built by
``charts.py`` (which escapes its own text) is marked safe. Pages are served with a strict content
security policy: scripts, styles and images from revbridge itself only, nothing inline, so the
workbench works air-gapped and an injected tag cannot run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from revbridge.core.money import Money
from revbridge.http.auth import Principal
from revbridge.security.roles import Permission, allows
from revbridge.web import session

HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}

# (key, label, href, permission needed to see the link)
NAVIGATION = (
    ("overview", "Overview", "/", Permission.READ),
    ("workqueue", "Work queue", "/workqueue", Permission.READ),
    ("journals", "Journals", "/journals", Permission.READ),
    ("reconciliation", "Reconciliation", "/reconciliation", Permission.READ),
    ("finance", "Finance", "/finance", Permission.READ),
    ("config", "Configuration", "/config", Permission.READ),
)


def amount(value: Decimal | Money | int | None, currency: str | None = None) -> str:
    """``1234.5`` -> ``1,234.50``; integers are minor units of ``currency`` (USD when not given)."""
    if value is None:
        return ""
    if isinstance(value, Money):
        return f"{value.amount:,.2f}"
    if isinstance(value, int):
        return f"{Money.from_minor(value, currency or 'USD').amount:,.2f}"
    return f"{value:,.2f}"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else ""


def age(value: datetime | None, now: datetime) -> str:
    if value is None:
        return ""
    seconds = max(int((now - value).total_seconds()), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("revbridge.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["amount"] = amount
    env.filters["when"] = when
    return env


def capabilities(principal: Principal | None) -> dict[str, bool]:
    roles = principal.roles if principal is not None else ()
    return {
        "read": allows(roles, Permission.READ),
        "operate": allows(roles, Permission.OPERATE),
        "propose": allows(roles, Permission.CONFIG_PROPOSE),
        "approve": allows(roles, Permission.CONFIG_APPROVE),
        "phi": allows(roles, Permission.PHI_READ),
    }


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    title: str,
    active: str = "",
    status: int = 200,
    notice: str = "",
    error: str = "",
) -> HTMLResponse:
    principal = session.principal(request)
    can = capabilities(principal)
    nav = [
        {"key": key, "label": label, "href": href}
        for key, label, href, needed in NAVIGATION
        if principal is not None and allows(principal.roles, needed)
    ]
    html = (
        environment()
        .get_template(template)
        .render(
            title=title,
            active=active,
            user=principal,
            roles=", ".join(r.value for r in principal.roles) if principal is not None else "",
            can=can,
            csrf=session.csrf_token(request) if principal is not None else "",
            nav=nav,
            notice=notice,
            error=error,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)
