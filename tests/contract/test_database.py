"""The store's handle and its smaller tables, on SQLite and PostgreSQL: a transaction commits or
rolls back whole, a savepoint undoes only its block, driver errors leave as the project's own
(a taken unique key is a StoreConflict, a server nobody answers at is StoreUnavailable), and the
configuration versions, API keys, batch-window rows, leases and open error codes behave the same
on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from revbridge.core.errors import InputError, StoreConflict, StoreError, StoreUnavailable
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.ledger import Dimensions, JournalDraft, JournalLine, Lane
from revbridge.ledger.role import AccountRole
from revbridge.masterdata import load
from revbridge.rules import close_window
from revbridge.security.roles import Role
from revbridge.store import Database, apikeys, configs, queue, subledger, windows, workitems
from revbridge.store.messages import Arrival, MessageStore
from revbridge.store.schema import api_keys, batch_windows, periods
from revbridge.workqueue import open_items

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONFIG_DIR = Path(__file__).resolve().parents[2] / "examples" / "config"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url, null_pool=True)
    try:
        yield database
    finally:
        database.close()


def _count(db: Database) -> int:
    with db.reading() as tx:
        return int(tx.execute(select(func.count()).select_from(periods)).scalar_one())


def _period(tx: object, name: str) -> None:
    tx.execute(  # type: ignore[attr-defined]
        periods.insert().values(legal_entity="MHN", period=name, status="open", changed_by="t", changed_at=T0)
    )


def test_a_transaction_commits_whole_or_not_at_all(db: Database) -> None:
    with db.transaction() as tx:
        _period(tx, "2026-01")

    def change_of_mind() -> None:
        with db.transaction() as tx:
            _period(tx, "2026-02")
            raise RuntimeError("the caller changed its mind")

    with pytest.raises(RuntimeError):
        change_of_mind()
    assert _count(db) == 1


def test_a_savepoint_undoes_its_block_and_the_transaction_goes_on(db: Database) -> None:
    with db.transaction() as tx:
        _period(tx, "2026-01")

        def two_more() -> None:
            with Database.savepoint(tx):
                _period(tx, "2026-02")
                _period(tx, "2026-01")  # the primary key is taken

        with pytest.raises(StoreConflict):
            two_more()
        _period(tx, "2026-03")
    with db.reading() as tx:
        names = sorted(p for (p,) in tx.execute(select(periods.c.period)))
    assert names == ["2026-01", "2026-03"]


def test_driver_errors_leave_as_the_projects_own(db: Database) -> None:
    with db.transaction() as tx:
        _period(tx, "2026-01")
    with pytest.raises(StoreConflict) as conflict, db.transaction() as tx:
        _period(tx, "2026-01")
    assert "IntegrityError" in str(conflict.value)
    assert "MHN" not in str(conflict.value)  # values are never quoted: they may be PHI
    with pytest.raises(StoreError), db.transaction() as tx:
        tx.execute(select(func.no_such_function()))


def test_a_database_nobody_answers_at_is_unavailable() -> None:
    gone = Database.open("postgresql+psycopg://postgres@127.0.0.1:1/none", null_pool=True)
    with pytest.raises(StoreUnavailable, match="database unreachable"):
        gone.check_reachable()
    with pytest.raises(StoreUnavailable), gone.reading():
        pass
    assert "127.0.0.1:1" in gone.url and gone.dialect == "postgresql"


def test_configuration_versions_need_a_second_person(db: Database) -> None:
    config, errors = load(CONFIG_DIR)
    assert config is not None, errors
    first = configs.propose(
        db,
        config,
        effective_from=date(2026, 1, 1),
        actor="ann",
        note="",
        source="x",
        now=T0,
        approve=True,
        anchor=None,
    )
    second = configs.propose(
        db,
        config,
        effective_from=date(2026, 3, 1),
        actor="ann",
        note="",
        source="x",
        now=T0,
        approve=False,
        anchor=None,
    )
    with pytest.raises(InputError, match="maker-checker"):
        configs.decide(db, second.version, approve=True, actor="ann", now=T0, reason="", anchor=None)
    with db.reading() as tx:
        assert configs.current_number(tx, date(2026, 3, 5)) == first.version
    configs.decide(db, second.version, approve=True, actor="bob", now=T0, reason="checked", anchor=None)
    with db.reading() as tx:
        assert configs.current_number(tx, date(2026, 2, 28)) == first.version
        assert configs.current_number(tx, date(2026, 3, 5)) == second.version
        assert configs.ConfigCache(db).current(tx, date(2026, 3, 5)) == (second.version, config)
    assert [v.status for v in configs.versions(db)] == ["approved", "approved"]
    assert configs.load_version(db, first.version) == config
    with pytest.raises(InputError, match="no configuration version 9"):
        configs.load_version(db, 9)


def test_api_keys_are_kept_as_hashes_and_refused_once_revoked(db: Database) -> None:
    key, token = apikeys.create(db, name="Epic ADT", roles=(Role.SYSTEM,), now=T0, actor="admin", anchor=None)
    assert apikeys.verify(db, token) == key
    assert apikeys.verify(db, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    with db.reading() as tx:
        (stored,) = tx.execute(select(api_keys.c.secret_hash)).scalars()
    assert token.rsplit("_", 1)[1] not in stored
    assert apikeys.revoke(db, key.id, now=T0) and not apikeys.revoke(db, key.id, now=T0)
    assert apikeys.verify(db, token) is None
    assert [k["name"] for k in apikeys.list_keys(db)] == ["Epic ADT"]


def _draft(key: str, day: date, amount: str, legal_entity: str = "MHN") -> JournalDraft:
    dims = Dimensions(legal_entity=legal_entity, facility="F1", payer_class="MEDICARE")
    made = [
        JournalLine.signed(
            account="1210",
            role=AccountRole.AR_PAYER,
            amount=Money.of(amount),
            dimensions=dims,
            event_keys=(key,),
        ),
        JournalLine.signed(
            account="4000",
            role=AccountRole.GROSS_REVENUE,
            amount=-Money.of(amount),
            dimensions=dims,
            event_keys=(key,),
        ),
    ]
    lines = tuple(line for line in made if line is not None)
    return JournalDraft(
        lane=Lane.BATCH,
        legal_entity=legal_entity,
        currency="USD",
        posting_date=day,
        source_document_key=key,
        lines=lines,
    )


def test_a_closed_window_gives_back_its_drafts_and_points_them_at_their_journal(db: Database) -> None:
    drafts = [
        _draft("c1", date(2026, 3, 1), "10.00"),
        _draft("c2", date(2026, 3, 1), "5.00"),
        _draft("c3", date(2026, 3, 2), "7.00"),
    ]
    with db.transaction() as tx:
        key = windows.join(tx, "MHN", now=T0)
        for n, draft in enumerate(drafts):
            subledger.insert_lines(
                tx, draft, journal_id=None, window=key, received_at=T0 + timedelta(seconds=n), now=T0
            )
    with db.transaction() as tx:
        # The window's lines are counted from its subledger rows, not kept on its row by joins.
        assert [(w.key, w.line_count) for w in windows.open_windows(tx)] == [(key, 6)]
        assert windows.lines_waiting(tx) == 6
        found, received = subledger.window_drafts(tx, key)
        assert sorted(d.source_document_key for d in found) == ["c1", "c2", "c3"]
        assert received == {
            ("MHN", date(2026, 3, 1)): T0,
            ("MHN", date(2026, 3, 2)): T0 + timedelta(seconds=2),
        }
        first, second = close_window(found, key)
        subledger.assign_window(tx, key, first)
        assert [(w.key, w.line_count) for w in windows.open_windows(tx)] == [(key, 2)]  # c3's lines
        assert windows.lines_waiting(tx) == 2
        windows.close(tx, key, now=T0, line_count=6)
    with db.transaction() as tx:
        left, _ = subledger.window_drafts(tx, key)
        assert windows.open_windows(tx) == []
        kept = tx.execute(select(batch_windows.c.line_count).where(batch_windows.c.key == key)).scalar_one()
    assert kept == 6  # what it closed with
    assert [d.source_document_key for d in left] == ["c3"]  # only the other day's draft is unjournaled
    assert second.posting_date == date(2026, 3, 2)


def test_a_lease_is_held_until_the_message_is_finished_or_taken_over(db: Database, tmp_path: Path) -> None:
    from revbridge.core.clock import FixedClock
    from revbridge.security.keys import load_keyring

    keyring, _ = load_keyring(
        key_file=tmp_path / "keys.json", keys_spec=None, active=None, token_key=None, create=True
    )
    store = MessageStore(db, keyring, FixedClock(T0))
    try:
        accepted = store.accept(Arrival(channel="t", format="lines", payload=b"ID A\n", dedupe_key="A"))
    finally:
        store.close()
    (claimed,) = queue.claim(db, owner="w1", now=T0, lease=timedelta(seconds=30), limit=5)
    with db.transaction() as tx:
        assert queue.holds_lease(tx, claimed.id, "w1") and not queue.holds_lease(tx, claimed.id, "w2")
    (taken,) = queue.claim(
        db, owner="w2", now=T0 + timedelta(seconds=31), lease=timedelta(seconds=30), limit=5
    )
    assert taken.id == accepted.message_id and taken.attempts == 2
    with db.transaction() as tx:
        assert not queue.finish(tx, taken.id, owner="w1", status=queue.PROCESSED, reason="", now=T0)
        assert queue.finish(tx, taken.id, owner="w2", status=queue.EXCEPTED, reason="X", now=T0)
        open_items(
            tx,
            [
                Problem(code=ProblemCode.UNMAPPED_PAYER, message="m", where=SourceRef(taken.id, "IN1[1]-3")),
                Problem(
                    code=ProblemCode.INVALID_DATE,
                    message="m",
                    where=SourceRef(taken.id, "PV1-44"),
                    severity=Severity.INFO,
                ),
            ],
            now=T0,
            message_id=taken.id,
        )
        assert workitems.open_error_codes(tx, taken.id) == {"UNMAPPED_PAYER"}
    assert queue.counts(db)["excepted"] == 1 and queue.pending_count(db) == 0
