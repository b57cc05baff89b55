"""The SFTP sources' record of taken files, on both backends: a file is remembered once by name,
size and mtime (a re-download after a crash adds nothing), and status counts by outcome."""

from __future__ import annotations

from datetime import UTC, datetime

from revbridge.store import Database, sftp_seen
from revbridge.store.sftp_seen import Taken


def test_a_file_is_remembered_once_by_name_size_and_mtime(db_url: str) -> None:
    db = Database.open(db_url, null_pool=True)
    try:
        first = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        later = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
        sftp_seen.remember(db, "ch", Taken("era.835", 1027, 1765000000, "a" * 64, "stored"), first)
        sftp_seen.remember(db, "ch", Taken("era.835", 1027, 1765000000, "a" * 64, "duplicate"), later)
        sftp_seen.remember(db, "ch", Taken("era.835", 1100, 1765000600, "b" * 64, "stored"), later)
        sftp_seen.remember(db, "ch", Taken("empty.835", 0, 1765000000, "c" * 64, "refused"), first)
        sftp_seen.remember(db, "payer", Taken("era.835", 1027, 1765000000, "a" * 64, "stored"), first)
        assert sftp_seen.seen(db, "ch") == {
            ("era.835", 1027, 1765000000),
            ("era.835", 1100, 1765000600),
            ("empty.835", 0, 1765000000),
        }
        assert sftp_seen.seen(db, "nobody") == set()
        summary = sftp_seen.summary(db)
        assert summary["ch"] == {"taken": {"stored": 2, "refused": 1}, "last_taken_at": later.isoformat()}
        assert summary["payer"] == {"taken": {"stored": 1}, "last_taken_at": first.isoformat()}
    finally:
        db.close()
