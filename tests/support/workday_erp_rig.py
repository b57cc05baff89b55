"""The Workday test tenant and a connector for it, set up as a finance team would: an integration
system user (WS-Security) and an API client with a refresh token (OAuth 2.0) for it, the
companies named by the legal entity codes, journal source ``revbridge``, cost centers, payer
classes and service lines as worktags; and the cloud_erps rig for kind ``workday`` (OAuth, so
that no secret travels in a SOAP body the contract suite searches)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from erp_chart import Chart, reference
from workday_erp import WorkdayErp

from revbridge.connectors.workday import WorkdayConnector, WorkdaySettings

if TYPE_CHECKING:
    from cloud_erps import Rig

WORKTAG_TYPES = {
    "cost_center": "Cost_Center_Reference_ID",
    "payer_class": "Custom_Organization_Reference_ID",
    "facility": "Location_ID",
    "service_line": "Custom_Organization_Reference_ID",
}


def settings(erp: WorkdayErp, *, oauth: bool = False, **overrides: Any) -> WorkdaySettings:
    auth: dict[str, Any] = (
        {
            "authentication": "oauth2",
            "client_id": erp.client_id,
            "client_secret": erp.client_secret,
            "refresh_token": erp.refresh_token,
        }
        if oauth
        else {"username": f"{erp.username}@{erp.tenant}", "password": erp.password}
    )
    base = WorkdaySettings(
        tenant=erp.tenant,
        base_url=erp.url,
        worktag_types=WORKTAG_TYPES,
        timeout=5.0,
        **auth,
    )
    return replace(base, **overrides)


def connector(
    erp: WorkdayErp, *, oauth: bool = False, monotonic: Any = None, **overrides: Any
) -> WorkdayConnector:
    options = {"monotonic": monotonic} if monotonic is not None else {}
    return WorkdayConnector(settings(erp, oauth=oauth, **overrides), **options)


def rig(chart: Chart | None, limits: dict[str, Any]) -> Rig:
    from cloud_erps import Rig, _faults, readable  # cloud_erps imports this module

    server = WorkdayErp(chart or reference())
    config = {
        "type": "workday",
        "tenant": server.tenant,
        "base_url": server.url,
        "authentication": "oauth2",
        "client_id": server.client_id,
        "client_secret_env": "WORKDAY_CLIENT_SECRET",
        "refresh_token_env": "WORKDAY_REFRESH_TOKEN",
        "worktag_types": dict(WORKTAG_TYPES),
        "timeout": 10,
        "limits": limits,
    }
    secrets = {"WORKDAY_CLIENT_SECRET": server.client_secret, "WORKDAY_REFRESH_TOKEN": server.refresh_token}
    return Rig(
        "workday",
        server,
        config,
        secrets,
        lambda journal: len(server.books.numbered(journal.id)),
        server.books.balances,
        bulk=False,
        fail=_faults(server, "Import_Accounting_Journal"),
        finish_jobs=server.books.run_all,
        stall=server.books.stall,
        bodies=lambda: b"\n".join(readable(b) for b in server.bodies),
    )
