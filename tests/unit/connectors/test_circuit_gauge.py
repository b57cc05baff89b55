"""The ERP circuit gauge the RevbridgeErpCircuitOpen alert reads: 1 while a connector's breaker
is open (or probing), 0 once calls flow again, gone when the outbox that held it closes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faulty_erp import FaultyErp
from outbox_staging import stage

from revbridge.connectors.base import Limits
from revbridge.connectors.rest import RestConnector, RestSettings
from revbridge.core.clock import SystemClock
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.store import Database, migrate
from revbridge.store import journals as store

GAUGE = "revbridge_erp_circuit_open"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Database]:
    engine = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.close()


def test_the_gauge_follows_the_breaker(engine: Database) -> None:
    erp = FaultyErp()
    limits = Limits(
        rate_per_second=1000, burst=100, concurrency=2, backoff_base=0.01, backoff_cap=0.05,
        breaker_failures=3, breaker_reset=0.3, max_attempts=50,
    )  # fmt: skip
    settings = RestSettings(
        base_url=erp.url, token_url="/oauth/token", client_id="revbridge", client_secret="s3cret", timeout=5.0
    )
    connector = RestConnector(settings, limits=limits)
    metrics = Metrics()
    d = Dispatcher(
        engine, lambda _le: connector, clock=SystemClock(), metrics=metrics,
        config=OutboxConfig(owner="test", max_inline_wait=0.05),
    )  # fmt: skip
    try:
        stage(engine, 5)
        erp.go_down()
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            d.run_once()
            time.sleep(0.01)
        assert metrics.registry.get_sample_value(GAUGE, {"connector": "rest"}) == 1
        erp.come_up()
        deadline = time.monotonic() + 30
        while store.counts(engine)["posted"] < 5 and time.monotonic() < deadline:
            if d.run_once() == 0:
                time.sleep(0.02)
        assert store.counts(engine)["posted"] == 5
        assert metrics.registry.get_sample_value(GAUGE, {"connector": "rest"}) == 0
    finally:
        d.close()
        connector.close()
        erp.close()
    assert metrics.registry.get_sample_value(GAUGE, {"connector": "rest"}) is None
