"""Where the demo stores: a fresh SQLite file under its home, or an empty database ``--db`` names.

The demo compares what it stored with the generator's ground truth, so it needs a store holding
nothing else. Its own SQLite file is removed with its home at every run; a database named with
``--db`` (PostgreSQL: the production shape) is never emptied here, it is refused when it already
holds messages. Its schema is brought up to date by the demo itself (``build(upgrade=True)``):
the user asked for a demo, not for a maintenance step.
"""

from __future__ import annotations

from pathlib import Path

from revbridge.core.errors import InputError
from revbridge.store import Database, migrate, queue


def url_for(home: Path, db: str | None) -> str:
    return db or f"sqlite:///{home / 'revbridge.db'}"


def check_empty(url: str) -> None:
    """Refuse a database that holds messages already (reachable or not, a one-line error)."""
    db = Database.open(url, null_pool=True)
    try:
        db.check_reachable()
        if migrate.current(db) is None:
            return  # no revbridge schema yet: fresh
        held = sum(queue.counts(db).values())
        shown = db.url
    finally:
        db.close()
    if held:
        raise InputError(
            f"the demo needs an empty database and {shown} holds {held:,} messages: "
            "name a new one with --db (PostgreSQL: createdb), or drop and create this one"
        )
