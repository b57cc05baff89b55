"""`revbridge purge` drops the rows that would otherwise grow for ever (store/pruning.py), on
SQLite and PostgreSQL: sent announcements and settled journals' SAP confirmations past retention,
SFTP files taken more than sftp_seen_days ago; unsent announcements, confirmations of journals
still in flight (or of no journal revbridge knows) and recently taken files stay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from test_journals_store import _journal
from test_retention import build_runtime, cli
from test_sap_confirmations_store import _confirmation

from revbridge.bootstrap import Runtime
from revbridge.store import announcements, sap_confirmations, sftp_seen
from revbridge.store import journals as journal_store
from revbridge.store.schema import event_outbox, journals
from revbridge.store.schema import sap_confirmations as confirmations_table
from revbridge.store.schema import sftp_seen as sftp_seen_table

LEASE = timedelta(seconds=60)


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(db_url, tmp_path)
    yield runtime
    runtime.close()


def _announce(rt: Runtime) -> dict[str, str]:
    """Four announcements made 40 days ago: one sent then, one sent now, two never sent (one of
    them failing); returns their subjects by what happened to them."""
    now = rt.clock.now()
    then = now - timedelta(days=40)
    subjects = {"sent_old": "a1", "sent_recent": "a2", "unsent": "a3", "failing": "a4"}
    with rt.db.transaction() as tx:
        for subject in subjects.values():
            announcements.record(tx, kind=announcements.JOURNAL_POSTED, subject=subject, data={}, now=then)
    first = announcements.claim(rt.db, owner="t", now=then, lease=LEASE, limit=1)
    announcements.mark_sent(rt.db, [p.seq for p in first], owner="t", now=then)
    second = announcements.claim(rt.db, owner="t", now=now, lease=LEASE, limit=1)
    announcements.mark_sent(rt.db, [p.seq for p in second], owner="t", now=now)
    third, fourth = announcements.claim(rt.db, owner="t", now=now, lease=LEASE, limit=2)
    announcements.retry_later(rt.db, third, owner="t", at=now, error="none")
    with rt.db.transaction() as tx:  # the third was never tried: back to pending, untouched
        tx.execute(update(event_outbox).where(event_outbox.c.seq == third.seq).values(attempts=0))
    announcements.retry_later(rt.db, fourth, owner="t", at=now, error="ConnectError")
    return subjects


def _confirm(rt: Runtime) -> dict[str, tuple[str, str]]:
    """SAP confirmations: old ones of a posted, a failed and a staged journal and of an unknown
    id, and a recent one of the posted journal; (message id, request id) by what they are."""
    now = rt.clock.now()
    posted, failed, staged = (_journal(n) for n in (1, 2, 3))
    with rt.db.transaction() as tx:
        for journal in (posted, failed, staged):
            journal_store.stage_journal(tx, journal, connector="sap", first_received_at=now, now=now)
        for journal, status in ((posted, "posted"), (failed, "failed")):
            tx.execute(update(journals).where(journals.c.id == journal.id).values(status=status))
    found = {
        "posted_old": (posted.id, "R1"),
        "failed_old": (failed.id, "R2"),
        "staged_old": (staged.id, "R3"),
        "unknown_old": ("f" * 32, "R4"),
        "posted_recent": (posted.id, "R5"),
    }
    for name, (message_id, request_id) in found.items():
        sap_confirmations.record(
            rt.db,
            [_confirmation(request_id, message_id=message_id)],
            now=now if name.endswith("recent") else now - timedelta(days=40),
        )
    return found


def _take_files(rt: Runtime) -> None:
    now = rt.clock.now()
    for name, days in (("old.835", 100), ("kept.835", 40)):
        taken = sftp_seen.Taken(name, 10, 1_700_000_000, "ab" * 32, "stored")
        sftp_seen.remember(rt.db, "clearinghouse", taken, now - timedelta(days=days))


def _left(rt: Runtime) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    with rt.db.reading() as tx:
        return (
            set(tx.execute(select(event_outbox.c.subject)).scalars()),
            {
                (r[0], r[1])
                for r in tx.execute(
                    select(confirmations_table.c.message_id, confirmations_table.c.request_id)
                )
            },
            set(tx.execute(select(sftp_seen_table.c.name)).scalars()),
        )


# A site that sends its events: unsent announcements are owed to the sink whatever their age.
SINK = {
    "REVBRIDGE_EVENTS_SINK": "webhook",
    "REVBRIDGE_EVENTS_URL": "https://events.example.test/revbridge",
    "REVBRIDGE_EVENTS_SECRET": "not-a-real-secret-0123456789",
}


def test_purge_drops_the_rows_past_retention_and_keeps_what_is_still_owed(
    rt: Runtime, db_url: str, tmp_path: Path
) -> None:
    subjects = _announce(rt)
    confirmations = _confirm(rt)
    _take_files(rt)
    before = _left(rt)
    dry = cli(tmp_path, db_url, "purge", "--older-than", "30", "--dry-run", "--json", **SINK)
    assert dry.returncode == 0, dry.stderr
    one_each = {"announcements_sent": 1, "announcements_unsent": 0, "sap_confirmations": 2, "sftp_seen": 1}
    assert json.loads(dry.stdout)["rows"]["would_drop"] == one_each
    assert _left(rt) == before  # a dry run drops nothing

    done = cli(tmp_path, db_url, "purge", "--json", REVBRIDGE_RETENTION_DAYS="30", **SINK)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"]["dropped"] == one_each
    sent, confirmed, files = _left(rt)
    assert sent == {subjects["sent_recent"], subjects["unsent"], subjects["failing"]}
    assert confirmed == {confirmations[k] for k in ("staged_old", "unknown_old", "posted_recent")}
    assert files == {"kept.835"}  # 40 days: within the default sftp_seen_days of 90

    shorter = cli(tmp_path, db_url, "purge", "--older-than", "30", REVBRIDGE_SFTP_SEEN_DAYS="30", **SINK)
    assert shorter.returncode == 0, shorter.stderr
    assert "0 sent announcements, 0 unsent ones (no events sink) and 0 SAP confirmations" in shorter.stdout
    assert "1 SFTP files taken before" in shorter.stdout
    assert _left(rt)[2] == set()
    assert json.loads(cli(tmp_path, db_url, "audit", "verify", "--json").stdout)["intact"] is True


def test_with_no_events_sink_old_unsent_announcements_go_too(
    rt: Runtime, db_url: str, tmp_path: Path
) -> None:
    """``events_sink: none``: nothing is owed, so an announcement never sent goes at the same age
    as a sent one; a recent one stays for a sink configured later."""
    subjects = _announce(rt)
    with rt.db.transaction() as tx:
        announcements.record(
            tx, kind=announcements.JOURNAL_POSTED, subject="recent", data={}, now=rt.clock.now()
        )
    done = cli(tmp_path, db_url, "purge", "--older-than", "30", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"]["dropped"]["announcements_unsent"] == 2
    assert _left(rt)[0] == {subjects["sent_recent"], "recent"}
