"""The records horizon: whole months of messages and events dropped on PostgreSQL.

``retention.purge`` removes old raw payloads and keeps everything derived. Past the records horizon
(``records_retention_months``), a month's records go altogether: its ``messages`` and ``events``
partitions are detached and dropped, with the events recorded later from that month's messages
(a replay, a message processed after midnight on the last day) deleted first. What stays: the
dedupe keys (``message_keys``, ``event_keys``: an old message or event sent again is still a
duplicate), work items, the subledger, journals, the general ledger and the audit trail.

A month is dropped only when nothing still needs it, and the months go oldest first: the first
month refused stops the run, later months wait for it. Refused while the month has

- a message not in a terminal state (``non_terminal``);
- an open work item on one of its messages or events (``open_work_items``): the fix replays it;
- a subledger line of its events not yet in a posted journal (``unposted``);
- a journal from its events in a period not closed (``open_periods``): the lineage of a journal
  stays while its period can still change;
- locks it could not get within ``lock_timeout`` (``busy``; not in a dry run).

Each drop commits with its ``retention.drop_month`` audit entry. While the month is checked its
partitions are locked against writes only; the DETACH takes the partitioned tables' lock for a
moment (intake waits that long). ``lock_timeout`` (1 s) bounds every wait: a month whose locks
cannot be had is reported ``busy`` and tried at the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from revbridge.core.errors import InputError, StoreUnavailable
from revbridge.store import audit, partitions
from revbridge.store.database import Database, translated
from revbridge.store.queue import TERMINAL

REASONS = ("non_terminal", "open_work_items", "unposted", "open_periods", "busy")

_MONTH = "SELECT id FROM messages WHERE received_at >= :lo AND received_at < :hi"
_EVENTS = (
    "SELECT key FROM events WHERE (created_at >= :lo AND created_at < :hi) "
    f"OR (created_at >= :hi AND message_id IN ({_MONTH}))"
)
_TERMINAL = ", ".join(f"'{s}'" for s in TERMINAL)
_CHECKS = {
    "non_terminal": f"SELECT count(*) FROM messages WHERE received_at >= :lo AND received_at < :hi "
    f"AND status NOT IN ({_TERMINAL})",
    "open_work_items": "SELECT count(*) FROM work_items w WHERE w.status = 'open' "
    f"AND (w.message_id IN ({_MONTH}) OR w.event_key IN ({_EVENTS}))",
    "unposted": "SELECT count(*) FROM event_lines l LEFT JOIN journals j ON j.id = l.journal_id "
    f"WHERE l.event_key IN ({_EVENTS}) AND (j.id IS NULL OR j.status <> 'posted')",
    "open_periods": "SELECT count(DISTINCT j.id) FROM event_lines l JOIN journals j ON j.id = l.journal_id "
    f"WHERE l.event_key IN ({_EVENTS}) AND NOT EXISTS (SELECT 1 FROM periods p "
    "WHERE p.legal_entity = j.legal_entity AND p.period = to_char(j.posting_date, 'YYYY-MM') "
    "AND p.status = 'closed')",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Month:
    month: date
    messages: int
    events: int  # in the month's partition and recorded later from its messages
    blockers: dict[str, int] = field(default_factory=dict)  # reason -> count, only the non-zero ones
    dropped: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "month": f"{self.month:%Y-%m}",
            "messages": self.messages,
            "events": self.events,
            "blockers": dict(self.blockers),
            "dropped": self.dropped,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DropReport:
    horizon: date  # months before this one were considered
    months: tuple[Month, ...]  # oldest first; the last one may be the month that stopped the run

    @property
    def dropped(self) -> tuple[Month, ...]:
        return tuple(m for m in self.months if m.dropped)

    def as_json(self) -> dict[str, object]:
        return {
            "horizon": f"{self.horizon:%Y-%m}",
            "dropped": [f"{m.month:%Y-%m}" for m in self.dropped],
            "months": [m.as_json() for m in self.months],
        }


def horizon_for(now: datetime, months: int) -> date:
    """The first month kept when ``months`` whole months before ``now``'s are kept."""
    index = now.year * 12 + now.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _require_partitions(db: Database) -> None:
    if db.dialect != "postgresql":
        raise InputError(
            "dropping whole months needs PostgreSQL (monthly partitions); SQLite keeps every record"
        )
    with db.reading() as conn:
        if not partitions.is_partitioned(conn, "messages"):
            raise InputError("messages is not partitioned: run `revbridge db upgrade` first")


def _adopt_default(db: Database) -> None:
    """Move rows that landed in a default partition into their months (creating them)."""
    with db.transaction() as conn:
        partitions.lock(conn)
        for table, layout in partitions.LAYOUTS.items():
            found = conn.execute(
                text(
                    f"SELECT DISTINCT date_trunc('month', {layout.column} AT TIME ZONE 'UTC') "
                    f'FROM "{partitions.default_name(table)}"'
                )
            ).scalars()
            for month in sorted(found):
                partitions.create_month(conn, table, partitions.month_of(month))


def _candidates(conn: Connection, horizon: date) -> list[date]:
    months = set(partitions.existing_months(conn, "messages")) | set(
        partitions.existing_months(conn, "events")
    )
    return sorted(m for m in months if m < horizon)


def _inspect(conn: Connection, month: date) -> Month:
    lo, hi = partitions.bounds(month)
    params = {"lo": lo, "hi": hi}
    messages = conn.execute(text(f"SELECT count(*) FROM ({_MONTH}) m"), params).scalar_one()
    events = conn.execute(text(f"SELECT count(*) FROM ({_EVENTS}) e"), params).scalar_one()
    blockers = {}
    for reason, query in _CHECKS.items():
        found = int(conn.execute(text(query), params).scalar_one())
        if found:
            blockers[reason] = found
    return Month(month=month, messages=int(messages), events=int(events), blockers=blockers)


def inspect(db: Database, *, horizon: date) -> DropReport:
    """What ``drop_months`` would do (a dry run): every month before ``horizon`` with its counts
    and blockers, oldest first, up to and including the first month refused."""
    _require_partitions(db)
    found: list[Month] = []
    with db.reading() as conn:
        for month in _candidates(conn, horizon):
            found.append(_inspect(conn, month))
            if found[-1].blockers:
                break
    return DropReport(horizon=horizon, months=tuple(found))


def drop_months(db: Database, *, horizon: date, now: datetime, actor: str, anchor: Path | None) -> DropReport:
    """Drop every month before ``horizon`` that nothing still needs, oldest first, each with its
    audit entry; stop at the first month refused."""
    _require_partitions(db)
    _adopt_default(db)
    with db.reading() as conn:
        candidates = _candidates(conn, horizon)
    done: list[Month] = []
    for month in candidates:
        result = _drop(db, month, now=now, actor=actor, anchor=anchor)
        done.append(result)
        if not result.dropped:
            break
    partitions.forget(db.engine)
    return DropReport(horizon=horizon, months=tuple(done))


def _drop(db: Database, month: date, *, now: datetime, actor: str, anchor: Path | None) -> Month:
    names = [partitions.partition_name(t, month) for t in partitions.LAYOUTS]
    try:
        with translated(), db.engine.begin() as conn:
            # Every lock below waits 1 s at most: a DETACH queues intake behind it while it waits.
            conn.execute(text("SET LOCAL lock_timeout = '1s'"))
            partitions.lock(conn)
            present = [n for n in names if conn.execute(text("SELECT to_regclass(:n)"), {"n": n}).scalar()]
            # Writes to the month wait from here on (readers do not), so the checks see its final
            # state; only the DETACH itself takes the tables exclusively, for a moment.
            conn.execute(text(f"LOCK TABLE {', '.join(present)} IN SHARE MODE"))
            found = _inspect(conn, month)
            if found.blockers:
                return found
            _remove(conn, month, present)
            audit.append(
                conn,
                at=now,
                actor=actor,
                action="retention.drop_month",
                target=f"{month:%Y-%m}",
                details={"messages": str(found.messages), "events": str(found.events)},
                anchor=anchor,
            )
    except StoreUnavailable as exc:
        if not isinstance(exc.__cause__, OperationalError) or not _lock_timeout(exc.__cause__):
            raise
        return Month(month=month, messages=0, events=0, blockers={"busy": 1})
    return Month(month=month, messages=found.messages, events=found.events, dropped=True)


def _lock_timeout(exc: OperationalError) -> bool:
    """PostgreSQL's lock_not_available (SQLSTATE 55P03)."""
    return getattr(exc.orig, "sqlstate", None) == "55P03"


def _remove(conn: Connection, month: date, present: list[str]) -> None:
    lo, hi = partitions.bounds(month)
    conn.execute(
        text(f"DELETE FROM events WHERE created_at >= :hi AND message_id IN ({_MONTH})"), {"lo": lo, "hi": hi}
    )
    for name in present:
        table = name.rsplit("_p", 1)[0]
        conn.execute(text(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"'))
        conn.execute(text(f'DROP TABLE "{name}"'))
