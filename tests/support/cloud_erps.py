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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from erp_chart import Chart

QUICK = {
    "rate_per_second": 2000,
    "burst": 2000,
    "concurrency": 2,
    "backoff_base": 0.01,
    "backoff_cap": 0.2,
    "poll_interval": 0.05,
    "poll_deadline": 120,
}
KINDS = ("oracle_fusion", "netsuite")


@dataclass
class Rig:
    kind: str
    server: Any
    settings: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    documents: Callable[[str], int] = lambda _ref: 0
    balances: Callable[[], dict[str, Decimal]] = dict
    bulk: bool = True  # the ERP takes many journals in one upload or batch

    def calls(self) -> int:
        """Requests the ERP answered or dropped, token requests included."""
        return len(self.server.requests)


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
        lambda ref: len(server.batches_for(ref)),
        server.balances,
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

    def documents(ref: str) -> int:
        return 1 if server.books.find(ref) is not None else 0

    secrets = {"NETSUITE_PRIVATE_KEY": pem()}
    return Rig("netsuite", server, settings, secrets, documents, server.books.balances, bulk=False)


STARTERS: dict[str, Callable[[Chart | None, dict[str, Any]], Rig]] = {
    "oracle_fusion": _oracle,
    "netsuite": _netsuite,
}


@contextmanager
def started(kind: str, *, chart: Chart | None = None, limits: dict[str, Any] | None = None) -> Iterator[Rig]:
    rig = STARTERS[kind](chart, dict(QUICK if limits is None else limits))
    try:
        yield rig
    finally:
        rig.server.close()
