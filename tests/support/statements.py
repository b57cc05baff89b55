"""Count what an engine sends to its database: statements (one per ``cursor.execute`` or
``executemany``), and the transactions' BEGIN/COMMIT/ROLLBACK and savepoints. On PostgreSQL each
of them is one round trip that waits for the server, which is what the worker's throughput there
depends on; counts, unlike timings, do not move with the machine's load.

Used by bench/worker_path.py and the regression test on the worker's statements per message;
production code never listens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event


@dataclass
class Counts:
    statements: int = 0
    commits: int = 0
    rollbacks: int = 0
    savepoints: int = 0
    by_verb: Counter[str] = field(default_factory=Counter)

    @property
    def round_trips(self) -> int:
        """Statements (but a BEGIN sent as one, as on SQLite), plus BEGIN and COMMIT/ROLLBACK per
        transaction, plus SAVEPOINT and its RELEASE: what a PostgreSQL client waits for."""
        statements = self.statements - self.by_verb["BEGIN"]
        return statements + 2 * (self.commits + self.rollbacks) + 2 * self.savepoints


@contextmanager
def counting(engine: Engine) -> Iterator[Counts]:
    """Count what ``engine`` sends while the block runs (every thread of this process)."""
    counts = Counts()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counts.statements += 1
        words = statement.split(None, 2)
        verb = words[0].upper() if words else "?"
        if verb in ("UPDATE", "INSERT", "DELETE", "SELECT") and len(words) > 1:
            verb = f"{verb} {_table(statement)}"
        counts.by_verb[verb] += 1

    def on_commit(_conn: Any) -> None:
        counts.commits += 1

    def on_rollback(_conn: Any) -> None:
        counts.rollbacks += 1

    def on_savepoint(_conn: Any, _name: Any) -> None:
        counts.savepoints += 1

    listeners = (
        ("before_cursor_execute", on_execute),
        ("commit", on_commit),
        ("rollback", on_rollback),
        ("savepoint", on_savepoint),
    )
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        yield counts
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)


def _table(statement: str) -> str:
    """The table an INSERT/UPDATE/DELETE names (the word after INTO, UPDATE or FROM)."""
    words = statement.replace("(", " ").split()
    for i, word in enumerate(words[:-1]):
        if word.upper() in ("INTO", "UPDATE", "FROM"):
            return words[i + 1].strip('"')
    return "?"
