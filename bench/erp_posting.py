"""Posting to the cloud ERPs' test servers (bench/posting.py's rows per ERP, issue 15).

For Oracle Fusion, Business Central, Dynamics 365 Finance, NetSuite, Infor ION, Workday and SAP
S/4HANA, each on its protocol-faithful server (tests/support/cloud_erps.py: real HTTP on loopback,
jobs ending after one or two status polls, F&O's Journal post job every 50 ms), with the
connector's limits lifted so the figures measure revbridge, not a rate limit:

1. Rate. Five-line journals staged in a SQLite store, then posted by the outbox (claim, load,
   submit or upload, follow the jobs, record) until every one is posted. Floor: the same
   connector driven bare, with no store and no outbox: its bulk call per batch (or one call per
   journal), then its checks every 50 ms until the ERP has answered for each, the calls a
   hand-written integration would make.
2. Calls. The charges of bench/posting.py's ERP-call count (10,000 over ten minutes, windowed by
   the reference policy) through the outbox: HTTP requests the ERP answered (token requests,
   uploads, job checks and read-backs included) and the uploads or batches among them. Target:
   one upload or batch per legal entity per window where the ERP has a bulk path.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

import cloud_erps

from revbridge.connectors import registry
from revbridge.connectors.base import Answer, Connector, Receipt
from revbridge.core.clock import SystemClock
from revbridge.ledger.journal import Journal
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.store import Database, migrate
from revbridge.store import journals as store

BUSY = ("staged", "submitting", "accepted")
# the request that hands an ERP journals: an upload, a batch, a package import, an upsert
WRITES: dict[str, Callable[[Any], bool]] = {
    "oracle_fusion": lambda r: r.method == "POST" and r.path.endswith("/erpintegrations"),
    "business_central": lambda r: r.path.endswith("Microsoft.NAV.post"),
    "dynamics_finance": lambda r: (
        r.method == "POST" and (r.path.endswith("ImportFromPackage") or r.path == "/data/$batch")
    ),
    "netsuite": lambda r: r.method == "PUT",
    "infor_ion": lambda r: r.route == "message",  # one BOD per IMS message: ION has no bulk path
    "workday": lambda r: r.operation == "Import_Accounting_Journal",
    "sap_s4hana": lambda r: r.method == "POST" and "/sap/bc/srt/" in r.path,
}


def _outbox(tmp: Path, rig: cloud_erps.Rig, journals: Sequence[Journal], name: str) -> float:
    """Seconds from the first claim to the last journal posted, through the outbox."""
    engine = Database.open(f"sqlite:///{tmp / name}")
    migrate.upgrade(engine)
    rig.attach(engine)  # SAP pushes its confirmations into this store
    now = datetime.now(UTC)
    with engine.transaction() as tx:
        for journal in journals:
            store.stage_journal(tx, journal, connector="erp", first_received_at=now, now=now)
    env = registry.Environment(db=engine, clock=SystemClock(), secrets=rig.secrets)
    router = registry.routing({"targets": {"erp": rig.settings}, "default": "erp"}, env)
    config = OutboxConfig(owner="bench", claim_limit=500)
    dispatcher = Dispatcher(engine, router, clock=SystemClock(), metrics=Metrics(), config=config)
    start = time.perf_counter()
    while any(store.counts(engine)[s] for s in BUSY):
        if dispatcher.run_once() == 0:
            time.sleep(0.01)
    elapsed = time.perf_counter() - start
    counts = store.counts(engine)
    dispatcher.close()
    router.close()
    engine.close()
    assert counts["posted"] == len(journals), counts
    assert counts["failed"] == 0, counts
    return elapsed


def _bare(rig: cloud_erps.Rig, journals: Sequence[Journal], store: Path) -> float:
    """Seconds for the connector driven by hand: bulk calls (or one call each), then checks."""
    db = Database.open(f"sqlite:///{store}")
    migrate.upgrade(db)
    rig.attach(db)
    env = registry.Environment(db=db, clock=SystemClock(), secrets=rig.secrets)
    connector: Connector = registry.build(rig.settings["type"], rig.settings, env, name="erp")
    size = getattr(connector, "batch_size", 1)
    start = time.perf_counter()
    answers: dict[str, Answer] = {}
    for first in range(0, len(journals), size):
        part = journals[first : first + size]
        submit_many = getattr(connector, "submit_many", None)
        if submit_many is not None:
            answers.update(submit_many(part))
        else:
            answers.update({j.id: connector.submit(j) for j in part})
    waiting = [a for a in answers.values() if isinstance(a, Receipt) and a.accepted]
    while waiting:
        time.sleep(0.05)
        ended = connector.check(waiting)  # type: ignore[attr-defined]
        waiting = [a for a in waiting if a.reference not in ended]
        answers.update(ended)
    elapsed = time.perf_counter() - start
    connector.close()
    db.close()
    assert all(isinstance(a, Receipt) and not a.accepted for a in answers.values())
    return elapsed


def bench_rates(
    tmp: Path, make: Callable[[int], Journal], count: int, kinds: Sequence[str] = cloud_erps.KINDS
) -> None:
    print(f"cloud ERPs: {count} five-line journals, outbox against the connector driven bare")
    for kind in kinds:
        with cloud_erps.started(kind) as rig:
            floor = count / _bare(rig, [make(n) for n in range(count)], tmp / f"bare-{kind}.db")
        with cloud_erps.started(kind) as rig:
            rate = count / _outbox(tmp, rig, [make(n) for n in range(count, 2 * count)], f"{kind}.db")
            print(
                f"  {kind}: outbox {rate:,.0f} journals/s; floor (bare connector) {floor:,.0f}/s;"
                f" ratio {rate / floor:.2f}"
            )


def bench_calls(
    tmp: Path, journals: Sequence[Journal], charges: int, kinds: Sequence[str] = cloud_erps.KINDS
) -> None:
    windows = len({(j.legal_entity, j.reference) for j in journals})
    print(f"cloud ERPs: ERP calls for {charges:,} charges ({len(journals)} journals, {windows} windows)")
    for kind in kinds:
        with cloud_erps.started(kind) as rig:
            _outbox(tmp, rig, journals, f"calls-{kind}.db")
            requests = list(rig.server.requests)
            writes = sum(1 for r in requests if WRITES[kind](r))
            print(
                f"  {kind}: {len(requests)} HTTP requests, {writes} uploads or batches;"
                f" per legal entity per window {writes / windows:.2f}; floor (one per charge) {charges:,}"
            )


def main() -> None:
    import argparse
    import os
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from posting import remittance, windows
    from revbridge.bootstrap import reference_config_dir
    from revbridge.cli.config import load_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=10_000, help="charges for the ERP-call count")
    parser.add_argument("--journals", type=int, default=500, help="journals per ERP for the rate")
    parser.add_argument(
        "--erps", default=",".join(cloud_erps.KINDS), help="comma-separated ERP kinds (default: all)"
    )
    args = parser.parse_args()
    kinds = [k for k in args.erps.split(",") if k]
    unknown = sorted(set(kinds) - set(cloud_erps.KINDS))
    if unknown:
        parser.error(f"unknown ERP kind(s) {', '.join(unknown)}; known: {', '.join(cloud_erps.KINDS)}")
    policy = load_dir(reference_config_dir()).master.posting.batch_window
    os.environ.setdefault("REVBRIDGE_LOG_LEVEL", "WARNING")  # SAP's endpoint runtime: figures, not logs
    with tempfile.TemporaryDirectory(prefix="rb-bench-erps-") as tmp:
        bench_calls(Path(tmp), windows(args.charges, policy), args.charges, kinds)
        bench_rates(Path(tmp), remittance, args.journals, kinds)


if __name__ == "__main__":
    main()
