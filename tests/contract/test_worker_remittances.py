"""A large ERA commits one remittance per transaction (pipeline/remittances.py), on SQLite and
PostgreSQL: its journals go to the outbox as each remittance is recorded, and a worker that loses
the message half way leaves nothing the next owner would post twice."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

from runtime import build_runtime
from sqlalchemy import Connection, event, func, select

from revbridge.bootstrap import Runtime, reference_config_dir
from revbridge.cli.config import load_dir
from revbridge.core.clock import FixedClock
from revbridge.core.wakeup import Wakeup
from revbridge.demo import Kind, generate
from revbridge.formats.base import SMALL_REMITTANCE_BYTES
from revbridge.ledger.period import PeriodStatus
from revbridge.pipeline.worker import LARGE_MESSAGE_EVENTS
from revbridge.store import configs, periods, queue
from revbridge.store.schema import events, journal_lines, journals, messages, work_items

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@cache
def era() -> bytes:
    """The demo's largest 835 at half scale: six remittances (one per hospital), 237 claims."""
    traffic = generate(start=date(2026, 11, 2), days=1, seed=11, scale=0.5)
    return max((m.payload for m in traffic.messages if m.kind is Kind.REMITTANCE_835), key=len)


def _runtime(url: str, home: Path) -> tuple[Runtime, FixedClock]:
    clock = FixedClock(T0)
    return build_runtime(url, home, posting=True, clock=clock), clock


def _receive(rt: Runtime) -> str:
    (received,) = rt.intake.receive(era(), channel="test", format="x12")
    return received.accepted.message_id


def _outcome(rt: Runtime) -> dict[str, object]:
    """What the store holds after the ERA: journals with their totals, events, open items."""
    with rt.db.reading() as conn:
        totals = dict(
            conn.execute(
                select(journal_lines.c.journal_id, func.sum(journal_lines.c.debit_minor)).group_by(
                    journal_lines.c.journal_id
                )
            ).all()
        )
        return {
            "journals": totals,
            "events": conn.execute(select(func.count()).select_from(events)).scalar_one(),
            "work_items": conn.execute(select(func.count()).select_from(work_items)).scalar_one(),
            "statuses": sorted(s for (s,) in conn.execute(select(messages.c.status))),
        }


def test_an_era_commits_one_remittance_per_transaction(db_url: str, tmp_path: Path) -> None:
    rt, clock = _runtime(db_url, tmp_path)
    try:
        mid = _receive(rt)
        (claimed,) = queue.claim(rt.db, owner="w", now=clock.now(), lease=LEASE, limit=10)
        seen: list[tuple[int, str]] = []

        def snapshot(conn: Connection) -> None:  # before each commit, what that transaction holds
            staged = conn.execute(select(func.count()).select_from(journals)).scalar_one()
            status = conn.execute(select(messages.c.status).where(messages.c.id == mid)).scalar_one()
            seen.append((int(staged), str(status)))

        event.listen(rt.db.engine, "commit", snapshot)
        try:
            (result,) = rt.worker(owner="w").process_batch([claimed])
        finally:
            event.remove(rt.db.engine, "commit", snapshot)
        assert result.status == "processed" and result.events >= LARGE_MESSAGE_EVENTS
        assert len(seen) == 6  # six remittances, six transactions
        assert [status for _, status in seen] == ["processing"] * 5 + ["processed"]
        counts = [staged for staged, _ in seen]
        assert counts == sorted(counts) and counts[0] >= 1 and counts[-1] == 6  # a journal each
        assert _outcome(rt)["statuses"] == ["processed"]
    finally:
        rt.close()


class _TakenOver(Wakeup):
    """Rung by the worker after each committed part: after ``parts`` of them, another worker
    takes the message over, as happens when the first one stalls past its lease."""

    def __init__(self, rt: Runtime, clock: FixedClock, parts: int = 1) -> None:
        super().__init__()
        self.rt, self.clock, self.taken, self.rung, self.parts = rt, clock, list[queue.Claimed](), 0, parts

    def notify(self) -> None:
        super().notify()
        self.rung += 1
        if self.rung == self.parts:
            later = self.clock.now() + LEASE + timedelta(seconds=1)
            self.taken.extend(queue.claim(self.rt.db, owner="second", now=later, lease=LEASE, limit=1))


@cache
def payment() -> bytes:
    """A patient's portal payment from the same demo day (small cash: formats/base.py SMALL_CASH)."""
    traffic = generate(start=date(2026, 11, 2), days=1, seed=11, scale=0.5)
    return next(m.payload for m in traffic.messages if m.kind is Kind.PORTAL_PAYMENT)


def test_a_patients_payment_stored_while_an_era_is_worked_on_goes_between_its_parts(
    db_url: str, tmp_path: Path
) -> None:
    """A payer's ERA is seconds of work: a patient's payment stored after the ERA was claimed is
    processed between the ERA's remittances, not after the last of them."""
    rt, clock = _runtime(db_url, tmp_path)
    try:
        era_id = _receive(rt)
        (claimed,) = queue.claim(rt.db, owner="w", now=clock.now(), lease=LEASE, limit=10)
        assert claimed.size > SMALL_REMITTANCE_BYTES
        (received,) = rt.intake.receive(payment(), channel="test", format="portal")
        paid = received.accepted.message_id
        seen: list[tuple[str, str]] = []

        def snapshot(conn: Connection) -> None:  # before each commit, where the two messages stand
            rows = dict(conn.execute(select(messages.c.id, messages.c.status)).all())
            seen.append((str(rows[era_id]), str(rows[paid])))

        event.listen(rt.db.engine, "commit", snapshot)
        try:
            results = rt.worker(owner="w").process_batch([claimed])
        finally:
            event.remove(rt.db.engine, "commit", snapshot)
        assert {r.message_id for r in results} == {era_id, paid}
        paid_at = next(n for n, (_, status) in enumerate(seen) if status not in ("pending", "processing"))
        era_done_at = next(n for n, (status, _) in enumerate(seen) if status == "processed")
        assert 0 < paid_at < era_done_at  # after the first remittance, before the last
        assert seen[-1][1] in ("processed", "waiting")
    finally:
        rt.close()


def test_a_worker_losing_an_era_half_way_leaves_nothing_posted_twice(db_url: str, tmp_path: Path) -> None:
    reference, _ = _runtime(f"sqlite:///{tmp_path / 'reference.db'}", tmp_path / "reference")
    try:
        _receive(reference)
        reference.worker().drain()
        expected = _outcome(reference)
    finally:
        reference.close()
    rt, clock = _runtime(db_url, tmp_path)
    try:
        _receive(rt)
        takeover = _TakenOver(rt, clock)
        rt.staged = takeover
        (claimed,) = queue.claim(rt.db, owner="first", now=clock.now(), lease=LEASE, limit=1)
        assert rt.worker(owner="first").process_batch([claimed]) == []  # lost after part one
        (taken,) = takeover.taken
        with rt.db.reading() as conn:
            assert conn.execute(select(func.count()).select_from(journals)).scalar_one() == 1
        clock.advance(LEASE + timedelta(seconds=1))
        (result,) = rt.worker(owner="second").process_batch([taken])
        assert result.status == "processed"
        assert _outcome(rt) == expected
        assert len(expected["journals"]) == 6  # type: ignore[arg-type]
    finally:
        rt.close()


def _closed_mhn(rt: Runtime, config_dir: Path) -> None:
    """A configuration that makes a closed period a problem, and November closed for MHN: the
    remittances to MHN's three hospitals (the ERA's first three) are excepted, MHS's post."""
    shutil.copytree(reference_config_dir(), config_dir)
    posting = config_dir / "posting.yaml"
    posting.write_text(
        posting.read_text().replace("closed_period_policy: next_open_day", "closed_period_policy: problem")
    )
    now = rt.clock.now()
    configs.propose(
        rt.db,
        load_dir(config_dir),
        effective_from=now.date(),
        actor="test",
        note="closed periods are problems",
        source=str(config_dir),
        now=now,
        approve=True,
        anchor=None,
    )
    periods.set_status(rt.db, "MHN", "2026-11", PeriodStatus.CLOSED, actor="test", now=now, anchor=None)


def test_errors_of_parts_an_earlier_owner_committed_still_decide_the_status(
    db_url: str, tmp_path: Path
) -> None:
    reference, _ = _runtime(f"sqlite:///{tmp_path / 'reference.db'}", tmp_path / "reference")
    try:
        _closed_mhn(reference, tmp_path / "reference-config")
        _receive(reference)
        reference.worker().drain()
        expected = _outcome(reference)
    finally:
        reference.close()
    assert expected["statuses"] == ["excepted"]
    assert len(expected["journals"]) == 3  # type: ignore[arg-type]  # MHS's three
    rt, clock = _runtime(db_url, tmp_path)
    try:
        _closed_mhn(rt, tmp_path / "config")
        _receive(rt)
        takeover = _TakenOver(rt, clock, parts=3)  # lost once MHN's three (all excepted) are in
        rt.staged = takeover
        (claimed,) = queue.claim(rt.db, owner="first", now=clock.now(), lease=LEASE, limit=1)
        assert rt.worker(owner="first").process_batch([claimed]) == []
        (taken,) = takeover.taken
        clock.advance(LEASE + timedelta(seconds=1))
        (result,) = rt.worker(owner="second").process_batch([taken])
        assert result.status == "excepted"
        assert _outcome(rt) == expected
    finally:
        rt.close()
