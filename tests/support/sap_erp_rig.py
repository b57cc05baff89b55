"""The SAP S/4HANA rig for tests/support/cloud_erps.py: the test system, the settings a finance
team would write, and revbridge's confirmation endpoint served for real.

SAP pushes its confirmations to revbridge, so the rig needs a revbridge HTTP service backed by the
test's store: ``attach(db)`` builds a runtime over the same database (its URL), starts the
service on a free loopback port (uvicorn, as ``revbridge serve`` does; no workers, no outbox),
creates an API key of the ``system`` role and points SAP's outbound deliveries at
``/api/v1/erp/sap/confirmations`` with that key as the outbound user's password. Before
``attach`` the test system keeps its confirmations queued.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erp_chart import Chart, reference
from sap_erp import SapErp

from revbridge.connectors.sap_s4hana_soap import references
from revbridge.ledger.journal import Journal

if TYPE_CHECKING:
    from cloud_erps import Rig

PASSWORD_ENV = "SAP_PASSWORD"
ENDPOINT = "/api/v1/erp/sap/confirmations"


class Endpoint:
    """revbridge's confirmation endpoint over a test's store, started by ``attach``."""

    def __init__(self, server: SapErp) -> None:
        self._server = server
        self._stops: list[Any] = []

    def attach(self, db: Any) -> None:
        from revbridge.bootstrap import build
        from revbridge.security.roles import Role
        from revbridge.service import Service
        from revbridge.settings import Settings
        from revbridge.store import apikeys

        home = Path(tempfile.mkdtemp(prefix="rb-sap-endpoint-"))
        settings = Settings(home=home, db=db.engine.url.render_as_string(hide_password=False), http_port=0)
        runtime = build(settings, posting=False, with_reference_config=False)
        service = Service(runtime, http=True, mllp=False, workers=0, directory=False, post=False)
        service.start()
        _, key = apikeys.create(
            runtime.db,
            name="sap-outbound",
            roles=(Role.SYSTEM,),
            now=runtime.clock.now(),
            actor="test",
            anchor=None,
        )
        self._server.deliver_to(f"http://127.0.0.1:{service.http_port}{ENDPOINT}", "SAP_OUTBOUND", key)
        self._stops.append(lambda: (service.stop(), runtime.close(), shutil.rmtree(home, ignore_errors=True)))

    def stop(self) -> None:
        while self._stops:
            self._stops.pop()()


def segments(chart: Chart) -> dict[str, str]:
    """Our service lines -> SAP segments (SAP's segment ids are at most 10 characters)."""
    return {line: f"SL{n:02d}" for n, line in enumerate(sorted(chart.service_lines), start=1)}


def settings_for(server: SapErp, limits: dict[str, Any], chart: Chart) -> dict[str, Any]:
    return {
        "type": "sap_s4hana",
        "base_url": server.url,
        "username": server.username,
        "password_env": PASSWORD_ENV,
        "company_codes": dict(server.books.company_codes),
        "assignments": {"ProfitCenter": "facility", "CostCenter": "cost_center", "Segment": "service_line"},
        "service_lines": segments(chart),
        "timeout": 10,
        "limits": limits,
    }


def start(chart: Chart | None, limits: dict[str, Any]) -> Rig:
    from cloud_erps import Rig, _faults, readable  # cloud_erps imports this module

    chart = chart or reference()
    server = SapErp(chart, segments=frozenset(segments(chart).values()))
    endpoint = Endpoint(server)

    def documents(journal: Journal) -> int:
        return server.documents(*references(journal.id, "RB"))

    return Rig(
        "sap_s4hana",
        server,
        settings_for(server, limits, chart),
        {PASSWORD_ENV: server.password},
        documents,
        server.books.balances,
        fail=_faults(server, "POST"),
        finish_jobs=server.run_jobs,
        stall=server.stall,
        bodies=lambda: b"\n".join(readable(b) for b in server.bodies),
        stop=endpoint.stop,
        attach=endpoint.attach,
        direct={"synchronous": True},
    )
