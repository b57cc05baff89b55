"""The workbench overview's "Sources and events out" table over a runtime configured with a
staging table on the shared PostgreSQL, an SFTP source with files taken, a RabbitMQ source and the
event outbox: the page shows what `revbridge status` reports, shows no PHI, and never waits on a
broker that does not answer (DESIGN: no network call while a page renders)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import stagingdb
from runtime import build_runtime
from workbench import People

from revbridge import runtime_status
from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.settings import BrokerSource, StagingSource
from revbridge.store import announcements, sftp_seen

# In the staging rows (patient name) and in an SFTP file's name: neither may reach the page.
SENTINELS = ("SENTINEL-NAME-ZZQ", "SENTINEL-FILE-ZZQ")


@pytest.fixture
def source() -> Iterator[str]:
    url = stagingdb.create_source("postgresql")
    yield url
    stagingdb.drop_source("postgresql", url)


@pytest.fixture
def silent_broker() -> Iterator[int]:
    """A TCP port that completes the handshake and never says a word (a hung broker)."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as server:
        yield server.getsockname()[1]


def _runtime(tmp_path: Path, **settings: Any) -> Runtime:
    return build_runtime(f"sqlite:///{tmp_path / 'web.db'}", tmp_path, posting=True, **settings)


def _sources_table(page: str) -> str:
    found = re.search(r'<section aria-labelledby="h-sources".*?</section>', page, re.S)
    assert found is not None, "the overview has no sources table"
    return found.group(0)


def _row(table: str, name: str) -> list[str]:
    """The cells of the row named ``name`` (its kind first), tags stripped."""
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        if f'<th scope="row">{name}</th>' in row:
            return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    raise AssertionError(f"no row for {name}")


@pytest.mark.postgres
def test_the_overview_shows_staging_sftp_and_events_out_without_phi(source: str, tmp_path: Path) -> None:
    stagingdb.insert(source, [stagingdb.row(n) for n in range(1, 8)])
    config = StagingSource.model_validate(stagingdb.source_settings(source, batch_size=3))
    rt = _runtime(tmp_path, staging_sources=[config])
    try:
        poller = rt.staging_poller(config)
        try:
            assert poller.poll_once() == 3  # mark 3, four rows waiting
        finally:
            poller.close()
        now = rt.clock.now()
        for n, outcome in enumerate(("stored", "stored", "refused")):
            taken = sftp_seen.Taken(f"{SENTINELS[1]}-{n}.835", 100 + n, 1_700_000_000, "ab" * 32, outcome)
            sftp_seen.remember(rt.db, "clearinghouse", taken, now)
        with rt.db.transaction() as tx:
            for n in range(3):
                announcements.record(tx, kind=announcements.JOURNAL_POSTED, subject=f"j{n}", data={}, now=now)
        sent = announcements.claim(rt.db, owner="t", now=now, lease=timedelta(seconds=60), limit=1)
        announcements.mark_sent(rt.db, [p.seq for p in sent], owner="t", now=now)
        failing = announcements.claim(rt.db, owner="t", now=now, lease=timedelta(seconds=60), limit=1)
        announcements.retry_later(rt.db, failing[0], owner="t", at=now, error="ConnectError")

        browser = People(rt).browser(Role.VIEWER)
        deadline = time.monotonic() + 20
        while True:  # the rows waiting are counted in the background: the first view may not have them
            table = _sources_table(browser.get("/").text)
            waiting = _row(table, "pas")[-1]
            if waiting == "4" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert _row(table, "pas")[:2] == ["staging", "table"] and _row(table, "pas")[3] == "4"
        assert "high-water mark 3" in _row(table, "pas")[2]
        assert _row(table, "clearinghouse")[:2] == ["sftp", "folder"]
        assert _row(table, "clearinghouse")[2].startswith("refused 1; stored 2; last taken ")
        events = _row(table, "none")
        assert events[:2] == ["events out", "event outbox"]
        assert events[2].startswith("pending 1; failing 1; sent 1; oldest pending ")
        status = runtime_status.sources(rt)  # the same figures `revbridge status` prints
        assert status["events_out"] == {
            "sink": "none",
            "pending": 1,
            "failing": 1,
            "sent": 1,
            "oldest_pending_at": now.isoformat(),
            "oldest_pending_seconds": status["events_out"]["oldest_pending_seconds"],  # type: ignore[index]
        }
        for sentinel in SENTINELS:
            assert sentinel not in browser.get("/").text
    finally:
        rt.close()


def test_a_silent_broker_never_slows_the_overview(silent_broker: int, tmp_path: Path) -> None:
    feed = BrokerSource(
        name="feed", broker="rabbitmq", url=f"amqp://guest@127.0.0.1:{silent_broker}/", queue="charges"
    )
    rt = _runtime(tmp_path, broker_sources=[feed])
    try:
        rt.metrics.broker_messages.labels("feed", "received").inc(5)
        rt.metrics.broker_messages.labels("feed", "stored").inc(4)
        rt.metrics.broker_messages.labels("feed", "duplicate").inc(1)
        browser = People(rt).browser(Role.VIEWER)
        for _ in range(3):
            started = time.monotonic()
            page = browser.get("/").text
            assert time.monotonic() - started < 3.0  # the broker is asked in the background (10 s timeout)
            row = _row(_sources_table(page), "feed")
            assert row == [
                "rabbitmq",
                "charges",
                "received 5; stored 4; duplicate 1; poison 0",
                "not counted yet",
            ]
    finally:
        rt.close()
