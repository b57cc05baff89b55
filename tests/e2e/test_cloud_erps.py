"""The demo health system's day posted through each cloud ERP's test server (issue 15).

For Oracle Fusion, Business Central, Dynamics 365 Finance and NetSuite: the generator's day goes in
through intake, the posting stage stages its journals, and the outbox, routed by the registry
from the settings a finance team would write (secrets from the environment), posts them through
the connector to the ERP's protocol-faithful server, following asynchronous jobs until the ERP
says posted. Then:
- every journal is posted and the ERP holds each exactly once, read from the server itself;
- what the ERP holds, account by account, is what revbridge sent;
- ``revbridge reconcile``'s report, reading the ERP back through the connector, ties, with
  every journal acknowledged by the ERP; a journal posted into the ERP behind revbridge's back,
  with revbridge's marks, is named as a document no journal of ours has;
- the ERP was called far less often than once per journal where it has a bulk path.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import cloud_erps
import pytest
from connectors_journals import remittance
from runtime import build_runtime

from revbridge.bootstrap import Runtime
from revbridge.connectors import registry
from revbridge.demo import generate
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.pipeline.reconciliation import report
from revbridge.store import journals

START = date(2025, 3, 3)
SCALE = 0.05
BUSY = ("staged", "submitting", "accepted")


def _post_day(rt: Runtime, dispatcher: Dispatcher, *, timeout: float = 180.0) -> dict[str, int]:
    for message in generate(start=START, seed=7, scale=SCALE).messages:
        rt.intake.receive(message.payload, channel=f"{message.channel}:demo", format=message.format)
    rt.settle(close_windows=True, post=False)
    deadline = time.monotonic() + timeout
    while any(journals.counts(rt.db)[s] for s in BUSY):
        assert time.monotonic() < deadline, journals.counts(rt.db)
        if dispatcher.run_once() == 0:
            time.sleep(0.02)
    return journals.counts(rt.db)


@pytest.mark.parametrize("kind", cloud_erps.KINDS)
def test_the_demo_day_posts_through_the_erp_exactly_once_and_ties(kind: str, tmp_path: Path) -> None:
    with cloud_erps.started(kind) as rig:
        rt = build_runtime(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, posting=True)
        rig.attach(rt.db)
        env = registry.Environment(db=rt.db, clock=rt.clock, secrets=rig.secrets)
        router = registry.routing({"targets": {"erp": rig.settings}, "default": "erp"}, env)
        metrics = Metrics()
        dispatcher = Dispatcher(
            rt.db, router, clock=rt.clock, metrics=metrics, config=OutboxConfig(owner=kind)
        )
        try:
            counts = _post_day(rt, dispatcher)
            posted = journals.list_journals(rt.db, status="posted", limit=100_000)
            assert counts["failed"] == 0 and counts["posted"] == len(posted) > 20, counts
            assert {j.connector for j in posted} == {"erp"}
            assert Counter(rig.documents(j.journal) for j in posted) == {1: len(posted)}
            sent: dict[str, Decimal] = {}
            for stored in posted:
                for line in stored.journal.lines:
                    sent[line.account] = sent.get(line.account, Decimal(0)) + line.net.amount
            held = {account: net for account, net in rig.balances().items() if net}
            assert held == {account: net for account, net in sent.items() if net}
            found = report(rt.db, day=None, now=rt.clock.now(), connector_for=router)
            assert found.ties, [str(b) for b in found.breaks][:5]
            deliveries = Counter(c.delivery.value for c in found.journals.checks.values())
            assert deliveries == {"acknowledged": len(posted)}
            # a bulk ERP: uploads, job checks and both read-backs together stay under one call per
            # journal; NetSuite has no bulk path: one upsert, one read-back by external id and one
            # read of each record it lists as ours, per journal
            limit = len(posted) if rig.bulk else 3 * len(posted) + 5
            assert rig.calls() <= limit, (rig.calls(), len(posted))
            stray = remittance(min(j.journal.posting_date for j in posted), trn="BEHIND-OUR-BACK")
            rig.post_directly(stray)
            broken = report(rt.db, day=None, now=rt.clock.now(), connector_for=router)
            (named,) = [b for b in broken.breaks if "no journal of ours has" in b.message]
            assert named.subject.startswith("ERP document") and named.control.value == "erp"
        finally:
            dispatcher.close()
            router.close()
            rt.close()
