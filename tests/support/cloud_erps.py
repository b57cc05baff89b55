"""The four cloud ERPs' test servers behind one face, for the tests and benchmarks that run the
same thing against each: the connector settings a finance team would write (secrets through the
environment mapping, as in production), and what the ERP holds, read from the server itself.

``start(kind)`` starts the protocol-faithful server of that ERP (tests/support/<erp>_erp.py),
seeded with the reference chart, and returns a ``Rig``: the server, the registry settings
(``type`` and ``limits`` included), the secrets the settings name, how many documents the ERP
holds under a reference, and the net per our account over everything it holds. ``quick`` limits
check an asynchronous job every 50 ms and jobs end after one or two polls, so a whole day runs in
seconds; the protocol is unchanged.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import infor_erp_rig
import sap_erp_rig
import workday_erp_rig
from erp_chart import Chart, reference

from revbridge.ledger.journal import Journal

QUICK = {
    "rate_per_second": 2000,
    "burst": 2000,
    "concurrency": 2,
    "backoff_base": 0.01,
    "backoff_cap": 0.2,
    "poll_interval": 0.05,
    "poll_deadline": 120,
}
KINDS = (
    "oracle_fusion",
    "business_central",
    "dynamics_finance",
    "netsuite",
    "infor_ion",
    "workday",
    "sap_s4hana",
)


@dataclass
class Rig:
    kind: str
    server: Any
    settings: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    documents: Callable[[Journal], int] = lambda _journal: 0  # how often the ERP holds it
    balances: Callable[[], dict[str, Decimal]] = dict
    bulk: bool = True  # the ERP takes many journals in one upload or batch
    # fail(kind, count, retry_after): "drop_after_commit" on the call that hands the ERP
    # journals (the ERP commits, the answer is lost) or "503" on any call
    fail: Callable[[str, int, str | None], None] = lambda _kind, _count, _after: None
    finish_jobs: Callable[[], None] = lambda: None  # end the ERP's running jobs now
    # an asynchronous ERP: settings that make it answer "accepted", and stall(True) makes its jobs
    # never end (stall(False) lets later ones end again); None: the ERP answers at once
    stall: Callable[[bool], None] | None = None
    asynchronous: dict[str, Any] = field(default_factory=dict)
    # every request body the ERP received but the token endpoint's (the one place a secret goes)
    bodies: Callable[[], bytes] = lambda: b""
    stop: Callable[[], None] = lambda: None
    # an ERP that pushes its answers to revbridge (SAP's confirmations) needs revbridge's endpoint
    # served over the test's store: attach(db) starts it; a no-op for the others
    attach: Callable[[Any], None] = lambda _db: None
    direct: dict[str, Any] = field(default_factory=dict)  # settings post_directly adds (SAP: synchronous)

    def post_directly(self, journal: Journal, *, timeout: float = 30.0) -> None:
        """Post a journal straight into the ERP with a connector of its own, as another revbridge
        (or a hand) would, following its job until the ERP says posted."""
        from revbridge.connectors import registry
        from revbridge.connectors.base import Receipt
        from revbridge.core.clock import SystemClock
        from revbridge.store import Database

        env = registry.Environment(db=Database.open("sqlite://"), clock=SystemClock(), secrets=self.secrets)
        settings = {**self.settings, **self.direct}
        connector: Any = registry.build(self.settings["type"], settings, env, name="direct")
        try:
            bulk = getattr(connector, "submit_many", None)
            answer = bulk([journal])[journal.id] if bulk is not None else connector.submit(journal)
            deadline = time.monotonic() + timeout
            while isinstance(answer, Receipt) and answer.accepted:
                assert time.monotonic() < deadline, "the ERP never finished the job"
                time.sleep(0.05)
                answer = connector.check([answer]).get(journal.id, answer)
            assert isinstance(answer, Receipt), answer
        finally:
            connector.close()

    def calls(self) -> int:
        """Requests the ERP answered or dropped, token requests included."""
        return len(self.server.requests)


def _faults(server: Any, write: str, **where: str) -> Callable[[str, int, str | None], None]:
    """``fail`` for a server whose ``fail_next`` takes the method or resource as ``on``/``path``."""
    key = next(iter(where)) if where else "on"

    def fail(kind: str, count: int, retry_after: str | None) -> None:
        target = write if kind in ("drop_after_commit", "garbled") else where.get("any", write)
        options: dict[str, Any] = {key: target}
        if retry_after is not None:
            options["retry_after"] = retry_after
        server.fail_next(kind, count=count, **options)

    return fail


def _oracle(chart: Chart | None, limits: dict[str, Any]) -> Rig:
    from oracle_erp import LEDGERS, OracleErp

    server = OracleErp(chart=chart, load_polls=1, import_polls=1)
    settings = {
        "type": "oracle_fusion",
        "base_url": server.url,
        "username": server.username,
        "password_env": "ORACLE_PASSWORD",
        "ledger_ids": {entity: ledger for ledger, entity in LEDGERS.items()},
        "timeout": 10,
        "limits": limits,
    }
    return Rig(
        "oracle_fusion",
        server,
        settings,
        {"ORACLE_PASSWORD": server.password},
        lambda journal: len(server.batches_for(journal.id)),
        server.balances,
        fail=_faults(server, "POST"),
        finish_jobs=server.run_jobs,
        stall=server.stall,
        bodies=lambda: b"\n".join(readable(b) for b in server.bodies),
    )


def _netsuite(chart: Chart | None, limits: dict[str, Any]) -> Rig:
    from netsuite_erp_setup import ACCOUNT as NETSUITE_ACCOUNT
    from netsuite_erp_setup import CERTIFICATE_ID, CLIENT_ID, SEGMENTS, make_erp, pem

    server = make_erp() if chart is None else make_erp(chart=chart)
    settings = {
        "type": "netsuite",
        "account_id": NETSUITE_ACCOUNT,
        "base_url": server.url,
        "authentication": "oauth2",
        "client_id": CLIENT_ID,
        "certificate_id": CERTIFICATE_ID,
        "private_key_env": "NETSUITE_PRIVATE_KEY",
        "subsidiaries": dict(server.books.subsidiaries),
        "currencies": {"USD": "1"},
        "segments": dict(SEGMENTS),
        "timeout": 10,
        "limits": limits,
    }

    def documents(journal: Journal) -> int:  # an upsert by external id: one record at most
        return 1 if server.books.find(journal.id) is not None else 0

    secrets = {"NETSUITE_PRIVATE_KEY": pem()}
    return Rig(
        "netsuite",
        server,
        settings,
        secrets,
        documents,
        server.books.balances,
        bulk=False,
        fail=_faults(server, "PUT"),
        stall=server.jobs.stall,
        asynchronous={"asynchronous": True},
        bodies=lambda: b"\n".join(readable(b) for b in server.bodies),
    )


def _business_central(chart: Chart | None, limits: dict[str, Any]) -> Rig:
    from bc_erp import BcErp

    from revbridge.connectors.business_central_payload import external_number

    server = BcErp(chart)
    settings = {
        "type": "business_central",
        "tenant": server.tenant,
        "environment": server.environment,
        "client_id": server.client_id,
        "client_secret_env": "BC_CLIENT_SECRET",
        "base_url": server.url,
        "token_url": server.token_url,
        "timeout": 10,
        "limits": limits,
    }
    companies = sorted((chart or reference()).legal_entities)

    def entries() -> list[dict[str, Any]]:
        return [e for company in companies for e in server.entries(company)]

    def documents(journal: Journal) -> int:  # one G/L entry per journal line and posting
        mine = [e for e in entries() if e["_externalDocumentNumber"] == external_number(journal.id)]
        return len(mine) // len(journal.lines)

    def balances() -> dict[str, Decimal]:
        nets: dict[str, Decimal] = {}
        for e in entries():
            nets[e["accountNumber"]] = (
                nets.get(e["accountNumber"], Decimal(0)) + e["debitAmount"] - e["creditAmount"]
            )
        return nets

    return Rig(
        "business_central",
        server,
        settings,
        {"BC_CLIENT_SECRET": server.client_secret},
        documents,
        balances,
        fail=_faults(server, "Microsoft.NAV.post", on="any"),
        bodies=lambda: b"\n".join(readable(r.body) for r in server.requests if "/oauth2/" not in r.path),
    )


def _dynamics_finance(chart: Chart | None, limits: dict[str, Any]) -> Rig:
    from fo_erp import FoErp

    from revbridge.connectors.dynamics_finance_package import journal_key

    server = FoErp(chart)
    settings = {
        "type": "dynamics_finance",
        "base_url": server.url,
        "token_url": server.token_url,
        "client_id": server.client_id,
        "client_secret_env": "FNO_CLIENT_SECRET",
        "dimension_delimiter": "|",
        "timeout": 10,
        "limits": limits,
    }
    posting = _Every(0.05, server.post_journals)  # F&O's Journal post batch job, scheduled

    def documents(journal: Journal) -> int:
        return sum(
            1 for header, _lines in server.journals(journal_key(journal.id)) if header["IsPosted"] == "Yes"
        )

    dmf = "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.ImportFromPackage"
    return Rig(
        "dynamics_finance",
        server,
        settings,
        {"FNO_CLIENT_SECRET": server.client_secret},
        documents,
        server.balances,
        fail=_faults(server, dmf, path="/data"),
        finish_jobs=server.post_journals,
        stall=server.stall,
        bodies=lambda: b"\n".join(readable(r.body) for r in server.requests if "/oauth2/" not in r.path),
        stop=posting.stop,
    )


def readable(body: bytes) -> bytes:
    """A request body with what it carries opened up, so a search for a sentinel sees inside:
    base64 ``DocumentContent`` (Oracle's upload), zips (FBDI, DMF packages), UTF-16 text (DMF
    CSV files)."""
    parts = [body]
    if body.startswith(b"{") and b"DocumentContent" in body:
        with contextlib.suppress(ValueError, TypeError):
            content = json.loads(body).get("DocumentContent")
            if isinstance(content, str):
                parts.append(readable(base64.b64decode(content)))
    if body.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            parts += [readable(archive.read(name)) for name in archive.namelist()]
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        parts.append(body.decode("utf-16").encode())
    return b"\n".join(parts)


class _Every:
    """Runs ``work`` every ``seconds`` on a daemon thread until stopped (an ERP's batch job)."""

    def __init__(self, seconds: float, work: Callable[[], object]) -> None:
        self._done = threading.Event()
        self._work, self._seconds = work, seconds
        threading.Thread(target=self._run, name="erp-batch-job", daemon=True).start()

    def _run(self) -> None:
        while not self._done.wait(self._seconds):
            self._work()

    def stop(self) -> None:
        self._done.set()


STARTERS: dict[str, Callable[[Chart | None, dict[str, Any]], Rig]] = {
    "oracle_fusion": _oracle,
    "business_central": _business_central,
    "dynamics_finance": _dynamics_finance,
    "netsuite": _netsuite,
    "infor_ion": infor_erp_rig.infor_ion,
    "workday": workday_erp_rig.rig,
    "sap_s4hana": sap_erp_rig.start,
}


@contextmanager
def started(kind: str, *, chart: Chart | None = None, limits: dict[str, Any] | None = None) -> Iterator[Rig]:
    rig = STARTERS[kind](chart, dict(QUICK if limits is None else limits))
    try:
        yield rig
    finally:
        rig.stop()
        rig.server.close()
