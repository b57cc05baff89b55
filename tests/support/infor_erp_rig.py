"""The Infor ION test ERP and a connector for it, set up as a finance team would: an ION API
backend service client (its .ionapi file's fields), revbridge's ION connection point
``lid://infor.revbridge.revbridge``, one accounting entity per legal entity (MHN 1000, MHS 2000,
and on, in the chart's order), dimension lists named after our dimensions; and ``infor_ion``, the
rig the cloud ERP suites run (cloud_erps.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from erp_chart import Chart, reference
from infor_erp import InforErp

from revbridge.connectors.infor_ion import InforIonConnector, InforIonSettings
from revbridge.ledger.journal import Journal

TENANT = "MERCY_TST"
CLIENT_ID = "MERCY_TST~revbridge-backend-0f3a"
CLIENT_SECRET = "cs-SECRET-ion-7781"
ACCESS_KEY = "MERCY_TST#saak-2b9c41"
SECRET_KEY = "sask-SECRET-ion-5530"
LOGICAL_ID = "lid://infor.revbridge.revbridge"


def entities(chart: Chart | None = None) -> dict[str, str]:
    return {le: str(1000 * n) for n, le in enumerate(sorted((chart or reference()).legal_entities), start=1)}


def make_erp(chart: Chart | None = None, **options: Any) -> InforErp:
    return InforErp(
        chart,
        tenant=TENANT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        logical_id=LOGICAL_ID,
        entities=entities(chart),
        **options,
    )


def ionapi(erp: InforErp, path: Path) -> Path:
    """The .ionapi file ION API would let a finance team download for the backend service."""
    fields = {
        "ti": TENANT,
        "cn": "revbridge",
        "dt": "12",
        "ci": CLIENT_ID,
        "cs": CLIENT_SECRET,
        "iu": erp.url,
        "pu": erp.sso_url,
        "oa": "authorization.oauth2",
        "ot": "token.oauth2",
        "or": "revoke_token.oauth2",
        "ev": "U147858101",
        "v": "1.0",
        "saak": ACCESS_KEY,
        "sask": SECRET_KEY,
    }
    path.write_text(json.dumps(fields))
    return path


def settings(erp: InforErp, **overrides: Any) -> InforIonSettings:
    values: dict[str, Any] = {
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "gateway_url": erp.url,
        "sso_url": erp.sso_url,
        "token_path": "token.oauth2",
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "accounting_entities": entities(erp.books.chart),
        "timeout": 5.0,
    }
    return InforIonSettings(**(values | overrides))


def connector(erp: InforErp, *, monotonic: Any = None, **overrides: Any) -> InforIonConnector:
    options = {"monotonic": monotonic} if monotonic is not None else {}
    return InforIonConnector(settings(erp, **overrides), **options)


def infor_ion(chart: Chart | None, limits: dict[str, Any]) -> Any:
    """The cloud_erps rig of the Infor ION test ERP."""
    from cloud_erps import Rig, _faults, readable

    server = make_erp(chart)
    values = {
        "type": "infor_ion",
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "client_secret_env": "INFOR_CLIENT_SECRET",
        "gateway_url": server.url,
        "sso_url": server.sso_url,
        "token_path": "token.oauth2",
        "access_key": ACCESS_KEY,
        "secret_key_env": "INFOR_SECRET_KEY",
        "accounting_entities": entities(chart),
        "timeout": 10,
        "limits": limits,
    }

    def documents(journal: Journal) -> int:
        return server.books.count(journal.id)

    return Rig(
        "infor_ion",
        server,
        values,
        {"INFOR_CLIENT_SECRET": CLIENT_SECRET, "INFOR_SECRET_KEY": SECRET_KEY},
        documents,
        server.books.balances,
        bulk=False,
        fail=_faults(server, "message", on="any"),
        finish_jobs=lambda: server.oneview.run(every=True),
        stall=server.oneview.stall,
        bodies=lambda: b"\n".join(readable(b) for b in server.bodies),
    )
